"""The convolution exponential bijector."""

import contextlib

import numpy as np
import tensorflow as tf

from tfp_convexp.bijectors.internal import arguments
from tfp_convexp.bijectors.internal import base
from tfp_convexp import ops
from tfp_convexp.bijectors.internal import image_events

__all__ = ['ConvolutionExponential', 'recording_terms']

_METHODS = ('series', 'fourier', 'matrix')
# The largest H * W * C for which `method=None` forms the series' matrix: at
# batch 64 it beat the convolutions up to 256 and lost from 384 on
# (benchmarks/results/convexp_terms.md).
MATRIX_MAX_SIZE = 256
# The largest H * W * C for which the series' gradient is plain autodiff
# through the stored terms by default: in graph mode, at batch 64, forward
# and gradient took 0.59 to 0.73x the time of the stopping series with the
# recomputing rule from 32 to 3072 values, and the same under XLA
# (benchmarks/results/convexp_terms.md). The limit is a memory choice: the
# 9 stored terms take 9 MiB per layer at batch 64 there; above it the
# rule's saving is kept.
STORED_TERMS_MAX_SIZE = 4096
_RECORDERS = []


@contextlib.contextmanager
def recording_terms():
  """Collects the series length of every `ConvolutionExponential` call made
  inside: yields a list that fills with `(layer, terms)` pairs, `terms` an
  int32 scalar tensor (eager when the calls are).

  ```python
  with recording_terms() as calls:
    flow.log_prob(images)
  print([int(terms) for _, terms in calls])
  ```
  """
  calls = []
  _RECORDERS.append(calls)
  try:
    yield calls
  finally:
    _RECORDERS.remove(calls)


class ConvolutionExponential(base.ImageBijector):
  r"""The exponential of a convolution, an invertible linear map of images.

  Let `M` be the stride-1, size-preserving convolution with kernel `K`
  (`[k, k, C, C]`, NHWC, zero or circular padding). Then, on events
  `x` of shape `[H, W, C]`,

  $$\text{forward:} \quad z = \exp(M)\,x = \sum_{k \ge 0} \frac{M^k x}{k!}$$
  $$\text{inverse:} \quad x = \exp(-M)\,z
      \quad \text{(the same series with } -K \text{)}$$
  $$\text{log-det:} \quad \log \left| \det \frac{\partial z}{\partial x}
      \right| = \operatorname{tr} M = H\,W \operatorname{tr} K_{\text{centre}}$$

  `exp(M)` is never formed: the series needs one convolution per term (or,
  on small images, a few products of `HWC x HWC` matrices; see below).

  **Certified truncation.** The kernel is kept inside the set
  `||M||_2 <= norm_bound` (the paper's spectral normalisation), measured by a
  certified upper bound on `||M||_2` rather than a power-iteration estimate:
  the largest singular value of the convolution's Fourier blocks on a torus
  of size `(H + p_h, W + p_w)` (exact for `'CIRCULAR'`), each bounded by Gram
  iteration (`tfp_convexp.ops.conv_operator_norm_bound`). The cap `T` on
  the number of terms is the smallest static int with
  `norm_bound^(T+1) / (T+1)! * e^norm_bound <= tolerance`, which bounds
  `||z - exp(M) x|| / ||x||` for any kernel in the set. With the
  convolutions (`method='series'`) and the memory-saving gradient (see
  **Memory**), each call stops earlier when the terms it produced certify
  the tolerance: after `k` terms
  the rest of the series is at most
  `||M^k x / k!|| * b / (k + 1) / (1 - b / (k + 2))` (`b = norm_bound`, each
  next term at most `b / (j + 1)` times the last), and the series stops once
  that is at most `tolerance * ||x||` for every example of the batch. Trained
  kernels mostly need 5 to 8 of the 9 terms of the default (float32, bound
  0.95). Under XLA, where the loop and its gradient took up to 1.22x the
  time of `T` unrolled terms on the CPU, every call runs `T` unrolled terms
  (benchmarks/results/convexp_terms.md). `recording_terms()` reports the
  lengths that ran. `log_det` is exact for `exp(M)`.

  The kernel variable carries a `constraint` that rescales it onto the set
  (`project`); Keras optimizers (Keras 3 and tf_keras) apply it after every
  update, so `forward` and `inverse` cost only the series. Code that assigns
  the kernel by hand calls `project()` afterwards; with `validate_args=True`
  every call re-certifies the bound and fails, naming the excess, if not.
  (Rescaling inside every call instead, as a reparameterisation, costs more
  than the series itself; see benchmarks/results/implementation_choices.md.)

  **Small images.** With `method='matrix'` (the default for zero padding
  when `H W C <= 256`) each call forms the same truncated series of `T`
  terms as one dense `HWC x HWC` matrix (a few matrix products) and applies
  it to the batch in one product: the same certificate, no early stop, and
  plain autodiff for the gradient. On the small feature maps of multiscale
  flows this replaces `4 T` tiny convolutions per training step, which cost
  far more than their arithmetic (benchmarks/results/convexp_terms.md).

  **Circular padding** makes the map exactly translation-equivariant on the
  torus. With `method='fourier'` (its default) `exp(M)` is applied exactly,
  as a `C x C` matrix exponential per frequency of the 2-D DFT.

  **Memory.** Above `H W C = 4096` the `'series'` gradient is by default a
  custom rule that stores only the layer's input and recomputes the series
  terms in the backward pass instead of keeping all of them from the
  forward pass until then. It is the exact derivative of the series of
  `terms` terms even where the value stopped earlier: a stop certifies the
  value for this input only, the derivative needs the operator's truncation
  certified. On smaller images the terms are kept and autodiff runs through
  all of them, which is faster while they take little memory.

  #### Example

  ```python
  import tensorflow as tf
  import tensorflow_probability as tfp
  import tfp_convexp

  layer = tfp_convexp.bijectors.ConvolutionExponential([8, 8, 3])
  dist = tfp.distributions.TransformedDistribution(
      tfp.distributions.Sample(tfp.distributions.Normal(0., 1.), [8, 8, 3]),
      tfp.bijectors.Invert(layer))         # log_prob encodes with forward
  x = tf.random.normal([16, 8, 8, 3])
  nll = -tf.reduce_mean(dist.log_prob(x))
  ```

  #### References

  [1]: Emiel Hoogeboom, Victor Garcia Satorras, Jakub M. Tomczak and Max
       Welling. The Convolution Exponential and Generalized Sylvester Flows.
       In _Neural Information Processing Systems_, 2020.
       https://arxiv.org/abs/2006.01910
  [2]: Blaise Delattre, Quentin Barthelemy, Alexandre Araujo and Alexandre
       Allauzen. Efficient Bound of Lipschitz Constant for Convolutional
       Layers by Gram Iteration. In _ICML_, 2023.
  """

  def __init__(self,
               event_shape,
               kernel_size=3,
               padding='SAME',
               norm_bound=0.95,
               tolerance=None,
               terms=None,
               method=None,
               gram_iterations=6,
               recompute_gradient=None,
               seed=None,
               dtype=tf.float32,
               validate_args=False,
               name='convolution_exponential'):
    """Builds the layer and its trainable kernel.

    Args:
      event_shape: `[H, W, C]`, the image shape (NHWC) the layer acts on.
      kernel_size: odd int or pair of odd ints.
      padding: `'SAME'` (zero padding, as in the paper) or `'CIRCULAR'`.
      norm_bound: Python float > 0; the certified bound on `||M||_2` (0.95 is
        the paper's `convexp_coeff` for its mixing experiments).
      tolerance: Python float in (0, 1), the certified relative truncation
        error of the series. Default: 1e-6 for float32, 1e-14 for float64.
      terms: Python int; every call runs exactly this many series terms
        instead of stopping when `tolerance` is certified (the certificate
        then no longer applies).
      method: `'series'` (convolutions), `'matrix'` (the same series as a
        dense matrix) or `'fourier'` (exact, circular padding only).
        Default: `'fourier'` for circular padding, else `'matrix'` when
        `H W C <= MATRIX_MAX_SIZE`, else `'series'`.
      gram_iterations: Python int, Gram iterations of the norm bound; the
        bound exceeds the torus norm by at most a factor `C^(1/2^(t+1))`.
      recompute_gradient: use the memory-saving custom gradient of the
        `'series'` method (without it every call runs all `terms`: autodiff
        would differentiate a stopped series). Default: when
        `H W C > STORED_TERMS_MAX_SIZE`.
      seed: optional int for the kernel's initialisation (a normal with
        standard deviation `1 / (C k_h k_w)`, as in the paper's code, then
        projected onto the norm bound).
      dtype: floating dtype of the kernel and of inputs.
      validate_args: check inputs and the kernel for non-finite values.
      name: name scope of the layer and its variable.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    with tf.name_scope(name) as name:
      self._event_shape = image_events.image_event_shape(event_shape, layer)
      self._kernel_size = image_events.odd_kernel_size(kernel_size, layer)
      dtype = image_events.float_dtype(dtype, layer)
      if padding not in ops.conv.PADDINGS:
        raise ValueError(f'{layer}: `padding` must be one of '
                         f'{ops.conv.PADDINGS}; got {padding!r}.')
      height, width, channels = self._event_shape
      if padding == 'CIRCULAR' and (self._kernel_size[0] > height or
                                    self._kernel_size[1] > width):
        raise ValueError(
            f'{layer}: with circular padding the kernel may not be larger '
            f'than the image (taps would wrap onto each other); got kernel '
            f'{self._kernel_size} for an image of {height}x{width}.')
      norm_bound = arguments.in_open_interval(norm_bound, 0., float('inf'),
                                              'norm_bound', layer)
      tolerance = arguments.tolerance_or_default(tolerance, dtype, layer,
                                                 float64=1e-14)
      if method is None:
        method = ('fourier' if padding == 'CIRCULAR' else
                  'matrix' if height * width * channels <= MATRIX_MAX_SIZE
                  else 'series')
      if method not in _METHODS or (method == 'fourier' and
                                    padding != 'CIRCULAR'):
        raise ValueError(f"{layer}: `method` must be 'series', 'matrix', or "
                         f"'fourier' with padding='CIRCULAR'; got "
                         f"method={method!r} with padding={padding!r}.")
      if recompute_gradient is None:
        recompute_gradient = (height * width * channels >
                              STORED_TERMS_MAX_SIZE)
      # Without a given count, each call of the series stops when its own
      # terms certify the tolerance; the norm bound's count is then only
      # the cap. Autodiff needs the whole series.
      self._stops_early = (terms is None and method == 'series' and
                           bool(recompute_gradient))
      if terms is None:
        terms = ops.exp_series_terms(norm_bound, tolerance)
      arguments.int_at_least(terms, 0, 'terms', layer)
      arguments.int_at_least(gram_iterations, 0, 'gram_iterations', layer)
      self._padding = padding
      self._norm_bound = float(norm_bound)
      self._tolerance = float(tolerance)
      self._terms = terms
      self._method = method
      self._gram_iterations = gram_iterations
      self._recompute_gradient = bool(recompute_gradient)

      shape = [*self._kernel_size, channels, channels]
      stddev = 1. / float(np.prod(shape[1:]))
      if seed is None:
        init = tf.random.normal(shape, stddev=stddev, dtype=dtype)
      else:
        init = tf.random.stateless_normal(shape, seed=[int(seed), 0],
                                          stddev=stddev, dtype=dtype)
      projected = ops.norm_projection(self._norm_of, self._norm_bound)
      self._kernel = tf.Variable(projected(init), name='kernel',
                                 constraint=projected)

      super().__init__(
          is_constant_jacobian=True,
          dtype=dtype,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  @property
  def kernel_size(self):
    """`(k_h, k_w)`, odd."""
    return self._kernel_size

  @property
  def padding(self):
    """`'SAME'` (zeros) or `'CIRCULAR'`."""
    return self._padding

  @property
  def method(self):
    """`'series'` (the certified series), `'matrix'` (the same series as a
    dense matrix) or `'fourier'` (exact, circular padding)."""
    return self._method

  @property
  def recompute_gradient(self):
    """Whether the `'series'` gradient recomputes the terms (saving
    memory) instead of autodiff through the stored ones."""
    return self._recompute_gradient

  @property
  def norm_bound(self):
    """The bound kept on `||M||_2` by the kernel's constraint."""
    return self._norm_bound

  @property
  def tolerance(self):
    """The certified relative accuracy of the series."""
    return self._tolerance

  @property
  def terms(self):
    """Static number of series terms (convolutions per direction): the most
    a call runs, or, when given to the constructor, what every call runs."""
    return self._terms

  @property
  def _stop(self):
    if not self._stops_early:
      return {}
    return dict(norm_bound=self._norm_bound, tolerance=self._tolerance)

  @property
  def truncation_error_bound(self):
    """Certified bound on `||series(x) - exp(M) x|| / ||x||` (0 if exact)."""
    if self._method == 'fourier':
      return 0.
    bound = ops.exp_series_tail_bound(self._norm_bound, self._terms)
    # A call stops early only where its own terms certify the tolerance.
    return max(bound, self._tolerance) if self._stops_early else bound

  @property
  def kernel(self):
    """The kernel `tf.Variable` `[k_h, k_w, C, C]`, inside the norm bound."""
    return self._kernel

  def operator_norm_bound(self):
    """Certified upper bound on `||M||_2` for the current kernel."""
    return self._norm_of(self._kernel)

  def _norm_of(self, kernel):
    return ops.conv_operator_norm_bound(kernel, self._event_shape[:2],
                                        self._padding, self._gram_iterations)


  def apply(self, x, inverse=False):
    """`exp(M) x` (`exp(-M) x` if `inverse`) on `[..., H, W, C]`, with this
    layer's settings and without TFP's cache: for layers that own one."""
    layer = type(self).__name__
    x = image_events.check_image_input(x, self._event_shape, layer,
                                       self.validate_args)
    flat = x if x.shape.rank == 4 else image_events.to_nhwc(
        x, self._event_shape)
    if self._method == 'fourier':
      fn = ops.inverse_conv_exp_fourier if inverse else ops.conv_exp_fourier
      out = fn(flat, self._kernel)
    elif self._method == 'matrix':
      # Inputs traced with an unknown image shape still have this one.
      flat = tf.ensure_shape(flat, [None, *self._event_shape])
      fn = ops.inverse_conv_exp_matrix if inverse else ops.conv_exp_matrix
      out = fn(flat, self._kernel, self._terms, self._padding)
      for calls in _RECORDERS:
        calls.append((self, tf.constant(self._terms)))
    else:
      fn = (ops.inverse_conv_exp_and_terms if inverse else
            ops.conv_exp_and_terms)
      out, ran = fn(flat, self._kernel, self._terms, self._padding,
                    self._recompute_gradient, **self._stop)
      for calls in _RECORDERS:
        calls.append((self, ran))
    return out if x.shape.rank == 4 else image_events.from_nhwc(out, x)

  def _forward(self, x):
    return self.apply(x)

  def _inverse(self, y):
    return self.apply(y, inverse=True)

  def _forward_log_det_jacobian(self, x):
    return ops.conv_exp_log_det(self._kernel, self._event_shape[:2])

  def _inverse_log_det_jacobian(self, y):
    return -self._forward_log_det_jacobian(y)

  def _parameter_control_dependencies(self, is_init):
    if not self.validate_args or is_init:
      return []
    # The Fourier path would be exact outside the bound too, but the layer
    # promises (and its gradient constraint keeps) ||M||_2 <= norm_bound.
    return [ops.assert_norm_within(
        self._kernel, self._norm_of, self._norm_bound,
        f'{type(self).__name__} {self.name!r}: the kernel left the certified '
        f'region ||M||_2 <= {self._norm_bound}, on which its series and '
        f'gradient constraint rely.')]
