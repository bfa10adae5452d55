"""Small convolution modules: `tf.Module`s whose variables TFP can see."""

import numpy as np
import tensorflow as tf

__all__ = ['Conv2D', 'GatedConv2D']


class Conv2D(tf.Module):
  """`conv2d(x, kernel, 'SAME') + bias`, He-normal or zero initialised."""

  def __init__(self, in_channels, out_channels, kernel_size=3, zero_init=False,
               seed=None, dtype=tf.float32, name=None):
    super().__init__(name=name)
    shape = (kernel_size, kernel_size, in_channels, out_channels)
    if zero_init:
      init = np.zeros(shape)
    else:
      fan_in = kernel_size * kernel_size * in_channels
      init = np.random.default_rng(seed).standard_normal(shape) * np.sqrt(
          2. / fan_in)
    np_dtype = tf.as_dtype(dtype).as_numpy_dtype
    self.kernel = tf.Variable(init.astype(np_dtype), name='kernel')
    self.bias = tf.Variable(np.zeros(out_channels, np_dtype), name='bias')

  def __call__(self, x):
    return tf.nn.conv2d(x, self.kernel, 1, 'SAME') + self.bias


class GatedConv2D(tf.Module):
  """`a + b * sigmoid(c)` from one convolution giving `[a, b, c]`."""

  def __init__(self, in_channels, out_channels, kernel_size=1, zero_init=False,
               seed=None, dtype=tf.float32, name=None):
    super().__init__(name=name)
    self.conv = Conv2D(in_channels, 3 * out_channels, kernel_size, zero_init,
                       seed, dtype)

  def __call__(self, x):
    a, b, c = tf.split(self.conv(x), 3, axis=-1)
    return a + b * tf.sigmoid(c)
