"""TFP's own `tfb.Glow` as an image layer, the outside baseline of the study.

`make_flow(..., layout='tfp_glow')` puts this one layer where the
`'multiscale'` layout puts its levels, so that TFP's Glow trains, evaluates
and samples through the same program and the same dequantization as every
other model of this package.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

from tfp_convexp.bijectors.internal import augmented
from tfp_convexp.bijectors.internal import image_events

tfb = tfp.bijectors

__all__ = ['TFPGlow']


def _seeded_network(num_hidden, seed):
  """`tfb.GlowDefaultNetwork` of width `num_hidden` whose random (He-normal)
  kernels are drawn from `seed`: TFP's nets take no seed, so an unseeded
  draw would make every build different."""
  count = [0]

  def build(input_shape):
    net = tfb.GlowDefaultNetwork(input_shape, num_hidden=num_hidden)
    for layer in net.layers:
      if isinstance(layer.kernel_initializer,
                    tf_keras.initializers.HeNormal):
        count[0] += 1
        fan_in = layer.kernel.shape[:-1].num_elements()
        layer.kernel.assign(tf.random.stateless_truncated_normal(
            layer.kernel.shape, [seed, count[0]], dtype=layer.kernel.dtype) *
                            tf.sqrt(2. / fan_in) / 0.87962566103423978)
    return net
  return build


def _redraw_rotations(glow, seed):
  """Redraws the LU 1x1 convolutions' initial rotations from `seed`, as TFP
  draws them (the LU factors of the Q of a uniform matrix's QR), but with
  stateless ops: TFP's op-seeded draws differ from build to build."""
  variables = glow.variables
  for i, (lu, perm) in enumerate(zip(
      [v for v in variables if v.name.endswith('/lower_upper:0')],
      [v for v in variables if v.name.endswith('/permutation:0')])):
    n = lu.shape[0]
    q = tf.linalg.qr(tf.random.stateless_uniform([n, n], [seed, 2**20 + i],
                                                 dtype=lu.dtype))[0]
    lower_upper, permutation = tf.linalg.lu(q)
    lu.assign(lower_upper)
    perm.assign(permutation)


class TFPGlow(augmented.AugmentedBijector):
  r"""Images `[H, W, C]` to latents of the same shape through `tfb.Glow`.

  ```none
  forward:  z = reshape(G^-1(x), [H, W, C])   (tfb.Glow's G maps latents to
  inverse:  x = G(reshape(z, [H W C]))         images)
  log-det:  log|det dG^-1/dx|, from tfb.Glow
  ```

  TFP's Glow: `n_levels` blocks of `n_subflows` steps [ActNorm, LU 1x1
  convolution, affine coupling with a sigmoid scale and
  `tfb.GlowDefaultNetwork` (conv3x3-ReLU-conv1x1-ReLU-conv3x3 of width
  `num_hidden`)], and after every block but the last half of the channels
  exit through `tfb.GlowDefaultExitNetwork` (a learned conditional shift and
  scale, Glow's split prior). Its ActNorm initialises itself from the first
  batch it sees.

  TFP draws the initial weights without a seed (the coupling nets) or with
  op-seeded stateful ops (the 1x1 rotations), so this layer redraws them
  from `seed` with stateless ops, from the same distributions: the same
  `seed` gives the same weights. `tfb.Glow` needs a known batch size.

  #### Example

  ```python
  glow = TFPGlow([16, 16, 3], num_glow_blocks=2, num_steps_per_block=4,
                 num_hidden=64, seed=1)
  z = glow.forward(images)     # [B, 16, 16, 3]
  ```
  """

  def __init__(self, image_shape, num_glow_blocks=3, num_steps_per_block=32,
               num_hidden=400, seed=0, validate_args=False, name='tfp_glow'):
    """Builds the layer.

    Args:
      image_shape: `[H, W, C]`, `H` and `W` divisible by `2^num_glow_blocks`.
      num_glow_blocks: levels of the Glow.
      num_steps_per_block: steps per level.
      num_hidden: width of every coupling network.
      seed: int seed of the weights.
      validate_args: passed on to `tfb.Glow`.
      name: name scope.
    """
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      self._image_shape = image_events.image_event_shape(image_shape,
                                                         'TFPGlow')
      self._glow = tfb.Glow(
          output_shape=self._image_shape, num_glow_blocks=num_glow_blocks,
          num_steps_per_block=num_steps_per_block,
          coupling_bijector_fn=_seeded_network(num_hidden, seed),
          exit_bijector_fn=tfb.GlowDefaultExitNetwork,
          seed=seed, validate_args=validate_args)
      _redraw_rotations(self._glow, seed)
      super().__init__(
          forward_min_event_ndims=3,
          is_constant_jacobian=False,
          dtype=tf.float32,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  @property
  def glow(self):
    """The wrapped `tfb.Glow`."""
    return self._glow

  def _forward_and_log_det(self, x):
    x = image_events.check_image_input(x, self._image_shape, 'TFPGlow',
                                       self.validate_args)
    images = image_events.to_nhwc(x, self._image_shape)
    z = self._glow.inverse(images)
    log_det = self._glow.inverse_log_det_jacobian(images, event_ndims=3)
    return (image_events.from_nhwc(z, x),
            tf.reshape(log_det, tf.shape(x)[:-3]))

  def _inverse_and_log_det(self, z):
    z = image_events.check_image_input(z, self._image_shape, 'TFPGlow',
                                       self.validate_args)
    flat = tf.reshape(z, [-1, int(np.prod(self._image_shape))])
    x = self._glow.forward(flat)
    log_det = self._glow.forward_log_det_jacobian(flat, event_ndims=1)
    return (image_events.from_nhwc(x, z),
            tf.reshape(log_det, tf.shape(z)[:-3]))
