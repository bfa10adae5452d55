"""Shared machinery of the 1x1 (per-pixel, channel-mixing) linear layers."""


from tfp_convexp.bijectors.internal import base
from tfp_convexp import ops
from tfp_convexp.bijectors.internal import image_events

__all__ = ['ChannelLinear']


class ChannelLinear(base.ImageBijector):
  """Base of `z[h, w] = W x[h, w]` for one `C x C` matrix `W` at every pixel.

  Subclasses build `W` from their variables and say how to invert it and
  what `log|det W|` is; this class applies it to `[..., H, W, C]` events
  and multiplies the log-determinant by `H * W`.
  """

  def __init__(self, event_shape, dtype, validate_args, parameters, name):
    layer = type(self).__name__
    self._event_shape = image_events.image_event_shape(event_shape, layer)
    super().__init__(
        is_constant_jacobian=True,
        dtype=image_events.float_dtype(dtype, layer),
        validate_args=validate_args,
        parameters=parameters,
        name=name)

  @property
  def channels(self):
    return self._event_shape[-1]

  def matrix(self):
    """The `C x C` matrix `W` (output channel, input channel)."""
    raise NotImplementedError

  def log_abs_det_matrix(self):
    """`log|det W|`, a scalar: the log-det per pixel."""
    return self._log_abs_det_matrix()

  def _apply_inverse_matrix(self, y):
    """`W^-1` applied along the last axis of `y`."""
    raise NotImplementedError

  def _log_abs_det_matrix(self):
    """`log|det W|`, a scalar."""
    raise NotImplementedError

  def _check(self, x):
    return self._checked(x)[0]

  def _forward(self, x):
    return ops.channel_matmul(self._check(x), self.matrix())

  def _inverse(self, y):
    return self._apply_inverse_matrix(self._check(y))

  def _forward_log_det_jacobian(self, x):
    h, w, _ = self._event_shape
    return float(h * w) * self._log_abs_det_matrix()

  def _inverse_log_det_jacobian(self, y):
    return -self._forward_log_det_jacobian(y)
