"""Residual flow blocks (i-ResNet / Residual Flows), the Sylvester baseline."""

import tensorflow as tf

from tfp_convexp import nets
from tfp_convexp.bijectors.internal import arguments
from tfp_convexp.bijectors.internal import base
from tfp_convexp import ops
from tfp_convexp.bijectors.internal import image_events

__all__ = ['ResidualFlowBlock', 'LOG_DET_ESTIMATORS']

LOG_DET_ESTIMATORS = ('exact', 'russian_roulette')


class ResidualFlowBlock(base.ImageBijector):
  r"""`z = x + g(x)` with `Lip(g) < 1` (invertible residual block).

  `g` is conv 3x3, LipSwish, conv 1x1, LipSwish, conv 3x3 (`hidden_channels`
  wide; each LipSwish with a learned slope), each convolution kept at a
  certified `||.||_2 <= norm_bound`, so `Lip(g) <= norm_bound^3 < 1`.

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
    `**{block.name: dict(seed=s)}`); without one it raises. The terms run
    in a `tf.while_loop` of at most `max_terms` iterations (a static bound,
    for XLA); the cap biases the estimate by at most the probability
    `(1 - p)^(max_terms - n_exact_terms)` of reaching it.

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

  def __init__(self, event_shape, hidden_channels=None, norm_bound=0.97,
               log_det_estimator='russian_roulette', n_exact_terms=2,
               roulette_p=0.5, max_terms=20, tolerance=None,
               max_iterations=200, gram_iterations=6, seed=0,
               dtype=tf.float32, validate_args=False,
               name='residual_flow_block'):
    """Builds the block.

    Args:
      event_shape: `[H, W, C]` (NHWC).
      hidden_channels: width of `g`; default `4 C`.
      norm_bound: certified norm bound of each convolution, in (0, 1).
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
      norm_bound = arguments.in_open_interval(norm_bound, 0., 1., 'norm_bound',
                                              layer, ' so that Lip(g) < 1')
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
      self._g = nets.LipschitzResidualNet(
          c, hidden_channels or 4 * c, (h, w), norm_bound, gram_iterations, seed,
          dtype)
      super().__init__(is_constant_jacobian=False, dtype=dtype,
                       validate_args=validate_args, parameters=parameters,
                       name=name)

  @property
  def log_det_estimator(self):
    """`'russian_roulette'` or `'exact'`."""
    return self._estimator

  @property
  def call_keywords(self):
    return frozenset({'seed'} if self._estimator == 'russian_roulette' else ())


  def lipschitz_bound(self):
    """Certified bound on `Lip(g)`: the product of the convolutions' norms."""
    return self._g.lipschitz_bound()

  def residual(self, x):
    """`g(x)` on `[B, H, W, C]`."""
    return self._g(x)

  def _log_det(self, x, seed):
    if self._estimator == 'exact':
      return ops.exact_residual_log_det(self._g, x)
    if seed is None:
      raise ValueError(f'{type(self).__name__} {self.name!r}: the '
                       f'russian_roulette log-det is random; pass a stateless '
                       f'seed, e.g. forward_log_det_jacobian(x, event_ndims=3, '
                       f'seed=[1, 2]), or use log_det_estimator="exact".')
    return ops.russian_roulette_log_det(self._g, x, seed, self._n_exact,
                                        self._p, self._max_terms)

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
    x, iterations, residual = ops.residual_fixed_point(
        self._g, y, self._tolerance, self._max_iterations)
    return image_events.from_nhwc(x, like), iterations, residual

  def _inverse(self, y, seed=None):
    del seed
    x, _, residual = self.inverse_with_diagnostics(y)
    return base.checked_convergence(self, x, residual, 10. * self._tolerance)
