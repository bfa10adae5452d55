"""The convolution exponential `exp(M) x` as plain tensor functions.

`M` is a size-preserving stride-1 convolution. `exp(M) x = sum_k M^k x / k!`
is evaluated implicitly (no matrix is formed) by a truncated power series,
`exp(-M)` is its exact inverse, and `log|det exp(M)| = trace(M)`, which is
`H * W * trace(centre tap)`. Reference: Hoogeboom, Garcia Satorras, Tomczak
and Welling, "The Convolution Exponential and Generalized Sylvester Flows",
NeurIPS 2020.
"""

import math

import tensorflow as tf

from tfp_convexp.ops import conv as conv_lib
from tfp_convexp.ops import operator_norm
from tfp_convexp.ops.eager import graph_when_eager
from tfp_convexp.ops.expm import expm

__all__ = [
    'conv_exp',
    'inverse_conv_exp',
    'conv_exp_fourier',
    'inverse_conv_exp_fourier',
    'conv_exp_log_det',
]


def _series(x, kernel, terms, padding):
  """`sum_{k<=terms} M^k x / k!`, one convolution per term."""
  result = term = x
  for k in range(1, terms + 1):
    # Each convolution waits for the previous sum, so a graph executor cannot
    # run the convolutions ahead and hold all T terms waiting to be added.
    # (XLA ignores the ordering and fuses the sums, which is why this beats
    # Horner's form there.) Scaling the small kernel saves an activation pass.
    with tf.control_dependencies([result]):
      term = conv_lib.conv2d(term, kernel / k, padding)
    result = result + term
  return result


def _series_vjp(x, kernel, cotangent, terms, padding):
  """Cotangents of `(x, kernel)` for `_series`, holding O(sqrt(T)) images.

  With `u_a = M^a x / a!` and `w_a = (g + M^T w_{a+1}) / (a + 1)`,
  `w_{T-1} = g / T`, the exact derivative of the truncated series is
  `dK = sum_{a<T} F(u_a, w_a)` (F: the kernel gradient of one convolution)
  and `dx = g + M^T w_0 = sum_k (M^T)^k g / k!`. The `u_a` are needed in
  descending order, the opposite of how they are produced, so they are
  recomputed from checkpoints every `ceil(sqrt(T))` terms.
  """
  if terms == 0:
    return cotangent, tf.zeros_like(kernel)
  kernel_t = conv_lib.adjoint_kernel(kernel)
  every = math.isqrt(terms - 1) + 1  # ceil(sqrt(T))
  starts = list(range(0, terms, every))
  checkpoints = {0: x}
  term = x
  # Gated on the cotangent so that a graph executor cannot run the
  # recomputation alongside the forward pass and hold its checkpoints early.
  with tf.control_dependencies([cotangent]):
    for a in range(1, starts[-1] + 1):
      term = conv_lib.conv2d(term, kernel / a, padding)
      if a in starts:
        checkpoints[a] = term
  del term
  kernel_grad = tf.zeros_like(kernel)
  w = None
  for start in reversed(starts):
    block = [checkpoints.pop(start)]
    stop = min(start + every, terms)
    # In a graph nothing else orders the recomputation after the previous
    # block, and a greedy executor would rebuild every block at once.
    with tf.control_dependencies([] if w is None else [w]):
      for a in range(start + 1, stop):
        block.append(conv_lib.conv2d(block[-1], kernel / a, padding))
    for a in range(stop - 1, start - 1, -1):
      if w is None:
        w = cotangent / (a + 1)
      else:
        # Waiting for the previous kernel-gradient term lets its two inputs
        # be freed before the next pair is made.
        with tf.control_dependencies([kernel_grad]):
          w = cotangent / (a + 1) + conv_lib.conv2d(w, kernel_t / (a + 1),
                                                    padding)
      kernel_grad += conv_lib.conv2d_kernel_grad(block.pop(), w, kernel,
                                                 padding)
  x_grad = cotangent + conv_lib.conv2d(w, kernel_t, padding)
  return x_grad, kernel_grad


def _check_terms(terms, max_terms):
  """`max_terms` if `terms` is a tensor (the branches to build), else None."""
  def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
      raise ValueError(
          f'`{name}` must be a non-negative Python int; got {value!r}.')
  if not tf.is_tensor(terms):
    _count(terms, 'terms')
    return None
  if not terms.dtype.is_integer or terms.shape.rank not in (None, 0):
    raise ValueError(f'`terms` as a tensor must be an integer scalar; got '
                     f'{terms.dtype.name} of shape {terms.shape}.')
  if max_terms is None:
    raise ValueError('`terms` given as a tensor needs `max_terms`, the most '
                     'terms it may take (one branch is built per length).')
  _count(max_terms, 'max_terms')
  return max_terms


def branch_lengths(max_terms):
  """The series lengths a tensor `terms` runs: `max_terms` and about 3/4,
  1/2 and 1/3 of it. Each length is a branch of the graph to trace and
  compile (one per length 0..9 made a layer's step trace five times
  longer); a count between two lengths runs the longer one."""
  return sorted({max_terms, *(-(-max_terms * k // 12) for k in (4, 6, 9))})


def _switch(terms, max_terms, fn):
  """`fn(terms)` for a static Python int; for an int tensor `terms`, `fn`
  of the shortest of `branch_lengths(max_terms)` that is at least
  `terms`."""
  if max_terms is None:
    return fn(terms)
  return tf.switch_case(_branch(terms, max_terms),
                        [lambda t=t: fn(t) for t in branch_lengths(max_terms)])


def _branch(terms, max_terms):
  lengths = branch_lengths(max_terms)
  return tf.reduce_sum(tf.cast(
      tf.cast(terms, tf.int32) > tf.constant(lengths[:-1], tf.int32),
      tf.int32))


def series_length(terms, max_terms):
  """The number of terms `conv_exp(..., terms, max_terms=max_terms)` runs
  for an int tensor `terms` (an int32 tensor): the shortest of
  `branch_lengths(max_terms)` that is at least `terms`."""
  return tf.gather(tf.constant(branch_lengths(max_terms), tf.int32),
                   _branch(terms, max_terms))


def _check_padding(padding):
  if padding not in conv_lib.PADDINGS:
    raise ValueError(
        f'`padding` must be one of {conv_lib.PADDINGS}; got {padding!r}.')


def conv_exp(x, kernel, terms, padding='SAME', recompute_gradient=True,
             name=None, max_terms=None):
  """`exp(M) x`, truncated after `M^terms x / terms!`.

  Args:
    x: `[B, H, W, C]` float tensor.
    kernel: `[k_h, k_w, C, C]` tensor of the same dtype, odd spatial sizes.
    terms: Python int `T`, the series' number of convolutions; or a scalar
      int tensor (e.g. `exp_series_terms_for` of the kernel's certified
      norm), with `max_terms`: the graph then holds one branch per length
      `0..max_terms` (`tf.switch_case`, XLA-compilable) and runs one.
    padding: `'SAME'` (zeros) or `'CIRCULAR'`.
    recompute_gradient: if True (default) the gradient is computed by a custom
      rule that stores only `x` and recomputes the series terms, instead of
      autodiff keeping all `T` intermediate images alive until the backward
      pass. Both give the exact derivative of the truncated series.
    name: optional name scope.
    max_terms: Python int, the largest value a tensor `terms` may take.

  Returns:
    `[B, H, W, C]` tensor.
  """
  max_terms = _check_terms(terms, max_terms)
  _check_padding(padding)
  with tf.name_scope(name or 'conv_exp'):
    x = tf.convert_to_tensor(x)
    kernel = tf.convert_to_tensor(kernel, dtype=x.dtype)
    return _conv_exp_impl(x, kernel, terms, padding, recompute_gradient, 1.,
                          tuple(kernel.shape[:2]), max_terms)


# Eagerly, 2T small ops would each pay Python dispatch; as one graph they do
# not (benchmarks/results/implementation_choices.md).
@graph_when_eager(reduce_retracing=True)
def _conv_exp_impl(x, kernel, terms, padding, recompute_gradient, sign,
                   kernel_size, max_terms):
  """The series for `sign * kernel`; `sign`, `kernel_size` and `max_terms`
  are static."""
  # reduce_retracing may have relaxed the kernel's static shape; padding
  # needs its spatial size.
  kernel = tf.ensure_shape(kernel, [*kernel_size, None, None])
  if sign != 1.:
    kernel = sign * kernel
  if not recompute_gradient:
    return _switch(terms, max_terms,
                   lambda t: _series(x, kernel, t, padding))

  @tf.custom_gradient
  def _conv_exp(x, kernel):
    def grad(cotangent):
      # The same length as the forward pass: the exact derivative of the
      # truncated series that ran.
      return _switch(terms, max_terms, lambda t: _series_vjp(
          x, kernel, cotangent, t, padding))
    # In eager mode an active tape would otherwise record (and keep alive)
    # every term of the series, although the custom rule never uses them.
    x_, kernel_ = tf.stop_gradient(x), tf.stop_gradient(kernel)
    series = _switch(terms, max_terms,
                     lambda t: _series(x_, kernel_, t, padding))
    return series, grad

  return _conv_exp(x, kernel)


def inverse_conv_exp(y, kernel, terms, padding='SAME', recompute_gradient=True,
                     name=None, max_terms=None):
  """`exp(-M) y`: the inverse of `conv_exp`, the same series with `-kernel`."""
  max_terms = _check_terms(terms, max_terms)
  _check_padding(padding)
  with tf.name_scope(name or 'inverse_conv_exp'):
    y = tf.convert_to_tensor(y)
    kernel = tf.convert_to_tensor(kernel, dtype=y.dtype)
    return _conv_exp_impl(y, kernel, terms, padding, recompute_gradient, -1.,
                          tuple(kernel.shape[:2]), max_terms)


def conv_exp_fourier(x, kernel, name=None):
  """Exact `exp(M) x` for a circular convolution, in the Fourier domain.

  The circular convolution is block-diagonal in the 2-D DFT, so `exp(M)` is
  the matrix exponential of each `C x C` frequency block: no truncation.

  Args:
    x: `[B, H, W, C]` float tensor.
    kernel: `[k_h, k_w, C, C]` tensor, odd spatial sizes.
    name: optional name scope.

  Returns:
    `[B, H, W, C]` tensor.
  """
  with tf.name_scope(name or 'conv_exp_fourier'):
    x = tf.convert_to_tensor(x)
    kernel = tf.convert_to_tensor(kernel, dtype=x.dtype)
    h, w = int(x.shape[1]), int(x.shape[2])
    blocks = expm(operator_norm.conv_symbol(kernel, (h, w)))
    spectrum = tf.signal.rfft2d(tf.transpose(x, [0, 3, 1, 2]))
    spectrum = tf.einsum('uvoi,biuv->bouv', blocks, spectrum)
    y = tf.signal.irfft2d(spectrum, fft_length=[h, w])
    return tf.transpose(y, [0, 2, 3, 1])


def inverse_conv_exp_fourier(y, kernel, name=None):
  """Exact `exp(-M) y` for a circular convolution, in the Fourier domain."""
  with tf.name_scope(name or 'inverse_conv_exp_fourier'):
    return conv_exp_fourier(y, -tf.convert_to_tensor(kernel))


def conv_exp_log_det(kernel, spatial_shape):
  """`log|det exp(M)| = trace(M) = H * W * trace(centre tap)`.

  Exact for zero padding, and for circular padding when no two taps wrap onto
  the same pixel (kernel no larger than the image).
  """
  kernel = tf.convert_to_tensor(kernel)
  centre = kernel[(int(kernel.shape[0]) - 1) // 2, (int(kernel.shape[1]) - 1) // 2]
  h, w = spatial_shape
  return tf.cast(int(h) * int(w), kernel.dtype) * tf.linalg.trace(centre)
