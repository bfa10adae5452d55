"""Residual flow blocks (i-ResNet / Residual Flows), the Sylvester baseline."""

import numpy as np
import tensorflow as tf


from tfp_convexp.bijectors import arguments
from tfp_convexp.bijectors import base
from tfp_convexp import ops
from tfp_convexp.bijectors import image_events

__all__ = ['ResidualFlowBlock', 'LOG_DET_ESTIMATORS']

LOG_DET_ESTIMATORS = ('exact', 'russian_roulette')


class _LipSwish(tf.Module):
  """`x sigmoid(softplus(beta) x) / 1.1` with a learned `beta` (Chen et al.,
  2019): 1-Lipschitz for every `beta`, since the slope of `x sigmoid(b x)`
  never exceeds 1.0998 whatever `b >= 0`."""

  def __init__(self, dtype, name=None):
    super().__init__(name=name)
    self.beta = tf.Variable(tf.constant(0.5, dtype), name='beta')

  def __call__(self, x):
    return x * tf.sigmoid(x * tf.nn.softplus(self.beta)) / 1.1


class _NormalizedConv(tf.Module):
  """A 'SAME' convolution kept at `||conv||_2 <= coeff` (certified).

  The kernel variable's constraint rescales it onto the bound (Keras
  optimizers apply it after each update), as for `ConvolutionExponential`.
  """

  def __init__(self, in_channels, out_channels, kernel_size, spatial_shape,
               coeff, gram_iterations, seed, dtype, name=None):
    super().__init__(name=name)
    self._spatial_shape = spatial_shape
    self._coeff = coeff
    self._gram_iterations = gram_iterations
    shape = (kernel_size, kernel_size, in_channels, out_channels)
    init = np.random.default_rng(seed).standard_normal(shape) * np.sqrt(
        1. / (kernel_size * kernel_size * in_channels))
    np_dtype = dtype.as_numpy_dtype
    self.kernel = tf.Variable(self.projected(init.astype(np_dtype)),
                              name='kernel', constraint=self.projected)
    self.bias = tf.Variable(np.zeros(out_channels, np_dtype), name='bias')

  def norm_bound(self, kernel=None):
    kernel = self.kernel if kernel is None else kernel
    return ops.conv_operator_norm_bound(kernel, self._spatial_shape, 'SAME',
                                        self._gram_iterations)

  def projected(self, kernel):
    kernel = tf.convert_to_tensor(kernel)
    return ops.rescale_to_norm_bound(kernel, self.norm_bound(kernel),
                                     self._coeff)

  def __call__(self, x):
    return tf.nn.conv2d(x, self.kernel, 1, 'SAME') + self.bias


class ResidualFlowBlock(base.ImageBijector):
  r"""`z = x + g(x)` with `Lip(g) < 1` (invertible residual block).

  `g` is conv 3x3, LipSwish, conv 1x1, LipSwish, conv 3x3 (`hidden_channels`
  wide; each LipSwish with a learned slope), each convolution kept at a
  certified `||.||_2 <= coeff`, so `Lip(g) <= coeff^3 < 1`.

  ```none
  forward:  z = x + g(x)
  inverse:  Banach fixed point x <- y - g(x), to `tolerance`
  log-det:  log det(I + J_g) = sum_{k>=1} (-1)^(k+1) tr(J_g^k) / k
  ```

  The log-determinant has two explicit modes (`log_det_estimator`):

  * `'exact'`: `log det(I + J_g)` of the dense Jacobian (one backward pass
    per dimension; QR diagonal, so XLA compiles it). For small events, tests
    and evaluation.
  * `'russian_roulette'`: the unbiased stochastic estimator of Residual
    Flows: Hutchinson's `v^T J^k v` with Gaussian `v`, the series cut after
    `N = n_exact_terms + Geometric(p)` terms and each term reweighted by
    `1 / P(N >= k)`. It is random, so every log-det call needs a stateless
    `seed` keyword (`forward_log_det_jacobian(x, event_ndims=3, seed=s)`,
    `log_prob(x, bijector_kwargs=...)` or inside a Chain
    `**{block.name: dict(seed=s)}`); without one it raises. The terms are
    unrolled up to `max_terms` (a static bound, for XLA), each skipped by a
    `tf.cond` past `N`; the cap biases the estimate by at most the
    probability `(1 - p)^(max_terms - n_exact_terms)` of reaching it.

  #### Example

  ```python
  block = tfp_convexp.bijectors.ResidualFlowBlock([8, 8, 4], 32)
  z = block.forward(x)
  ldj = block.forward_log_det_jacobian(x, event_ndims=3, seed=[1, 2])
  x_back, iterations, residual = block.inverse_with_diagnostics(z)
  ```

  #### References

  [1]: Ricky T. Q. Chen, Jens Behrmann, David Duvenaud and Joern-Henrik
       Jacobsen. Residual Flows for Invertible Generative Modeling. In
       _NeurIPS_, 2019.
  [2]: Jens Behrmann, Will Grathwohl, Ricky T. Q. Chen, David Duvenaud and
       Joern-Henrik Jacobsen. Invertible Residual Networks. In _ICML_, 2019.
  """

  def __init__(self, event_shape, hidden_channels=None, coeff=0.97,
               log_det_estimator='russian_roulette', n_exact_terms=2,
               roulette_p=0.5, max_terms=20, tolerance=None,
               max_iterations=200, gram_iterations=6, seed=0,
               dtype=tf.float32, validate_args=False,
               name='residual_flow_block'):
    """Builds the block.

    Args:
      event_shape: `[H, W, C]` (NHWC).
      hidden_channels: width of `g`; default `4 C`.
      coeff: certified norm bound of each convolution, in (0, 1).
      log_det_estimator: `'exact'` or `'russian_roulette'`.
      n_exact_terms: series terms always kept by the roulette.
      roulette_p: success probability of the geometric number of extra
        terms, in (0, 1).
      max_terms: static cap on the series terms.
      tolerance: fixed-point residual at which the inverse stops; default
        1e-6 (float32) or 1e-12 (float64).
      max_iterations: static bound on the inverse's iterations.
      gram_iterations: of the norm bounds.
      seed: int for the initialisation.
      dtype: floating dtype.
      validate_args: check inputs, and fail when an inverse misses its
        tolerance.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    with tf.name_scope(name) as name:
      self._event_shape = image_events.image_event_shape(event_shape, layer)
      dtype = image_events.float_dtype(dtype, layer)
      coeff = arguments.in_open_interval(coeff, 0., 1., 'coeff', layer,
                                         ' so that Lip(g) < 1')
      if log_det_estimator not in LOG_DET_ESTIMATORS:
        raise ValueError(f'{layer}: `log_det_estimator` must be one of '
                         f'{LOG_DET_ESTIMATORS}; got {log_det_estimator!r}.')
      roulette_p = arguments.in_open_interval(roulette_p, 0., 1.,
                                              'roulette_p', layer)
      if not (isinstance(n_exact_terms, int) and isinstance(max_terms, int)
              and 0 <= n_exact_terms < max_terms):
        raise ValueError(f'{layer}: need ints 0 <= n_exact_terms < max_terms; '
                         f'got {n_exact_terms!r} and {max_terms!r}.')
      tolerance = arguments.tolerance_or_default(tolerance, dtype, layer)
      arguments.int_at_least(max_iterations, 1, 'max_iterations', layer)
      self._estimator = log_det_estimator
      self._n_exact, self._p, self._max_terms = n_exact_terms, roulette_p, max_terms
      self._tolerance, self._max_iterations = float(tolerance), max_iterations
      h, w, c = self._event_shape
      hidden = hidden_channels or 4 * c
      conv = lambda i, o, k, s: _NormalizedConv(i, o, k, (h, w), coeff,
                                                gram_iterations, seed + s,
                                                dtype)
      self._convs = [conv(c, hidden, 3, 0), conv(hidden, hidden, 1, 1),
                     conv(hidden, c, 3, 2)]
      self._activations = [_LipSwish(dtype), _LipSwish(dtype)]
      super().__init__(is_constant_jacobian=False, dtype=dtype,
                       validate_args=validate_args, parameters=parameters,
                       name=name)

  @property
  def log_det_estimator(self):
    return self._estimator

  def project(self):
    """Rescales every convolution onto its bound (after manual assigns)."""
    return tf.group([c.kernel.assign(c.projected(c.kernel))
                     for c in self._convs])

  def lipschitz_bound(self):
    """Certified bound on `Lip(g)`: the product of the convolutions' norms."""
    return tf.reduce_prod(tf.stack([c.norm_bound() for c in self._convs]))

  def residual(self, x):
    """`g(x)` on `[B, H, W, C]`."""
    h = self._activations[0](self._convs[0](x))
    h = self._activations[1](self._convs[1](h))
    return self._convs[2](h)

  def _log_det(self, x, seed):
    with tf.GradientTape(persistent=True) as tape:
      tape.watch(x)
      gx = self.residual(x)
    if self._estimator == 'exact':
      d = int(np.prod(self._event_shape))
      if x.shape[0] == 0:  # batch_jacobian divides by a static batch size
        return tf.zeros([0], x.dtype)
      jac = tape.batch_jacobian(gx, x)
      jac = tf.reshape(jac, [-1, d, d]) + tf.eye(d, dtype=x.dtype)
      # det(I + J) > 0 when Lip(g) < 1, so log|det| is the log-det.
      return ops.qr_log_abs_det(jac)
    if seed is None:
      raise ValueError(f'{type(self).__name__} {self.name!r}: the '
                       f'russian_roulette log-det is random; pass a stateless '
                       f'seed, e.g. forward_log_det_jacobian(x, event_ndims=3, '
                       f'seed=[1, 2]), or use log_det_estimator="exact".')
    noise_seed, count_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 2))
    v = tf.random.stateless_normal(tf.shape(x), noise_seed, dtype=x.dtype)
    # N = n_exact + Geometric(p) extra terms; P(N >= k) = (1-p)^(k - n_exact).
    uniform = tf.random.stateless_uniform([], count_seed, dtype=x.dtype)
    count = self._n_exact + tf.floor(tf.math.log(uniform) /
                                     np.log1p(-self._p))
    # One sequence w_k = v^T J^k (first-order vjps, nothing recorded for
    # second order) serves both the value, sum_k (-1)^(k+1) w_k.v / k, and
    # the Neumann series of the gradient, d log det = tr((I+J)^-1 dJ) with
    # (I+J)^-1 = sum_k (-1)^k J^k: only one vjp, g^T J v, is differentiated
    # (Chen et al., 2019), instead of backpropagating through every term.
    frozen = tf.stop_gradient(x)

    def body(k, w, value, neumann):
      # w^T J at x, on a tape of its own: the loop is never differentiated.
      with tf.GradientTape() as inner:
        inner.watch(frozen)
        g_frozen = self.residual(frozen)
      w = tf.stop_gradient(inner.gradient(g_frozen, frozen,
                                          output_gradients=w))
      weight = tf.pow(tf.constant(1. - self._p, x.dtype),
                      -tf.maximum(k - self._n_exact, 0.))
      sign = 2. * tf.math.floormod(k, 2.) - 1.  # (-1)^(k+1)
      value += sign / k * weight * tf.reduce_sum(w * v, axis=[1, 2, 3])
      neumann -= sign * weight * w
      return k + 1., w, value, neumann

    limit = tf.minimum(count, float(self._max_terms))
    _, _, value, neumann = tf.while_loop(
        lambda k, *_: k <= limit, body,
        (tf.constant(1., x.dtype), v, tf.zeros(tf.shape(x)[:1], x.dtype), v),
        maximum_iterations=self._max_terms)
    # g^T J v with g = stop_gradient(Neumann sum): its gradient is the
    # gradient of the log-det; its value is cancelled below.
    surrogate = tf.reduce_sum(
        tape.gradient(gx, x, output_gradients=tf.stop_gradient(neumann)) * v,
        axis=[1, 2, 3])
    return tf.stop_gradient(value) + surrogate - tf.stop_gradient(surrogate)

  # The log-det needs its own pass of g under a tape, so unlike the
  # coupling and Sylvester layers nothing is shared with the forward pass;
  # TFP derives the inverse log-det as -fldj(inverse(y)).
  def _forward(self, x, seed=None):
    del seed  # only the log-det is random
    x, flat = self._checked(x)
    return image_events.from_nhwc(flat + self.residual(flat), x)

  def _forward_log_det_jacobian(self, x, seed=None):
    x, flat = self._checked(x)
    return tf.reshape(self._log_det(flat, seed), tf.shape(x)[:-3])

  def inverse_with_diagnostics(self, y):
    """`(x, iterations, residual)` of the fixed-point inverse."""
    like, y = self._checked(y)
    x, iterations, residual = self._fixed_point(y)
    return image_events.from_nhwc(x, like), iterations, residual

  def _fixed_point(self, y):
    """The inverse at a flat `[B, H, W, C]` batch `y`."""
    tol = tf.constant(self._tolerance, y.dtype)

    def body(i, x, _):
      new = y - self.residual(x)
      return i + 1, new, tf.reduce_max(tf.abs(new - x))

    iterations, x, _ = tf.while_loop(
        lambda i, x, step: step > tol, body,
        (tf.constant(0), y, tf.constant(np.inf, y.dtype)),
        maximum_iterations=self._max_iterations)
    residual = tf.reduce_max(tf.abs(x + self.residual(x) - y))
    return x, iterations, residual

  def _inverse(self, y, seed=None):
    del seed
    x, _, residual = self.inverse_with_diagnostics(y)
    return base.checked_convergence(self, x, residual, 10. * self._tolerance)
