"""What the coupling layers share: the channel split and the conditioner call."""

import tensorflow as tf

from tfp_convexp.bijectors.internal import arguments
from tfp_convexp.bijectors.internal import augmented
from tfp_convexp.bijectors.internal import base

__all__ = ['ChannelCoupling']


class ChannelCoupling(augmented.AugmentedBijector, base.ImageBijector):
  """Base of couplings on the channel axis of `[H, W, C]` images.

  `x = [x_1, x_2]` is split after `num_masked` channels; the conditioner sees
  `x_1` (and, with `context_channels > 0`, a `context` keyword of shape
  `[B, H, W, context_channels]` concatenated to it). Subclasses call
  `_init_coupling` in their constructor after setting `self._event_shape`.
  """

  def _init_coupling(self, num_masked, context_channels, layer):
    c = self._event_shape[-1]
    if (isinstance(num_masked, bool) or not isinstance(num_masked, int) or
        not 0 < num_masked < c):
      raise ValueError(f'{layer}: `num_masked` must be an int in [1, C-1] '
                       f'= [1, {c - 1}] (C={c}); got {num_masked!r}.')
    self._num_masked = num_masked
    self._context_channels = arguments.int_at_least(
        context_channels, 0, 'context_channels', layer)

  def _set_conditioner(self, conditioner, layer):
    if not callable(conditioner):
      raise ValueError(f'{layer}: `conditioner` must be callable; got '
                       f'{conditioner!r}.')
    self._conditioner = conditioner

  @property
  def conditioner(self):
    return self._conditioner

  @property
  def num_masked(self):
    return self._num_masked

  @property
  def context_channels(self):
    return self._context_channels

  @property
  def call_keywords(self):
    return frozenset({'context'} if self._context_channels else ())

  def _split(self, x):
    x, flat = self._checked(x)
    return x, flat[..., :self._num_masked], flat[..., self._num_masked:]

  def _conditioner_output(self, x1, context, channels, what):
    """The conditioner applied to `x_1` (and the context), checked to have
    `channels` outputs (`what` names them in the error)."""
    name = type(self).__name__
    expected = self._context_channels
    if context is None:
      if expected:
        raise ValueError(f'{name} {self.name!r}: built with context_channels='
                         f'{expected}, so every call needs a `context` keyword '
                         f'of shape [B, H, W, {expected}].')
      inputs = x1
    else:
      if not expected:
        raise ValueError(f'{name} {self.name!r}: got a `context` keyword but '
                         f'was built with context_channels=0.')
      context = tf.convert_to_tensor(context, dtype=x1.dtype)
      if context.shape[-1] is not None and context.shape[-1] != expected:
        raise ValueError(f'{name} {self.name!r}: `context` must have '
                         f'{expected} channels; got shape {context.shape}.')
      inputs = tf.concat([x1, tf.reshape(context, tf.concat(
          [tf.shape(x1)[:-1], [expected]], 0))], axis=-1)
    h = self._conditioner(inputs)
    if h.shape[-1] is not None and h.shape[-1] != channels:
      raise ValueError(f'{name}: the conditioner must return {channels} '
                       f'channels ({what}); it returned {h.shape[-1]}.')
    return h
