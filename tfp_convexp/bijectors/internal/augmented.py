"""Base for bijectors whose log-determinant comes out of the same pass."""

# TFP has no public API for a bijector cache that also holds the log-det of
# a pass; `cache_util` is internal, which is why pyproject.toml pins
# tensorflow-probability to 0.25.x.
from tensorflow_probability.python.internal import cache_util

from tfp_convexp.bijectors.internal import base

__all__ = ['AugmentedBijector']


class AugmentedBijector(base.OwnsVariables):
  """Computes `(output, log_det)` together and caches the log-det.

  A coupling layer or a Sylvester flow gets its log-determinant as a
  by-product of the transformation; TFP calls `forward` and
  `forward_log_det_jacobian` separately (`log_prob` calls both), which would
  run the network twice. As in TFP's FFJORD, the greedy-attribute cache
  stores the log-det computed by the forward pass; subclasses implement
  `_forward_and_log_det(x, **kw)` and `_inverse_and_log_det(y, **kw)`, each
  returning the output and the log-det of that direction (per batch
  member).
  """

  _cache = cache_util.BijectorCacheWithGreedyAttrs(
      forward_name='_augmented_forward', inverse_name='_augmented_inverse')

  def _forward_and_log_det(self, x, **kwargs):
    raise NotImplementedError

  def _inverse_and_log_det(self, y, **kwargs):
    raise NotImplementedError

  def _augmented_forward(self, x, **kwargs):
    y, fldj = self._forward_and_log_det(x, **kwargs)
    return y, {'fldj': fldj, 'ildj': -fldj}

  def _augmented_inverse(self, y, **kwargs):
    x, ildj = self._inverse_and_log_det(y, **kwargs)
    return x, {'ildj': ildj, 'fldj': -ildj}

  def _forward(self, x, **kwargs):
    return self._augmented_forward(x, **kwargs)[0]

  def _inverse(self, y, **kwargs):
    return self._augmented_inverse(y, **kwargs)[0]

  def _forward_log_det_jacobian(self, x, **kwargs):
    cached = self._cache.forward_attributes(x, **kwargs)
    if 'fldj' not in cached:
      cached.update(self._augmented_forward(x, **kwargs)[1])
    return cached['fldj']

  def _inverse_log_det_jacobian(self, y, **kwargs):
    cached = self._cache.inverse_attributes(y, **kwargs)
    if 'ildj' not in cached:
      cached.update(self._augmented_inverse(y, **kwargs)[1])
    return cached['ildj']
