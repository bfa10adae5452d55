"""What every tfp_convexp bijector shares with TFP's conventions."""

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_convexp.bijectors import image_events

__all__ = ['OwnsVariables', 'ImageBijector']


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


class ImageBijector(OwnsVariables):
  """A layer on `[H, W, C]` events (NHWC): `forward_min_event_ndims=3`.

  Subclasses set `self._event_shape` (via `image_events.image_event_shape`)
  before they create their variables, then call this constructor.
  """

  def __init__(self, *, is_constant_jacobian, dtype, validate_args,
               parameters, name):
    super().__init__(
        forward_min_event_ndims=3,
        is_constant_jacobian=is_constant_jacobian,
        dtype=dtype,
        validate_args=validate_args,
        parameters=parameters,
        name=name)

  @property
  def event_shape(self):
    """`(H, W, C)`."""
    return self._event_shape

  def _checked(self, x):
    """`x` checked against the event shape, and `x` as `[B, H, W, C]`."""
    x = image_events.check_image_input(x, self._event_shape,
                                       type(self).__name__, self.validate_args)
    return x, image_events.to_nhwc(x, self._event_shape)


def checked_convergence(bijector, x, residual, limit):
  """`x`, after a check (with `validate_args`) that an iterative inverse
  ended with `residual <= limit`; the error names the layer and its
  `tolerance` and `max_iterations` settings."""
  if not bijector.validate_args:
    return x
  with tf.control_dependencies([tf.debugging.assert_less_equal(
      residual, tf.cast(limit, residual.dtype),
      message=f'{type(bijector).__name__} {bijector.name!r}: the inverse did '
              f'not reach tolerance={bijector._tolerance} within '  # pylint: disable=protected-access
              f'max_iterations={bijector._max_iterations} (x: the final '  # pylint: disable=protected-access
              f'residual, y: the limit).')]):
    return tf.identity(x)
