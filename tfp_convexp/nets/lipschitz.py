"""Networks with a certified Lipschitz constant below one (residual flows)."""

import numpy as np
import tensorflow as tf

from tfp_convexp import ops


class LipSwish(tf.Module):
  """`x sigmoid(softplus(beta) x) / 1.1` with a learned `beta` (Chen et al.,
  2019): 1-Lipschitz for every `beta`, since the slope of `x sigmoid(b x)`
  never exceeds 1.0998 whatever `b >= 0`."""

  def __init__(self, dtype=tf.float32, name=None):
    super().__init__(name=name)
    self.beta = tf.Variable(tf.constant(0.5, dtype), name='beta')

  def __call__(self, x):
    return x * tf.sigmoid(x * tf.nn.softplus(self.beta)) / 1.1


class CertifiedConv2D(tf.Module):
  """A 'SAME' convolution kept at a certified `||conv||_2 <= norm_bound` on
  `spatial_shape` images; its kernel's constraint is the projection."""

  def __init__(self, in_channels, out_channels, kernel_size, spatial_shape,
               norm_bound, gram_iterations=6, seed=0, dtype=tf.float32,
               name=None):
    super().__init__(name=name)
    self._spatial_shape = tuple(spatial_shape)
    self._gram_iterations = gram_iterations
    shape = (kernel_size, kernel_size, in_channels, out_channels)
    init = np.random.default_rng(seed).standard_normal(shape) * np.sqrt(
        1. / (kernel_size * kernel_size * in_channels))
    np_dtype = dtype.as_numpy_dtype
    projected = ops.norm_projection(self.norm_of, norm_bound)
    self.kernel = tf.Variable(projected(init.astype(np_dtype)), name='kernel',
                              constraint=projected)
    self.bias = tf.Variable(np.zeros(out_channels, np_dtype), name='bias')

  def norm_of(self, kernel):
    """Certified upper bound on the operator norm of `kernel`'s convolution."""
    return ops.conv_operator_norm_bound(kernel, self._spatial_shape, 'SAME',
                                        self._gram_iterations)

  def __call__(self, x):
    return ops.conv2d(x, self.kernel) + self.bias


class LipschitzResidualNet(tf.Module):
  """`g`: conv 3x3, LipSwish, conv 1x1, LipSwish, conv 3x3, each convolution
  certified at `||.||_2 <= norm_bound`, so `Lip(g) <= norm_bound^3`."""

  def __init__(self, channels, hidden_channels, spatial_shape, norm_bound,
               gram_iterations=6, seed=0, dtype=tf.float32, name=None):
    super().__init__(name=name)
    conv = lambda i, o, k, s: CertifiedConv2D(
        i, o, k, spatial_shape, norm_bound, gram_iterations, seed + s, dtype)
    self.convs = [conv(channels, hidden_channels, 3, 0),
                  conv(hidden_channels, hidden_channels, 1, 1),
                  conv(hidden_channels, channels, 3, 2)]
    self.activations = [LipSwish(dtype), LipSwish(dtype)]

  def lipschitz_bound(self):
    """Certified bound on `Lip(g)`: the product of the convolutions' norms."""
    return tf.reduce_prod(tf.stack([c.norm_of(c.kernel) for c in self.convs]))

  def __call__(self, x):
    h = self.activations[0](self.convs[0](x))
    h = self.activations[1](self.convs[1](h))
    return self.convs[2](h)
