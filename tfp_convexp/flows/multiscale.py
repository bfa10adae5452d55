"""The multiscale data-to-latent bijector: levels of layers with factor-outs."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_convexp.bijectors.internal import augmented
from tfp_convexp.bijectors.internal import base
from tfp_convexp.flows import chain

__all__ = ['Level', 'MultiscaleFlow']


class Level(object):
  """One scale: `layers` applied in order, then `factor_out` channels split off.

  Args:
    layers: bijectors acting on `[H, W, C]` events (any of them may change
      the shape, e.g. a squeeze).
    factor_out: channels split off at the end of the level and sent to the
      latent (0 for the last level).
  """

  def __init__(self, layers, factor_out=0):
    self.layers = list(layers)
    self.factor_out = int(factor_out)


class MultiscaleFlow(augmented.AugmentedBijector, base.OwnsVariables):
  r"""Maps images `[H, W, C]` to latent vectors `[H W C]` through levels.

  ```none
  forward:  h_0 = x;  per level l: h = layers_l(h_{l-1});
            [h_l, z_l] = split(h, factor_out_l);   z = concat(z_1, ..., h_L)
  inverse:  the same steps backwards
  log-det:  the sum of the layers' log-determinants (splits have none)
  ```

  This is the data-to-latent direction of a multiscale flow (Dinh et al.'s
  RealNVP, Glow): factored-out channels leave the flow early and go straight
  to the latent, so deeper levels work on fewer dimensions. Wrap it in
  `tfb.Invert` over a standard-normal `[D]` base to get a
  `tfd.TransformedDistribution` over images (that is what
  `tfp_convexp.flows.make_flow` does). Learned split priors are coupling
  layers at the end of a level (the factored-out half, shifted and scaled
  by what the kept half predicts, is standard normal).

  Shapes are built from int32 tensors, so an unknown batch size works
  (unlike `tfb.Glow`, whose int64 reshapes fail with one). Layers that
  estimate their log-determinant with a Russian roulette get their own
  stateless seed split off the `seed` keyword; class-conditional layers
  (`ClassConditionalAffine`) get the `label` keyword (ints, broadcast to the
  batch shape).

  #### Example

  ```python
  flow = MultiscaleFlow([8, 8, 1], [
      Level([Squeeze(), ConvolutionExponential([4, 4, 4])], factor_out=2),
      Level([Squeeze(), Conv1x1([2, 2, 8])])])
  z = flow.forward(images)      # [B, 64]
  ```
  """

  def __init__(self, image_shape, levels, validate_args=False,
               name='multiscale_flow'):
    """Builds the flow.

    Args:
      image_shape: `[H, W, C]` of the input.
      levels: a list of `Level`s.
      validate_args: passed on to checks of this bijector.
      name: name scope.
    """
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      self._image_shape = tuple(int(d) for d in image_shape)
      self._levels = list(levels)
      # Tracked attributes: the layers' variables belong to this bijector.
      self._layers = [layer for level in self._levels for layer in level.layers]
      self._shapes = []  # the event shape at the end of each level
      shape = tf.TensorShape(self._image_shape)
      for i, level in enumerate(self._levels):
        for layer in level.layers:
          shape = layer.forward_event_shape(shape)
        if level.factor_out and not 0 < level.factor_out < shape[-1]:
          raise ValueError(f'MultiscaleFlow: level {i} ends with {shape[-1]} '
                           f'channels and cannot factor out '
                           f'{level.factor_out}.')
        self._shapes.append(tuple(int(d) for d in shape))
        shape = shape[:-1].concatenate([shape[-1] - level.factor_out])
      dtypes = {layer.dtype for layer in self._layers} - {None}
      if len(dtypes) > 1:
        raise ValueError(f'MultiscaleFlow: layers mix dtypes {dtypes}.')
      super().__init__(
          forward_min_event_ndims=3,
          inverse_min_event_ndims=1,
          is_constant_jacobian=False,
          dtype=dtypes.pop() if dtypes else None,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  @property
  def image_shape(self):
    """`(H, W, C)` of the input images."""
    return self._image_shape

  @property
  def levels(self):
    """The `Level`s, data to latent."""
    return self._levels

  @property
  def layers(self):
    """Every level's layers, in order."""
    return self._layers

  @property
  def latent_size(self):
    """`D = H W C`, the length of a latent vector."""
    return int(np.prod(self._image_shape))

  def _level_kwargs(self, seed, label, batch_shape):
    """Per level, the keyword arguments of each of its layers' calls; the
    label (class-conditional layers) broadcast to the batch and flattened
    as the images are."""
    if label is not None:
      label = tf.reshape(tf.broadcast_to(label, batch_shape), [-1])
    kwargs = iter(chain.call_kwargs(self._layers, 'MultiscaleFlow', seed=seed,
                                    label=label))
    return [[next(kwargs) for _ in level.layers] for level in self._levels]

  def _check(self, x, event_shape, what):
    shape = x.shape
    if shape.rank is not None and (
        shape.rank < len(event_shape) or not tf.TensorShape(
            shape[shape.rank - len(event_shape):]).is_compatible_with(
                event_shape)):
      raise ValueError(f'MultiscaleFlow: expected {what} of shape '
                       f'[..., {", ".join(map(str, event_shape))}]; got shape '
                       f'{shape}.')

  def _forward_and_log_det(self, x, seed=None, label=None):
    self._check(x, self._image_shape, 'images')
    batch_shape = tf.shape(x)[:-3]
    h = tf.reshape(x, [-1, *self._image_shape])
    ldj = tf.zeros(tf.shape(h)[:1], h.dtype)
    parts = []
    for level, shape, kwargs in zip(
        self._levels, self._shapes,
        self._level_kwargs(seed, label, batch_shape)):
      h, ldj = chain.forward(level.layers, h, ldj, kwargs)
      if level.factor_out:
        keep = shape[-1] - level.factor_out
        parts.append(tf.reshape(h[..., keep:], [tf.shape(h)[0], -1]))
        h = h[..., :keep]
    parts.append(tf.reshape(h, [tf.shape(h)[0], -1]))
    z = tf.concat(parts, axis=-1)
    return (tf.reshape(z, tf.concat([batch_shape, [self.latent_size]], 0)),
            tf.reshape(ldj, batch_shape))

  def _inverse_and_log_det(self, z, seed=None, label=None):
    self._check(z, [self.latent_size], 'latent vectors')
    batch_shape = tf.shape(z)[:-1]
    z = tf.reshape(z, [-1, self.latent_size])
    sizes = [int(np.prod(s[:-1])) * l.factor_out
             for l, s in zip(self._levels, self._shapes) if l.factor_out]
    sizes.append(self.latent_size - sum(sizes))
    parts = tf.split(z, sizes, axis=-1)
    last = self._shapes[-1]
    h = tf.reshape(parts.pop(), [-1, *last[:-1],
                                 last[-1] - self._levels[-1].factor_out])
    ildj = tf.zeros(tf.shape(z)[:1], z.dtype)
    for level, shape, kwargs in zip(self._levels[::-1], self._shapes[::-1],
                                    self._level_kwargs(seed, label,
                                                       batch_shape)[::-1]):
      if level.factor_out:
        out = tf.reshape(parts.pop(), [-1, *shape[:-1], level.factor_out])
        h = tf.concat([h, out], axis=-1)
      h, ildj = chain.inverse(level.layers, h, ildj, kwargs)
    return (tf.reshape(h, tf.concat([batch_shape, self._image_shape], 0)),
            tf.reshape(ildj, batch_shape))

  def _forward_event_shape(self, input_shape):
    return input_shape[:-3].concatenate([self.latent_size])

  def _forward_event_shape_tensor(self, input_shape):
    return tf.concat([input_shape[:-3], [self.latent_size]], 0)

  def _inverse_event_shape(self, output_shape):
    return output_shape[:-1].concatenate(self._image_shape)

  def _inverse_event_shape_tensor(self, output_shape):
    return tf.concat([output_shape[:-1], self._image_shape], 0)


def standard_normal_latent(flow):
  """`tfd.TransformedDistribution` of a standard-normal `[D]` through `flow`'s
  inverse: a density over images."""
  dtype = flow.dtype or tf.float32
  base = tfp.distributions.Sample(
      tfp.distributions.Normal(tf.constant(0., dtype), tf.constant(1., dtype)),
      [flow.latent_size])
  return tfp.distributions.TransformedDistribution(
      base, tfp.bijectors.Invert(flow))
