"""A per-class affine map of channels: Glow's class-conditional priors."""

import tensorflow as tf

from tfp_convexp.bijectors.internal import arguments
from tfp_convexp.bijectors.internal import base
from tfp_convexp.bijectors.internal import image_events

__all__ = ['ClassConditionalAffine']


class ClassConditionalAffine(base.ImageBijector):
  r"""A learned affine map of the last channels, chosen by a class label.

  For an image `x` (`[H, W, C]`) of class `y` in `{0, ..., K-1}`, on the
  channels from `first_channel` on (the others pass through), with
  $\mu$ = `loc` and $s$ = `log_scale`:

  $$\text{forward:} \quad z_{ijc} = (x_{ijc} + \mu_{yc})\, e^{s_{yc}}$$
  $$\text{inverse:} \quad x_{ijc} = z_{ijc}\, e^{-s_{yc}} - \mu_{yc}$$
  $$\text{log-det:} \quad H\,W \sum_c s_{yc}$$

  `loc` and `log_scale` start at zero (the identity). At the end of a
  multiscale flow's last level it makes the top prior class-conditional
  (the latent is `N(-loc[y], exp(-log_scale[y])^2)` per channel), and after
  a learned split prior it does the same for the factored-out channels: the
  class-conditional priors of Glow [1] (its `ycond`), learned per class and
  channel. The label is a keyword of every call, `label` (ints of the
  batch's shape), as TFP hands conditioning inputs to bijectors;
  `tfp_convexp.flows.make_flow(num_classes=K)` builds the flow with these
  and `DequantizedFlow.log_prob(x, label=y)` passes it on.

  #### Example

  ```python
  prior = ClassConditionalAffine([4, 4, 8], num_classes=10)
  z = prior.forward(x, label=y)        # x [B, 4, 4, 8], y [B] in 0..9
  ```

  #### References

  [1]: Diederik P. Kingma and Prafulla Dhariwal. Glow: Generative Flow with
       Invertible 1x1 Convolutions. In NeurIPS, 2018.
       https://arxiv.org/abs/1807.03039
  """

  def __init__(self, event_shape, num_classes, first_channel=0,
               dtype=tf.float32, validate_args=False,
               name='class_conditional_affine'):
    """Builds the layer.

    Args:
      event_shape: `[H, W, C]` (NHWC).
      num_classes: `K >= 1`, the number of labels.
      first_channel: the channels `first_channel, ..., C - 1` are mapped.
      dtype: floating dtype.
      validate_args: check labels (in `[0, K)`) and inputs (finite).
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    with tf.name_scope(name) as name:
      self._event_shape = image_events.image_event_shape(event_shape, layer)
      dtype = image_events.float_dtype(dtype, layer)
      self._num_classes = arguments.int_at_least(num_classes, 1,
                                                 'num_classes', layer)
      c = self._event_shape[-1]
      self._first = arguments.int_at_least(first_channel, 0, 'first_channel',
                                           layer)
      if self._first >= c:
        raise ValueError(f'{layer}: `first_channel` must be below the '
                         f'{c} channels; got {first_channel}.')
      shape = [self._num_classes, c - self._first]
      self._loc = tf.Variable(tf.zeros(shape, dtype), name='loc')
      self._log_scale = tf.Variable(tf.zeros(shape, dtype), name='log_scale')
      super().__init__(is_constant_jacobian=False, dtype=dtype,
                       validate_args=validate_args, parameters=parameters,
                       name=name)

  @property
  def num_classes(self):
    """`K`, the number of labels."""
    return self._num_classes

  @property
  def first_channel(self):
    """The first of the channels the layer maps."""
    return self._first

  @property
  def call_keywords(self):
    return frozenset({'label'})

  def _class_params(self, x, label):
    """`loc` and `log_scale` of each batch member's class, `[..., 1, 1, C']`."""
    if label is None:
      raise ValueError(f'{type(self).__name__} {self.name!r}: calls need the '
                       f'class `label` keyword (ints in [0, '
                       f'{self._num_classes})).')
    label = tf.convert_to_tensor(label)
    if not label.dtype.is_integer:
      raise TypeError(f'{type(self).__name__}: `label` must be ints; got '
                      f'{label.dtype.name}.')
    if self.validate_args:
      message = (f'{type(self).__name__}: labels must be in [0, '
                 f'{self._num_classes}).')
      with tf.control_dependencies([
          tf.debugging.assert_less(
              label, tf.cast(self._num_classes, label.dtype), message=message),
          tf.debugging.assert_non_negative(label, message=message)]):
        label = tf.identity(label)
    label = tf.broadcast_to(label, tf.shape(x)[:-3])
    loc = tf.gather(self._loc, label)[..., None, None, :]
    log_scale = tf.gather(self._log_scale, label)[..., None, None, :]
    return loc, log_scale

  def _split(self, x):
    return x[..., :self._first], x[..., self._first:]

  def _forward(self, x, label=None):
    x = image_events.check_image_input(x, self._event_shape,
                                       type(self).__name__, self.validate_args)
    loc, log_scale = self._class_params(x, label)
    keep, mapped = self._split(x)
    return tf.concat([keep, (mapped + loc) * tf.exp(log_scale)], axis=-1)

  def _inverse(self, z, label=None):
    z = image_events.check_image_input(z, self._event_shape,
                                       type(self).__name__, self.validate_args)
    loc, log_scale = self._class_params(z, label)
    keep, mapped = self._split(z)
    return tf.concat([keep, mapped * tf.exp(-log_scale) - loc], axis=-1)

  def _forward_log_det_jacobian(self, x, label=None):
    _, log_scale = self._class_params(x, label)
    h, w, _ = self._event_shape
    return h * w * tf.reduce_sum(log_scale, axis=[-3, -2, -1])

  def _inverse_log_det_jacobian(self, z, label=None):
    return -self._forward_log_det_jacobian(z, label)
