"""Dequantization noise q(u | x) for integer images: uniform and variational."""

import math

import tensorflow as tf

from tfp_convexp.bijectors import Squeeze
from tfp_convexp.flows import chain

__all__ = ['UniformDequantizer', 'VariationalDequantizer']


class UniformDequantizer(tf.Module):
  """`u ~ U[0, 1)^D`, so `log q(u | x) = 0`.

  `base_noise` (optional, `[K, B, H, W, C]` uniform draws) replaces the draws
  from `seed`, so an input pipeline can fix the noise of every example.
  """

  base_noise_kind = 'uniform'
  """The base draws `log_prob(base_noise=...)` takes: uniform on [0, 1)."""


  def __init__(self, image_shape, dtype=tf.float32, name=None):
    super().__init__(name=name)
    self.image_shape = tuple(image_shape)
    self.dtype = tf.as_dtype(dtype)

  def sample_and_log_prob(self, x, num_samples, seed, base_noise=None):
    """`u` of shape `[K, B, H, W, C]` and `log q(u | x)` of shape `[K, B]`."""
    shape = tf.concat([[num_samples], tf.shape(x)], 0)
    if base_noise is None:
      u = tf.random.stateless_uniform(shape, seed, dtype=self.dtype)
    else:
      u = tf.reshape(tf.cast(base_noise, self.dtype), shape)
    return u, tf.zeros(shape[:-3], self.dtype)


class ContextNet(tf.Module):
  """Features of `x` at half resolution for the dequantization flow.

  As in the convolution-exponential experiments: a DenseNet on the
  normalised image, a 2x2 stride-2 convolution (here squeeze + 1x1, the same
  map), and a second DenseNet.
  """

  def __init__(self, first, reduce, second, name=None):
    super().__init__(name=name)
    self.first, self.reduce, self.second = first, reduce, second

  def __call__(self, x):
    h = tf.nn.space_to_depth(self.first(x), 2)
    return self.second(self.reduce(h))


class VariationalDequantizer(tf.Module):
  r"""Learned dequantization noise (Ho et al., 2019), a conditional flow.

  ```none
  eps ~ N(0, I);   h = g(eps; c(x));   u = sigmoid(h) in (0, 1)^D
  log q(u | x) = log N(eps) - log|det dg/deps| - sum log sigmoid'(h)
  ```

  `g` is a flow on `[H/2, W/2, 4C]` (squeeze, then the given layers, then
  unsqueeze) whose couplings see the context `c(x)` through their `context`
  keyword. The model's bound is then `log P(x) >= E_q[log p(x + u) -
  log q(u | x)]`. `base_noise` (optional, `[K, B, H, W, C]` standard-normal
  draws of `eps`) replaces the draws from `seed`.

  Args:
    image_shape: `[H, W, C]`, `H` and `W` even.
    layers: bijectors on `[H/2, W/2, 4C]`; those with `context_channels > 0`
      get the context.
    context_net: maps the normalised image `x / bins - 1/2` to
      `[B, H/2, W/2, context_channels]`.
    num_bins: pixel levels, for the normalisation.
  """

  def __init__(self, image_shape, layers, context_net, num_bins,
               dtype=tf.float32, name=None):
    super().__init__(name=name)
    self.image_shape = tuple(image_shape)
    if self.image_shape[0] % 2 or self.image_shape[1] % 2:
      raise ValueError(f'VariationalDequantizer: image height and width must '
                       f'be even (the flow works at half resolution); got '
                       f'{self.image_shape}.')
    self.layers = list(layers)
    self.context_net = context_net
    self.num_bins = num_bins
    self.dtype = tf.as_dtype(dtype)
    self._squeeze = Squeeze(2)

  base_noise_kind = 'normal'
  """The base draws `log_prob(base_noise=...)` takes: standard normal."""

  def sample_and_log_prob(self, x, num_samples, seed, base_noise=None):
    """`u` of shape `[K, B, H, W, C]` and `log q(u | x)` of shape `[K, B]`."""
    batch_shape = tf.shape(x)[:-3]
    x = tf.reshape(x, [-1, *self.image_shape])
    context = self.context_net(x / self.num_bins - 0.5)
    context = tf.tile(context[None], [num_samples, 1, 1, 1, 1])
    context = tf.reshape(context, tf.concat([[-1], tf.shape(context)[2:]], 0))
    eps_shape = tf.concat([[num_samples * tf.shape(x)[0]], self.image_shape], 0)
    if base_noise is None:
      eps = tf.random.stateless_normal(eps_shape, seed, dtype=self.dtype)
    else:
      eps = tf.reshape(tf.cast(base_noise, self.dtype), eps_shape)
    log_q = -0.5 * tf.reduce_sum(tf.square(eps) + math.log(2. * math.pi),
                                 axis=[1, 2, 3])
    u, log_det = self.transform(eps, context)
    out_shape = tf.concat([[num_samples], batch_shape], 0)
    return (tf.reshape(u, tf.concat([out_shape, self.image_shape], 0)),
            tf.reshape(log_q - log_det, out_shape))

  def transform(self, eps, context):
    """`u = sigmoid(g(eps; context))` and `log|det du/deps|`, for
    `eps: [B, H, W, C]` and `context: [B, H/2, W/2, context_channels]`."""
    h = self._squeeze.forward(eps)
    log_det = tf.zeros(tf.shape(eps)[:1], eps.dtype)
    kwargs = chain.call_kwargs(self.layers, 'VariationalDequantizer',
                               context=context)
    h, log_det = chain.forward(self.layers, h, log_det, kwargs)
    h = self._squeeze.inverse(h)
    log_det += tf.reduce_sum(tf.math.log_sigmoid(h) + tf.math.log_sigmoid(-h),
                             axis=[1, 2, 3])
    return tf.sigmoid(h), log_det
