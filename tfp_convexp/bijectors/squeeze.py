"""Space-to-depth squeeze, the reshaping step of multiscale flows."""

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_convexp.bijectors.internal import arguments


__all__ = ['Squeeze']


class Squeeze(tfp.bijectors.Bijector):
  """Trades each `f x f` spatial block for `f^2` channels.

  ```none
  forward:  [H, W, C] -> [H / f, W / f, f^2 C],
            z[i, j, (a f + b) C + c] = x[i f + a, j f + b, c]
  inverse:  the reverse rearrangement
  log-det:  0 (a permutation of coordinates)
  ```

  This is `tf.nn.space_to_depth` (the RealNVP / Glow squeeze). Shapes are
  built from int32 tensors, so unknown batch sizes work in `tf.function`
  and SavedModel signatures (unlike `tfb.Glow`'s int64 reshapes).

  #### Example

  ```python
  squeeze = tfp_convexp.bijectors.Squeeze(factor=2)
  squeeze.forward(tf.zeros([5, 8, 8, 3])).shape  # [5, 4, 4, 12]
  ```

  #### References

  [1]: Laurent Dinh, Jascha Sohl-Dickstein and Samy Bengio. Density
       estimation using Real NVP. In _ICLR_, 2017.
  """

  def __init__(self, factor=2, validate_args=False, name='squeeze'):
    parameters = dict(locals())
    arguments.int_at_least(factor, 2, 'factor', 'Squeeze')
    with tf.name_scope(name) as name:
      self._factor = factor
      super().__init__(
          forward_min_event_ndims=3,
          is_constant_jacobian=True,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  @property
  def factor(self):
    """The side `f` of the `f x f` blocks traded for channels."""
    return self._factor

  def _check_divisible(self, shape):
    h, w = shape[-3], shape[-2]
    for size, axis in ((h, 'height'), (w, 'width')):
      if size is not None and size % self._factor:
        raise ValueError(f'Squeeze: image {axis} must be divisible by '
                         f'{self._factor}; got event shape {shape[-3:]}.')

  def _rank_check(self, x):
    if x.shape.rank is not None and x.shape.rank < 3:
      raise ValueError(f'Squeeze: expected a tensor of shape [..., H, W, C]; '
                       f'got shape {x.shape}.')

  def _apply(self, x, fn, out_event_shape):
    batch = tf.shape(x)[:-3]
    flat = tf.reshape(x, tf.concat([[-1], tf.shape(x)[-3:]], axis=0))
    out = fn(flat, self._factor)
    return tf.reshape(out, tf.concat([batch, out_event_shape], axis=0))

  def _forward(self, x):
    self._rank_check(x)
    self._check_divisible(x.shape)
    return self._apply(x, tf.nn.space_to_depth,
                       self._forward_event_shape_tensor(tf.shape(x)[-3:]))

  def _inverse(self, y):
    self._rank_check(y)
    if y.shape[-1] is not None and y.shape[-1] % self._factor**2:
      raise ValueError(f'Squeeze: inverse needs a channel count divisible by '
                       f'{self._factor**2}; got shape {y.shape}.')
    return self._apply(y, tf.nn.depth_to_space,
                       self._inverse_event_shape_tensor(tf.shape(y)[-3:]))

  def _forward_log_det_jacobian(self, x):
    return tf.zeros([], dtype=x.dtype)

  def _forward_event_shape(self, shape):
    if shape.rank is None:
      return shape
    self._check_divisible(shape)
    f = self._factor
    h, w, c = shape[-3:]
    div = lambda d, k: None if d is None else d // k
    mul = lambda d, k: None if d is None else d * k
    return shape[:-3].concatenate([div(h, f), div(w, f), mul(c, f * f)])

  def _inverse_event_shape(self, shape):
    if shape.rank is None:
      return shape
    f = self._factor
    h, w, c = shape[-3:]
    div = lambda d, k: None if d is None else d // k
    mul = lambda d, k: None if d is None else d * k
    return shape[:-3].concatenate([mul(h, f), mul(w, f), div(c, f * f)])

  def _forward_event_shape_tensor(self, shape):
    f = self._factor
    shape = tf.cast(shape, tf.int32)
    return tf.concat([shape[:-3], shape[-3:-1] // f, shape[-1:] * f * f], 0)

  def _inverse_event_shape_tensor(self, shape):
    f = self._factor
    shape = tf.cast(shape, tf.int32)
    return tf.concat([shape[:-3], shape[-3:-1] * f, shape[-1:] // (f * f)], 0)
