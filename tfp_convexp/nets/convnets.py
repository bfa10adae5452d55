"""The plain and residual convolutional conditioners of Glow and MEF."""

import tensorflow as tf

from tfp_convexp.nets.layers import Conv2D

__all__ = ['PlainConvNet', 'ResidualConvNet']


class PlainConvNet(tf.Module):
  """conv3x3 - ReLU - conv1x1 - ReLU - conv3x3 (zero-initialised).

  Glow's coupling network, and the baseline coupling of the convolutional
  Sylvester experiments. The last convolution starts at zero, so a coupling
  built on it starts as the identity.
  """

  def __init__(self, in_channels, out_channels, hidden_channels=512, seed=0,
               dtype=tf.float32, init='he_normal', name=None):
    super().__init__(name=name)
    self.first = Conv2D(in_channels, hidden_channels, 3, seed=seed,
                        dtype=dtype, init=init)
    self.middle = Conv2D(hidden_channels, hidden_channels, 1, seed=seed + 1,
                         dtype=dtype, init=init)
    self.last = Conv2D(hidden_channels, out_channels, 3, zero_init=True,
                       dtype=dtype)

  def __call__(self, x):
    h = tf.nn.relu(self.first(x))
    return self.last(tf.nn.relu(self.middle(h)))


class _ResidualBlock(tf.Module):

  def __init__(self, channels, seed, dtype, init, name=None):
    super().__init__(name=name)
    self.conv1 = Conv2D(channels, channels, 3, seed=seed, dtype=dtype,
                        init=init)
    self.conv2 = Conv2D(channels, channels, 1, seed=seed + 1, dtype=dtype,
                        init=init)
    # Zero: each block starts as the identity (MEF scales it by 0 at init).
    self.conv3 = Conv2D(channels, channels, 3, zero_init=True, dtype=dtype)

  def __call__(self, x):
    h = tf.nn.elu(self.conv1(x))
    h = tf.nn.elu(self.conv2(h))
    return tf.nn.elu(x + self.conv3(h))


class ResidualConvNet(tf.Module):
  """conv3x3 - ELU, `num_blocks` residual blocks, conv3x3 (zero-initialised).

  The conditioner of MEF's coupling layers (Xiao & Liu, 2020): each block is
  conv3x3 - ELU - conv1x1 - ELU - conv3x3, added to its input, then ELU.
  MEF normalises each convolution with a data-initialised scale; here the
  convolutions carry a bias instead, and the residual branch starts at zero.
  """

  def __init__(self, in_channels, out_channels, hidden_channels=128,
               num_blocks=8, seed=0, dtype=tf.float32, init='he_normal',
               name=None):
    super().__init__(name=name)
    self.first = Conv2D(in_channels, hidden_channels, 3, seed=seed,
                        dtype=dtype, init=init)
    self.blocks = [
        _ResidualBlock(hidden_channels, seed + 10 * (i + 1), dtype, init)
        for i in range(num_blocks)]
    self.last = Conv2D(hidden_channels, out_channels, 3, zero_init=True,
                       dtype=dtype)

  def __call__(self, x):
    h = tf.nn.elu(self.first(x))
    for block in self.blocks:
      h = block(h)
    return self.last(h)
