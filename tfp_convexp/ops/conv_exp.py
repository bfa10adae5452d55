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
from tfp_convexp.ops import series as series_lib
from tfp_convexp.ops.eager import graph_when_eager
from tfp_convexp.ops.expm import expm
from tfp_convexp.ops.xla import tracing_for_xla

__all__ = [
    'conv_exp',
    'conv_exp_and_terms',
    'inverse_conv_exp',
    'inverse_conv_exp_and_terms',
    'conv_exp_fourier',
    'inverse_conv_exp_fourier',
    'conv_exp_matrix',
    'inverse_conv_exp_matrix',
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


def _check_terms(terms):
  if isinstance(terms, bool) or not isinstance(terms, int) or terms < 0:
    raise ValueError(
        f'`terms` must be a non-negative Python int; got {terms!r}.')


def _check_stop(norm_bound, tolerance):
  if tolerance is None:
    return None
  if not 0 < tolerance < 1:
    raise ValueError(f'`tolerance` must lie in (0, 1); got {tolerance!r}.')
  if norm_bound is None or not norm_bound > 0:
    raise ValueError(f'`tolerance` needs `norm_bound` > 0, a bound on the '
                     f'kernel\'s operator norm; got {norm_bound!r}.')
  return float(norm_bound), float(tolerance)


def _check_padding(padding):
  if padding not in conv_lib.PADDINGS:
    raise ValueError(
        f'`padding` must be one of {conv_lib.PADDINGS}; got {padding!r}.')


def conv_exp(x, kernel, terms, padding='SAME', recompute_gradient=True,
             name=None, norm_bound=None, tolerance=None):
  """`exp(M) x`, truncated after `M^terms x / terms!`, or earlier.

  Args:
    x: `[B, H, W, C]` float tensor.
    kernel: `[k_h, k_w, C, C]` tensor of the same dtype, odd spatial sizes.
    terms: static Python int `T`; the series has `T` convolutions (at most
      `T` with `tolerance`).
    padding: `'SAME'` (zeros) or `'CIRCULAR'`.
    recompute_gradient: if True (default) the gradient is computed by a custom
      rule that stores only `x` and recomputes the series terms, instead of
      autodiff keeping all intermediate images alive until the backward
      pass. Both give the exact derivative of the series of `T` terms, whose
      error against exp(M)'s is certified for every cotangent.
    name: optional name scope.
    norm_bound: Python float, a bound on `||M||_2` the kernel is known to
      meet; needed with `tolerance`.
    tolerance: optional Python float. If given, the series stops after the
      first term at which its certified remainder (from that term's norm and
      `norm_bound`) is at most `tolerance * ||x||` for every example, and
      after `T` terms in any case: a `tf.while_loop` instead of `T`
      unrolled convolutions. Only the value stops early: the gradient stays
      that of `T` terms. Ignored under XLA and without
      `recompute_gradient`.

  Returns:
    `[B, H, W, C]` tensor.
  """
  return conv_exp_and_terms(x, kernel, terms, padding, recompute_gradient,
                            name, norm_bound, tolerance)[0]


def conv_exp_and_terms(x, kernel, terms, padding='SAME',
                       recompute_gradient=True, name=None, norm_bound=None,
                       tolerance=None):
  """`(conv_exp(x, kernel, terms, ...), number of terms it ran)`: an int32
  scalar tensor, `terms` itself without `tolerance`."""
  _check_terms(terms)
  _check_padding(padding)
  stop = _check_stop(norm_bound, tolerance)
  with tf.name_scope(name or 'conv_exp'):
    x = tf.convert_to_tensor(x)
    kernel = tf.convert_to_tensor(kernel, dtype=x.dtype)
    return _conv_exp_impl(x, kernel, terms, padding, recompute_gradient, 1.,
                          tuple(kernel.shape[:2]), stop)


# Eagerly, 2T small ops would each pay Python dispatch; as one graph they do
# not (benchmarks/results/implementation_choices.md).
@graph_when_eager(reduce_retracing=True)
def _conv_exp_impl(x, kernel, terms, padding, recompute_gradient, sign,
                   kernel_size, stop):
  """`(series for sign * kernel, terms run)`; every argument but `x` and
  `kernel` is static, `stop` a `(norm_bound, tolerance)` pair or None."""
  # reduce_retracing may have relaxed the kernel's static shape; padding
  # needs its spatial size.
  kernel = tf.ensure_shape(kernel, [*kernel_size, None, None])
  if sign != 1.:
    kernel = sign * kernel
  if stop is not None and (tracing_for_xla() or not recompute_gradient):
    # Under XLA:CPU the loop with the gradient took 0.97 to 1.22x the time
    # of 9 unrolled terms (benchmarks/results/convexp_terms.md), so under
    # XLA every call runs the certified maximum. Autodiff would
    # differentiate the series that ran (see `grad`).
    stop = None

  def forward(x, kernel):
    if stop is None:
      return _series(x, kernel, terms, padding), tf.constant(terms)
    return series_lib.exp_series_until_certified(
        lambda term, k: conv_lib.conv2d(term, kernel / tf.cast(k, x.dtype),
                                        padding),
        x, terms, *stop, event_ndims=3)

  if not recompute_gradient:
    return forward(x, kernel)

  @tf.custom_gradient
  def _conv_exp(x, kernel):
    # In eager mode an active tape would otherwise record (and keep alive)
    # every term of the series, although the custom rule never uses them.
    series, ran = forward(tf.stop_gradient(x), tf.stop_gradient(kernel))

    def grad(cotangent, unused_ran_cotangent=None):
      # Always the full series' derivative: a stop certifies the value at
      # this `x` only, while the derivative is the truncated operator's,
      # certified only at the full length (a zero `x` stops at 0 terms,
      # whose derivative is the identity, not exp(M)^T).
      return _series_vjp(x, kernel, cotangent, terms, padding)
    return (series, ran), grad

  return _conv_exp(x, kernel)


def inverse_conv_exp(y, kernel, terms, padding='SAME', recompute_gradient=True,
                     name=None, norm_bound=None, tolerance=None):
  """`exp(-M) y`: the inverse of `conv_exp`, the same series with `-kernel`."""
  return inverse_conv_exp_and_terms(y, kernel, terms, padding,
                                    recompute_gradient, name, norm_bound,
                                    tolerance)[0]


def inverse_conv_exp_and_terms(y, kernel, terms, padding='SAME',
                               recompute_gradient=True, name=None,
                               norm_bound=None, tolerance=None):
  """`conv_exp_and_terms` for the inverse."""
  _check_terms(terms)
  _check_padding(padding)
  stop = _check_stop(norm_bound, tolerance)
  with tf.name_scope(name or 'inverse_conv_exp'):
    y = tf.convert_to_tensor(y)
    kernel = tf.convert_to_tensor(kernel, dtype=y.dtype)
    return _conv_exp_impl(y, kernel, terms, padding, recompute_gradient, -1.,
                          tuple(kernel.shape[:2]), stop)


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


def conv_exp_matrix(x, kernel, terms, padding='SAME', name=None):
  """The truncated series `sum_{k<=terms} M^k x / k!` through its matrix.

  The same operator as `conv_exp(x, kernel, terms, padding)`, so the same
  certificate holds, but formed once per call as a dense `D x D` matrix
  (`D = H W C`, Paterson-Stockmeyer: 5 products for 9 terms) and applied to
  the whole batch in one product, with plain autodiff for the gradient.
  For small images this replaces `4 T` tiny convolutions (forward,
  recomputation, input and kernel gradients) by a few small dense products;
  the cost grows as `D^3`, so large images keep the series
  (benchmarks/results/convexp_terms.md).

  Args:
    x: `[B, H, W, C]` float tensor.
    kernel: `[k_h, k_w, C, C]` tensor of the same dtype, odd spatial sizes.
    terms: static Python int `T`, the highest power kept.
    padding: `'SAME'` (zeros) or `'CIRCULAR'`.
    name: optional name scope.

  Returns:
    `[B, H, W, C]` tensor.
  """
  _check_terms(terms)
  _check_padding(padding)
  with tf.name_scope(name or 'conv_exp_matrix'):
    x = tf.convert_to_tensor(x)
    kernel = tf.convert_to_tensor(kernel, dtype=x.dtype)
    if x.shape.rank is None or not x.shape[-3:].is_fully_defined():
      raise ValueError(f'conv_exp_matrix: the matrix form needs a static '
                       f'image shape [..., H, W, C]; got {x.shape}.')
    shape = x.shape[-3:].as_list()
    series = series_lib.exp_series_matrix(
        conv_lib.conv_matrix(kernel, shape[:2], padding), terms)
    flat = tf.matmul(tf.reshape(x, [-1, math.prod(shape)]), series)
    return tf.reshape(flat, tf.shape(x))


def inverse_conv_exp_matrix(y, kernel, terms, padding='SAME', name=None):
  """`conv_exp_matrix` for the inverse `exp(-M) y`."""
  with tf.name_scope(name or 'inverse_conv_exp_matrix'):
    return conv_exp_matrix(y, -tf.convert_to_tensor(kernel), terms, padding)


def conv_exp_log_det(kernel, spatial_shape):
  """`log|det exp(M)| = trace(M) = H * W * trace(centre tap)`.

  Exact for zero padding, and for circular padding when no two taps wrap onto
  the same pixel (kernel no larger than the image).
  """
  kernel = tf.convert_to_tensor(kernel)
  centre = kernel[(int(kernel.shape[0]) - 1) // 2, (int(kernel.shape[1]) - 1) // 2]
  h, w = spatial_shape
  return tf.cast(int(h) * int(w), kernel.dtype) * tf.linalg.trace(centre)
