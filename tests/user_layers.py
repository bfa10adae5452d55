"""A researcher's module of layers, as `python -m train --import=user_layers`
takes it: importing it registers a mixing layer and a transformation.

`user_lu`: TFP's own `ScaleMatvecLU` on the channels, a 1x1 convolution
built from TFP parts. `user_additive`: an additive (NICE) coupling written
as a `tfb.Bijector`, its network from the run's `context.conditioner`.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_convexp import flows

tfb = tfp.bijectors


def build_lu(ctx):
  c = ctx.event_shape[-1]
  rng = np.random.default_rng(ctx.seed())
  q, _ = np.linalg.qr(rng.standard_normal([c, c]))
  lower_upper, permutation = tf.linalg.lu(tf.constant(q, ctx.dtype))
  return tfb.ScaleMatvecLU(tf.Variable(lower_upper, name='lower_upper'),
                           permutation, name=ctx.name('user_lu'))


class AdditiveCoupling(tfb.Bijector):
  """`y = [x1, x2 + net(x1)]` over the channels; log-det 0."""

  def __init__(self, num_channels, net, validate_args=False,
               name='additive_coupling'):
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      self._num_channels, self._net = num_channels, net
      super().__init__(forward_min_event_ndims=3, is_constant_jacobian=True,
                       validate_args=validate_args, parameters=parameters,
                       name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return {}

  def _get_parameterization(self):
    return id(self)  # TFP's cache must not mix two instances' outputs

  def _split(self, x):
    k = self._num_channels // 2
    return x[..., :k], x[..., k:]

  def _shift(self, x1):
    # The net takes NHWC: any batch dimensions (none included) as one.
    nhwc = tf.concat([[-1], tf.shape(x1)[-3:]], 0)
    shift = self._net(tf.reshape(x1, nhwc))
    return tf.reshape(shift, tf.concat([tf.shape(x1)[:-1], [-1]], 0))

  def _forward(self, x):
    x1, x2 = self._split(x)
    return tf.concat([x1, x2 + self._shift(x1)], axis=-1)

  def _inverse(self, y):
    y1, y2 = self._split(y)
    return tf.concat([y1, y2 - self._shift(y1)], axis=-1)

  def _forward_log_det_jacobian(self, x):
    return tf.zeros(tf.shape(x)[:-3], x.dtype)


def build_additive(ctx):
  c = ctx.event_shape[-1]
  return AdditiveCoupling(c, ctx.conditioner(c // 2, c - c // 2),
                          name=ctx.name('user_additive'))


flows.register_mixing('user_lu', build_lu,
                      'TFP\'s ScaleMatvecLU on the channels (a test layer)')
flows.register_transform('user_additive', build_additive,
                         'an additive coupling (a test layer)')
