"""`make_flow`: a whole multiscale image density model in one call."""

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_convexp import bijectors
from tfp_convexp import nets
from tfp_convexp.flows import dequantization as dequantization_lib
from tfp_convexp.flows import model as model_lib
from tfp_convexp.flows import multiscale

tfb = tfp.bijectors

__all__ = ['make_flow', 'MIXINGS', 'MODEL_TYPES', 'COUPLING_NETS',
           'DEQUANTIZATIONS', 'count_parameters']

MIXINGS = ('1x1', 'lu', 'qr', 'convexp', 'emerging', 'periodic', 'woodbury',
           'matrix_exp', 'none')
MODEL_TYPES = ('coupling', 'mef_coupling', 'sylvester', 'residual_flow')
COUPLING_NETS = ('densenet', 'plain', 'resnet')
DEQUANTIZATIONS = ('uniform', 'flow')


def count_parameters(module):
  """Number of trainable scalars of a `tf.Module` (e.g. a model)."""
  return int(sum(v.shape.num_elements() for v in module.trainable_variables))


def _choice(value, choices, arg):
  if value not in choices:
    raise ValueError(f'make_flow: `{arg}` must be one of {choices}; got '
                     f'{value!r}.')
  return value


def _positive_int(value, arg, minimum=1):
  if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
    raise ValueError(f'make_flow: `{arg}` must be an int >= {minimum}; got '
                     f'{value!r}.')
  return value


class _Builder(object):
  """Creates layers with unique names and seeds from one set of options."""

  def __init__(self, options):
    self.o = options
    self._count = 0

  def seed(self):
    self._count += 1
    return self.o['seed'] * 100003 + self._count

  def name(self, prefix, kind):
    return f'{prefix}_{kind}_{self._count}'

  def conditioner(self, in_channels, out_channels):
    o, seed, dtype = self.o, self.seed(), self.o['dtype']
    if o['coupling_net'] == 'densenet':
      return nets.DenseInResidualNet(
          in_channels, out_channels,
          intermediate_channels=o['n_intermediate_channels'],
          depth=o['densenet_depth'], growth=o['densenet_growth'],
          gated=o['use_gated_conv'], seed=seed, dtype=dtype)
    if o['coupling_net'] == 'plain':
      return nets.PlainConvNet(in_channels, out_channels,
                               hidden_channels=o['n_intermediate_channels'],
                               seed=seed, dtype=dtype)
    return nets.ResidualConvNet(in_channels, out_channels,
                                hidden_channels=o['n_intermediate_channels'],
                                num_blocks=o['resnet_blocks'], seed=seed,
                                dtype=dtype)

  def mixing(self, shape, prefix):
    """The mixing layers (a list: Woodbury comes after a 1x1 convolution)."""
    kind, dtype = self.o['mixing'], self.o['dtype']
    h, w, c = shape
    common = dict(seed=self.seed(), dtype=dtype,
                  name=self.name(prefix, 'mixing'))
    if kind == 'none':
      return []
    if kind in ('1x1', 'lu', 'qr'):
      parameterization = {'1x1': 'plain'}.get(kind, kind)
      return [bijectors.Conv1x1(shape, parameterization, **common)]
    if kind == 'convexp':
      return [bijectors.ConvolutionExponential(
          shape, norm_bound=self.o['convexp_coeff'], **common)]
    if kind == 'emerging':
      return [bijectors.EmergingConv(shape, **common)]
    if kind == 'periodic':
      return [bijectors.PeriodicConv(shape, kernel_size=min(3, h - (1 - h % 2),
                                                             w - (1 - w % 2)),
                                     **common)]
    if kind == 'matrix_exp':
      return [bijectors.MatrixExponential1x1(shape, **common)]
    # woodbury: a 1x1 convolution, then a spatial rank-24 update (the
    # convolution-exponential experiments' setting).
    first = bijectors.Conv1x1(shape, 'plain', **common)
    return [first, bijectors.Woodbury(
        shape, rank=(0, min(24, h * w)), seed=self.seed(), dtype=dtype,
        name=self.name(prefix, 'woodbury'))]

  def transform(self, shape, prefix, context_channels=0):
    o, dtype = self.o, self.o['dtype']
    c = shape[-1]
    kind = o['model_type']
    if context_channels and kind not in ('coupling', 'mef_coupling'):
      kind = 'coupling'  # the dequantization flow is a coupling flow
    if kind == 'coupling':
      k = c // 2
      return bijectors.AffineCoupling(
          shape, conditioner=self.conditioner(k + context_channels,
                                              2 * (c - k)),
          num_masked=k, scale_fn=o['coupling_scale'],
          log_scale_range=o['log_scale_range'],
          context_channels=context_channels, dtype=dtype,
          name=self.name(prefix, 'coupling'))
    if kind == 'mef_coupling':
      k = c - c // 2
      rank, outputs = bijectors.matrix_exponential_coupling.rank_and_outputs(
          c - k, o['mef_rank'])
      return bijectors.MatrixExponentialCoupling(
          shape, conditioner=self.conditioner(k + context_channels, outputs),
          num_masked=k, rank=rank, context_channels=context_channels,
          dtype=dtype, name=self.name(prefix, 'mef_coupling'))
    hidden = o['n_intermediate_channels']
    if kind == 'sylvester':
      hidden = -(-hidden // c) * c  # masked layers need a multiple of C
      return bijectors.ConvolutionalSylvester(
          shape, hidden_channels=hidden, norm_bound=o['convexp_coeff'],
          seed=self.seed(), dtype=dtype, name=self.name(prefix, 'sylvester'))
    return bijectors.ResidualFlowBlock(
        shape, hidden_channels=hidden,
        log_det_estimator=o['residual_log_det'], seed=self.seed(),
        dtype=dtype, name=self.name(prefix, 'residual_block'))

  def step(self, shape, prefix, context_channels=0):
    """[ActNorm], mixing, transform, and a channel reversal when nothing
    else would change which half a coupling sees."""
    layers = []
    if self.o['use_actnorm'] and not context_channels:
      layers.append(bijectors.ActNorm(shape, dtype=self.o['dtype'],
                                      name=self.name(prefix, 'actnorm')))
    mixing = self.mixing(shape, prefix)
    layers += mixing
    layers.append(self.transform(shape, prefix, context_channels))
    if not mixing and not isinstance(layers[-1], bijectors.ResidualFlowBlock):
      layers.append(tfb.Permute(list(range(shape[-1]))[::-1], axis=-1,
                                name=self.name(prefix, 'reverse')))
    return layers


def _check_image_shape(image_shape, n_levels):
  try:
    shape = tuple(int(d) for d in image_shape)
  except (TypeError, ValueError):
    shape = ()
  if len(shape) != 3 or min(shape) < 1:
    raise ValueError(f'make_flow: `image_shape` must be [H, W, C] of positive '
                     f'ints; got {image_shape!r}.')
  factor = 2 ** n_levels
  if shape[0] % factor or shape[1] % factor:
    raise ValueError(
        f'make_flow: n_levels={n_levels} squeezes the image {n_levels} times, '
        f'so height and width must be divisible by 2^{n_levels} = {factor}; '
        f'got image_shape {shape}.')
  return shape


def _float_dtype(dtype):
  dtype = tf.as_dtype(dtype)
  if dtype not in (tf.float32, tf.float64):
    raise ValueError(f'make_flow: `dtype` is the flow\'s floating dtype, '
                     f'float32 or float64 (images are integers anyway); got '
                     f'{dtype.name}.')
  return dtype


def make_flow(image_shape,
              num_bins=256,
              mixing='convexp',
              n_levels=2,
              n_subflows=4,
              model_type='coupling',
              coupling_net='densenet',
              densenet_depth=8,
              densenet_growth=64,
              n_intermediate_channels=64,
              use_gated_conv=True,
              resnet_blocks=8,
              coupling_scale='tanh',
              log_scale_range=2.,
              mef_rank=None,
              use_actnorm=True,
              use_splitprior=True,
              learn_top=True,
              convexp_coeff=0.95,
              residual_log_det='russian_roulette',
              dequantization='uniform',
              dequantize_subflows=4,
              n_context=32,
              seed=0,
              dtype=tf.float32,
              validate_args=True):
  """A multiscale flow over integer images, as a `tfd.Distribution`.

  Per level: a squeeze, then `n_subflows` steps of [ActNorm, the `mixing`
  layer, the `model_type` transformation], then (except at the last level)
  a split that factors out half of the channels: with `use_splitprior`
  through a learned conditional Gaussian (an affine coupling whose mean and
  scale come from the kept half), else straight to the standard normal.
  The last level ends in a learned per-channel Gaussian (`learn_top`).
  Pixels `v in [0, num_bins)` are first mapped to `v / num_bins - 1/2`.

  Args:
    image_shape: `[H, W, C]`; `H` and `W` divisible by `2^n_levels`.
    num_bins: pixel levels (256 for 8-bit images).
    mixing: one of `MIXINGS`: `'1x1'` (plain), `'lu'`, `'qr'`, `'convexp'`,
      `'emerging'`, `'periodic'`, `'woodbury'` (1x1 then a rank-24 spatial
      update), `'matrix_exp'` (MEF's 1x1), `'none'`.
    n_levels: levels.
    n_subflows: steps per level: an int, or one per level (MEF: 8, 4, 2).
    model_type: one of `MODEL_TYPES`: affine `'coupling'`, MEF's
      `'mef_coupling'`, convolutional `'sylvester'`, `'residual_flow'`.
    coupling_net: the couplings' and split priors' conditioner:
      `'densenet'` (dense-in-residual, the convolution-exponential
      experiments), `'plain'` (Glow's), `'resnet'` (MEF's).
    densenet_depth, densenet_growth, use_gated_conv: of `'densenet'`.
    n_intermediate_channels: width of every conditioner (and of the
      Sylvester and residual blocks).
    resnet_blocks: residual blocks of `'resnet'`.
    coupling_scale, log_scale_range: `AffineCoupling`'s scale bound.
    mef_rank: `MatrixExponentialCoupling`'s rank (None: MEF's choice).
    use_actnorm, use_splitprior, learn_top: see above.
    convexp_coeff: norm bound of every convolution exponential.
    residual_log_det: `'russian_roulette'` (needs a `seed` in `log_prob`) or
      `'exact'`.
    dequantization: `'uniform'` or `'flow'` (variational, with
      `dequantize_subflows` conditional couplings at half resolution and an
      `n_context`-channel context network).
    seed: int for all initialisations.
    dtype: floating dtype of the flow.
    validate_args: check pixel values on every call.

  Returns:
    A `tfp_convexp.flows.DequantizedFlow`: `log_prob` (nats, a lower bound;
    `num_samples` for an importance-weighted one), `sample(n, seed=...,
    temperature=...)`, `encode`, `decode`; `.flow` is the continuous
    `tfd.TransformedDistribution` over a standard-normal base.
  """
  _positive_int(n_levels, 'n_levels')
  subflows = ([n_subflows] * n_levels if isinstance(n_subflows, int)
              else list(n_subflows))
  if len(subflows) != n_levels:
    raise ValueError(f'make_flow: `n_subflows` must be an int or one int per '
                     f'level ({n_levels}); got {n_subflows!r}.')
  for n in subflows:
    _positive_int(n, 'n_subflows')
  _positive_int(num_bins, 'num_bins', 2)
  shape = _check_image_shape(image_shape, n_levels)
  options = dict(
      mixing=_choice(mixing, MIXINGS, 'mixing'),
      model_type=_choice(model_type, MODEL_TYPES, 'model_type'),
      coupling_net=_choice(coupling_net, COUPLING_NETS, 'coupling_net'),
      densenet_depth=_positive_int(densenet_depth, 'densenet_depth'),
      densenet_growth=_positive_int(densenet_growth, 'densenet_growth'),
      n_intermediate_channels=_positive_int(n_intermediate_channels,
                                            'n_intermediate_channels'),
      use_gated_conv=bool(use_gated_conv),
      resnet_blocks=_positive_int(resnet_blocks, 'resnet_blocks', 0),
      coupling_scale=coupling_scale, log_scale_range=log_scale_range,
      mef_rank=mef_rank, use_actnorm=bool(use_actnorm),
      convexp_coeff=convexp_coeff, residual_log_det=residual_log_det,
      seed=int(seed), dtype=_float_dtype(dtype))
  _choice(dequantization, DEQUANTIZATIONS, 'dequantization')
  build = _Builder(options)
  dtype = options['dtype']

  levels = []
  h, w, c = shape
  for level in range(n_levels):
    layers = []
    if level == 0:
      layers += [tfb.Scale(tf.constant(1. / num_bins, dtype), name='normalize'),
                 tfb.Shift(tf.constant(-0.5, dtype), name='center')]
    layers.append(bijectors.Squeeze(2, name=f'squeeze_{level}'))
    h, w, c = h // 2, w // 2, 4 * c
    for i in range(subflows[level]):
      layers += build.step((h, w, c), f'level{level}_step{i}')
    factor_out = 0
    if level < n_levels - 1:
      factor_out = c // 2
      if use_splitprior:
        keep = c - factor_out
        layers.append(bijectors.AffineCoupling(
            (h, w, c), conditioner=build.conditioner(keep, 2 * factor_out),
            num_masked=keep, log_scale_range=log_scale_range, dtype=dtype,
            name=build.name(f'level{level}', 'split_prior')))
    elif learn_top:
      layers.append(bijectors.ActNorm((h, w, c), data_init=False, dtype=dtype,
                                      name='top_prior'))
    levels.append(multiscale.Level(layers, factor_out))
    c -= factor_out
  flow = multiscale.standard_normal_latent(
      multiscale.MultiscaleFlow(shape, levels))

  if dequantization == 'uniform':
    dequantizer = dequantization_lib.UniformDequantizer(shape, dtype)
  else:
    dequantizer = _variational_dequantizer(build, shape, num_bins,
                                           dequantize_subflows, n_context)
  return model_lib.DequantizedFlow(flow, dequantizer, num_bins,
                                   validate_args=validate_args)



def _variational_dequantizer(build, shape, num_bins, n_subflows, n_context):
  """The reference's q(u | x): context DenseNets, then `n_subflows`
  conditional couplings (of the model's coupling type, else affine) with the
  model's mixing layer, at half resolution."""
  _positive_int(n_subflows, 'dequantize_subflows')
  _positive_int(n_context, 'n_context')
  o = build.o
  dtype, c = o['dtype'], shape[-1]
  half = (shape[0] // 2, shape[1] // 2, 4 * c)
  layers = build.mixing(half, 'dequant')
  for i in range(n_subflows):
    layers += build.step(half, f'dequant_step{i}', context_channels=n_context)
  context_net = dequantization_lib.ContextNet(
      nets.DenseNet(c, n_context, depth=4, growth=32,
                    gated=o['use_gated_conv'], seed=build.seed(), dtype=dtype),
      nets.Conv2D(4 * n_context, n_context, 1, seed=build.seed(), dtype=dtype),
      nets.DenseNet(n_context, n_context, depth=4, growth=32,
                    gated=o['use_gated_conv'], seed=build.seed(), dtype=dtype))
  return dequantization_lib.VariationalDequantizer(shape, layers, context_net,
                                               num_bins, dtype)
