"""What every tfp_convexp bijector shares with TFP's conventions."""

import tensorflow_probability as tfp

__all__ = ['OwnsVariables']


class OwnsVariables(tfp.bijectors.Bijector):
  """A bijector that creates its own variables in `__init__`.

  Its constructor arguments are static configuration, so two instances with
  equal arguments would compare equal and TFP's class-wide cache would hand
  one instance's outputs to the other; the cache key is therefore the
  instance itself. There are no batchable tensor parameters.
  """

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  def _get_parameterization(self):
    return id(self)
