"""Small convolution modules: `tf.Module`s whose variables TFP can see."""

import numpy as np
import tensorflow as tf

from tfp_convexp import ops

__all__ = ['Conv2D', 'GatedConv2D', 'INITS']

# How a convolution starts: He-normal weights and zero bias, or PyTorch's
# default for `nn.Conv2d` (weights and bias uniform in +-1/sqrt(fan_in)),
# the initialisation of the papers' reference code.
INITS = ('he_normal', 'uniform_fan_in')
"""The conditioners' weight initialisations (`uniform_fan_in`: PyTorch's)."""


class Conv2D(tf.Module):
  """`conv2d(x, kernel, 'SAME') + bias`, initialised as `init` (one of
  `INITS`) or at zero."""

  def __init__(self, in_channels, out_channels, kernel_size=3, zero_init=False,
               seed=None, dtype=tf.float32, init='he_normal', name=None):
    super().__init__(name=name)
    if init not in INITS:
      raise ValueError(f'Conv2D: `init` must be one of {INITS}; got '
                       f'{init!r}.')
    shape = (kernel_size, kernel_size, in_channels, out_channels)
    fan_in = kernel_size * kernel_size * in_channels
    rng = np.random.default_rng(seed)
    if zero_init:
      kernel, bias = np.zeros(shape), np.zeros(out_channels)
    elif init == 'he_normal':
      kernel = rng.standard_normal(shape) * np.sqrt(2. / fan_in)
      bias = np.zeros(out_channels)
    else:
      bound = 1. / np.sqrt(fan_in)
      kernel = rng.uniform(-bound, bound, shape)
      bias = rng.uniform(-bound, bound, out_channels)
    np_dtype = tf.as_dtype(dtype).as_numpy_dtype
    self.kernel = tf.Variable(kernel.astype(np_dtype), name='kernel')
    self.bias = tf.Variable(bias.astype(np_dtype), name='bias')

  def __call__(self, x):
    return ops.conv2d(x, self.kernel) + self.bias


class GatedConv2D(tf.Module):
  """`a + b * sigmoid(c)` from one convolution giving `[a, b, c]`."""

  def __init__(self, in_channels, out_channels, kernel_size=1, zero_init=False,
               seed=None, dtype=tf.float32, init='he_normal', name=None):
    super().__init__(name=name)
    self.conv = Conv2D(in_channels, 3 * out_channels, kernel_size, zero_init,
                       seed, dtype, init)

  def __call__(self, x):
    a, b, c = tf.split(self.conv(x), 3, axis=-1)
    return a + b * tf.sigmoid(c)
