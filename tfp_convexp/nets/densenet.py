"""DenseNets as coupling conditioners, as in the convolution-exponential code."""

import tensorflow as tf

from tfp_convexp.nets.layers import Conv2D
from tfp_convexp.nets.layers import GatedConv2D

__all__ = ['DenseNet', 'DenseInResidualNet']


class _DenseLayer(tf.Module):
  """1x1 conv, ReLU, 3x3 conv to `growth` channels, ReLU; output appended."""

  def __init__(self, in_channels, growth, seed, dtype, init, name=None):
    super().__init__(name=name)
    self.squeeze = Conv2D(in_channels, in_channels, 1, seed=seed, dtype=dtype,
                          init=init)
    self.grow = Conv2D(in_channels, growth, 3, seed=seed + 1, dtype=dtype,
                       init=init)

  def __call__(self, x):
    h = tf.nn.relu(self.grow(tf.nn.relu(self.squeeze(x))))
    return tf.concat([x, h], axis=-1)


class DenseNet(tf.Module):
  """`depth` dense layers of `growth` channels, then a 1x1 (gated) output.

  Args:
    in_channels, out_channels: Python ints.
    depth, growth: the dense layers (the paper's mixing runs: 8 and 64).
    gated: a gated 1x1 output convolution (`a + b sigmoid(c)`).
    zero_init: start the output convolution at zero.
    seed: int for the initialisation.
    init: of the convolutions, one of `nets.INITS`.
  """

  def __init__(self, in_channels, out_channels, depth=8, growth=64,
               gated=True, zero_init=False, seed=0, dtype=tf.float32,
               init='he_normal', name=None):
    super().__init__(name=name)
    self.layers = []
    channels = in_channels
    for i in range(depth):
      self.layers.append(_DenseLayer(channels, growth, seed + 2 * i, dtype,
                                     init))
      channels += growth
    output = GatedConv2D if gated else Conv2D
    self.output = output(channels, out_channels, 1, zero_init=zero_init,
                         seed=seed + 2 * depth, dtype=dtype, init=init)

  def __call__(self, x):
    for layer in self.layers:
      x = layer(x)
    return self.output(x)


class DenseInResidualNet(tf.Module):
  """1x1 conv in, `num_densenets` residual DenseNets, 1x1 conv out (zero).

  The conditioner of the reference code's couplings: the last convolution
  starts at zero, so a coupling built on it starts as the identity.

  Args:
    in_channels, out_channels: Python ints.
    intermediate_channels: width between the DenseNets (paper: 64).
    num_densenets: residual DenseNet blocks (paper: 1).
    depth, growth, gated: of each DenseNet.
    seed: int for the initialisation.
    init: of the convolutions but the last, one of `nets.INITS`.
  """

  def __init__(self, in_channels, out_channels, intermediate_channels=64,
               num_densenets=1, depth=8, growth=64, gated=True, seed=0,
               dtype=tf.float32, init='he_normal', name=None):
    super().__init__(name=name)
    self.first = Conv2D(in_channels, intermediate_channels, 1, seed=seed,
                        dtype=dtype, init=init)
    self.blocks = [
        DenseNet(intermediate_channels, intermediate_channels, depth, growth,
                 gated, seed=seed + 1000 * (i + 1), dtype=dtype, init=init)
        for i in range(num_densenets)]
    self.last = Conv2D(intermediate_channels, out_channels, 1, zero_init=True,
                       dtype=dtype)

  def __call__(self, x):
    h = self.first(x)
    for block in self.blocks:
      h = h + block(h)
    return self.last(h)
