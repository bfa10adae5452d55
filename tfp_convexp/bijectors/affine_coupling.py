"""Affine coupling with a pluggable convolutional conditioner."""

import tensorflow as tf

from tfp_convexp import nets
from tfp_convexp.bijectors.internal import coupling
from tfp_convexp.bijectors.internal import image_events

__all__ = ['AffineCoupling']

SCALE_FNS = ('tanh', 'sigmoid')


class AffineCoupling(coupling.ChannelCoupling):
  r"""Affine coupling on the channel axis of `[H, W, C]` images.

  With `x = [x_1, x_2]` split after `num_masked` channels and
  `[h_s, t] = NN(x_1)`,

  ```none
  forward:  z = [x_1, x_2 * exp(log_s) + t]
  inverse:  x = [z_1, (z_2 - t) * exp(-log_s)]
  log-det:  sum over H, W and x_2's channels of log_s
  log_s  =  r * tanh(h_s / r)          (scale_fn='tanh', the convexp code, r=2)
         or log sigmoid(h_s + 2)       (scale_fn='sigmoid', Glow)
  ```

  Both keep the scale bounded, which keeps training stable. The conditioner
  is any callable `tf.Module` mapping `[B, H, W, num_masked]` to
  `[B, H, W, 2 (C - num_masked)]`; with `context_channels > 0` it also sees
  a `context` keyword (`forward(x, context=c)`, `c` of shape
  `[B, H, W, context_channels]`) concatenated to `x_1`, which makes the layer
  conditional (variational dequantization uses it). By default it is a
  `tfp_convexp.nets.DenseInResidualNet` (gated, zero-initialised output, so
  the layer starts as the identity). Output and log-det come from one
  network pass.

  #### Example

  ```python
  coupling = tfp_convexp.bijectors.AffineCoupling([16, 16, 12])
  z = coupling.forward(tf.random.normal([8, 16, 16, 12]))
  ```

  #### References

  [1]: Laurent Dinh, Jascha Sohl-Dickstein and Samy Bengio. Density
       estimation using Real NVP. In _ICLR_, 2017.
  """

  def __init__(self, event_shape, conditioner=None, num_masked=None,
               scale_fn='tanh', log_scale_range=2., context_channels=0,
               seed=0, dtype=tf.float32, validate_args=False,
               name='affine_coupling'):
    """Builds the layer.

    Args:
      event_shape: `[H, W, C]` (NHWC), `C >= 2`.
      conditioner: a callable `tf.Module` (see above); default
        `DenseInResidualNet(num_masked, 2 (C - num_masked),
        intermediate_channels=64, depth=4, growth=32, gated=True)`.
      num_masked: channels passed through and conditioned on; default
        `C // 2`.
      scale_fn: `'tanh'` or `'sigmoid'`.
      log_scale_range: `r` of the tanh bound.
      context_channels: channels of the `context` keyword; 0 for none.
      seed: int for the default conditioner's initialisation.
      dtype: floating dtype.
      validate_args: check inputs for non-finite values.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    with tf.name_scope(name) as name:
      self._event_shape = image_events.image_event_shape(event_shape, layer)
      dtype = image_events.float_dtype(dtype, layer)
      c = self._event_shape[-1]
      if num_masked is None:
        num_masked = c // 2
      self._init_coupling(num_masked, context_channels, layer)
      if scale_fn not in SCALE_FNS:
        raise ValueError(f'{layer}: `scale_fn` must be one of {SCALE_FNS}; '
                         f'got {scale_fn!r}.')
      if not log_scale_range > 0:
        raise ValueError(f'{layer}: `log_scale_range` must be > 0; got '
                         f'{log_scale_range!r}.')
      self._scale_fn = scale_fn
      self._log_scale_range = float(log_scale_range)
      if conditioner is None:
        conditioner = nets.DenseInResidualNet(
            num_masked + context_channels, 2 * (c - num_masked), intermediate_channels=64,
            depth=4, growth=32, gated=True, seed=seed, dtype=dtype)
      self._set_conditioner(conditioner, layer)
      super().__init__(
          is_constant_jacobian=False,
          dtype=dtype,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  def _shift_and_log_scale(self, x1, context):
    c2 = self._event_shape[-1] - self._num_masked
    h = self._conditioner_output(x1, context, 2 * c2,
                                 f'a shift and a scale for {c2} channels')
    raw, shift = tf.split(h, 2, axis=-1)
    if self._scale_fn == 'tanh':
      r = self._log_scale_range
      return shift, r * tf.tanh(raw / r)
    return shift, tf.math.log_sigmoid(raw + 2.)

  def _forward_and_log_det(self, x, context=None):
    x, x1, x2 = self._split(x)
    shift, log_scale = self._shift_and_log_scale(x1, context)
    z = tf.concat([x1, x2 * tf.exp(log_scale) + shift], axis=-1)
    ldj = tf.reduce_sum(log_scale, axis=[1, 2, 3])
    return (image_events.from_nhwc(z, x),
            tf.reshape(ldj, tf.shape(x)[:-3]))

  def _inverse_and_log_det(self, y, context=None):
    y, y1, y2 = self._split(y)
    shift, log_scale = self._shift_and_log_scale(y1, context)
    x = tf.concat([y1, (y2 - shift) * tf.exp(-log_scale)], axis=-1)
    ldj = -tf.reduce_sum(log_scale, axis=[1, 2, 3])
    return (image_events.from_nhwc(x, y),
            tf.reshape(ldj, tf.shape(y)[:-3]))

