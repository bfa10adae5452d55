"""The autoregressive residual of Sylvester flows."""

import tensorflow as tf

from tfp_convexp.nets import masked


class AutoregressiveResidual(tf.Module):
  r"""`f_AR(u) = s_2 tanh(s_1 u + t_1) + t_2`, returning `(f_AR(u), diag J)`.

  `s_1 = tanh(.)`, `s_2 = scale_bound * tanh(.)` and `t_1, t_2` come from
  masked layers (`tfp_convexp.nets.MaskedDense` or `MaskedConv2D`) in which
  dimension `i` only sees dimensions before it, so `J = df_AR/du` is lower
  triangular with diagonal `s_2 s_1 tanh'(s_1 u + t_1)`, whose magnitude is
  at most `scale_bound < 1`: `1 + diag J > 0`, the condition that makes
  `u -> u + f_AR(u)` invertible. The output layer starts at zero, so the
  flow starts as the identity.

  Args:
    data_units: `D` (dense) or `C` (convolutional).
    hidden_units: width of the two hidden layers, a multiple of `data_units`.
    conv: masked 3x3 / 1x1 / 3x3 convolutions instead of dense layers.
    kernel_size: of the first and last convolution.
    scale_bound: in (0, 1); 0.5 in the reference code.
    seed: int.
  """

  def __init__(self, data_units, hidden_units, conv=False, kernel_size=3,
               scale_bound=0.5, seed=0, dtype=tf.float32, name=None):
    super().__init__(name=name)
    if not 0. < scale_bound < 1.:
      raise ValueError(f'{type(self).__name__}: `scale_bound` must be in '
                       f'(0, 1) so that 1 + diag J > 0; got {scale_bound!r}.')
    self._scale_bound = float(scale_bound)
    self._data_units = data_units
    if conv:
      layer = lambda i, o, k, strict, **kw: masked.MaskedConv2D(
          i, o, data_units, k, strict, dtype=dtype, **kw)
    else:
      layer = lambda i, o, k, strict, **kw: masked.MaskedDense(
          i, o, data_units, strict, dtype=dtype, **kw)
    self.hidden = [layer(data_units, hidden_units, kernel_size, False,
                         seed=seed),
                   layer(hidden_units, hidden_units, 1, False, seed=seed + 1)]
    # One strict head for [t1, s1, t2, s2]: 4 units per data dimension, in
    # degree order, so that a reshape groups them by dimension.
    self.head = layer(hidden_units, 4 * data_units, kernel_size, True,
                      zero_init=True)

  def __call__(self, u):
    h = u
    for layer in self.hidden:
      h = tf.nn.relu(layer(h))
    h = self.head(h)
    h = tf.reshape(h, tf.concat([tf.shape(h)[:-1], [self._data_units, 4]], 0))
    t1, s1, t2, s2 = tf.unstack(h, axis=-1)
    s1 = tf.tanh(s1)
    s2 = self._scale_bound * tf.tanh(s2)
    a = tf.tanh(s1 * u + t1)
    return s2 * a + t2, s2 * s1 * (1. - tf.square(a))
