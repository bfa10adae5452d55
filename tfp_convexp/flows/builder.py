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
           'STEP_LAYERS', 'DEQUANTIZATIONS', 'count_parameters']

# One registry per choice: name -> what it builds.
MIXINGS = {
    '1x1': 'Glow\'s 1x1 convolution, a free C x C matrix',
    'lu': 'the 1x1 convolution in LU form',
    'qr': 'the 1x1 convolution in QR form',
    'convexp': 'the paper\'s bundle: learned shift, 1x1 (Householder above '
               '64 channels), convolution exponential, learned shift',
    'convexp_only': 'the convolution exponential alone',
    'emerging': 'the paper\'s bundle: 1x1, then the emerging convolution',
    'emerging_only': 'the emerging convolution alone',
    'woodbury': '1x1, then a rank-24 spatial Woodbury update',
    'periodic': 'the periodic (Fourier) convolution',
    'matrix_exp': 'MEF\'s matrix-exponential 1x1',
    'none': 'no mixing (couplings then reverse the channels)',
}
MODEL_TYPES = {
    'coupling': 'affine coupling',
    'mef_coupling': 'MEF\'s matrix-exponential coupling',
    'sylvester': 'convolutional Sylvester flow',
    'residual_flow': 'invertible residual block (Residual Flows)',
}
COUPLING_NETS = {
    'densenet': 'dense-in-residual net (the convolution-exponential code)',
    'plain': 'conv3x3-ReLU-conv1x1-ReLU-conv3x3 (Glow)',
    'resnet': 'residual conv net (MEF)',
}
STEP_LAYERS = {
    'actnorm': 'ActNorm, data-initialised',
    'mixing': 'the `mixing` layer(s)',
    'transform': 'the `model_type` transformation',
    'flip': 'a flip of both image axes (the Sylvester runs)',
}
DEQUANTIZATIONS = {
    'uniform': 'u ~ U[0, 1)',
    'flow': 'variational: a conditional flow q(u | x)',
}


def count_parameters(module):
  """Number of trainable scalars of a `tf.Module` (e.g. a model)."""
  return int(sum(v.shape.num_elements() for v in module.trainable_variables))


def _choice(value, choices, arg):
  if value not in choices:
    raise ValueError(f'make_flow: `{arg}` must be one of {tuple(choices)}; '
                     f'got {value!r}.')
  return value


def _positive_int(value, arg, minimum=1):
  if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
    raise ValueError(f'make_flow: `{arg}` must be an int >= {minimum}; got '
                     f'{value!r}.')
  return value


def _flip(shape, name):
  """Reverses both image axes (a permutation: log-det 0)."""
  h, w, _ = shape
  return tfb.Chain([tfb.Permute(list(range(w))[::-1], axis=-2),
                    tfb.Permute(list(range(h))[::-1], axis=-3)], name=name)


def _learned_shift(shape, dtype, name):
  """`x + b` with a learned `b` of the whole `[H, W, C]` shape."""
  return tfb.Shift(tf.Variable(tf.zeros(shape, dtype), name='shift'),
                   name=name)


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

  def conditioner(self, in_channels, out_channels, kind=None):
    o, seed, dtype = self.o, self.seed(), self.o['dtype']
    kind = kind or o['coupling_net']
    common = dict(seed=seed, dtype=dtype, init=o['conv_init'])
    if kind == 'densenet':
      return nets.DenseInResidualNet(
          in_channels, out_channels,
          intermediate_channels=o['n_intermediate_channels'],
          depth=o['densenet_depth'], growth=o['densenet_growth'],
          gated=o['use_gated_conv'], **common)
    if kind == 'plain':
      return nets.PlainConvNet(in_channels, out_channels,
                               hidden_channels=o['n_intermediate_channels'],
                               **common)
    return nets.ResidualConvNet(in_channels, out_channels,
                                hidden_channels=o['n_intermediate_channels'],
                                num_blocks=o['resnet_blocks'], **common)

  def mixing(self, shape, prefix):
    """The `mixing` layers, a list (bundles have several)."""
    kind, dtype = self.o['mixing'], self.o['dtype']
    h, w, c = shape
    layer_name = lambda part: self.name(prefix, part)
    common = lambda part: dict(seed=self.seed(), dtype=dtype,
                               name=layer_name(part))
    if kind == 'none':
      return []
    if kind in ('1x1', 'lu', 'qr'):
      parameterization = {'1x1': 'plain'}.get(kind, kind)
      return [bijectors.Conv1x1(shape, parameterization, **common('mixing'))]
    if kind == 'matrix_exp':
      return [bijectors.MatrixExponential1x1(shape, **common('mixing'))]
    if kind == 'periodic':
      size = min(3, h - (1 - h % 2), w - (1 - w % 2))
      return [bijectors.PeriodicConv(shape, kernel_size=size,
                                     **common('mixing'))]
    convexp = lambda: bijectors.ConvolutionExponential(
        shape, norm_bound=self.o['convexp_norm_bound'], **common('convexp'))
    emerging = lambda: bijectors.EmergingConv(shape, **common('emerging'))
    if kind == 'convexp_only':
      return [convexp()]
    if kind == 'emerging_only':
      return [emerging()]
    if kind == 'convexp':
      wide = c > 64
      first = bijectors.Conv1x1(
          shape, 'householder' if wide else 'plain',
          num_reflections=64 if wide else None, **common('conv1x1'))
      return [_learned_shift(shape, dtype, layer_name('pre_shift')), first,
              convexp(), _learned_shift(shape, dtype, layer_name('post_shift'))]
    first = bijectors.Conv1x1(shape, 'plain', **common('conv1x1'))
    if kind == 'emerging':
      return [first, emerging()]
    return [first, bijectors.Woodbury(shape, rank=(0, min(24, h * w)),
                                      **common('woodbury'))]

  def coupling(self, shape, prefix, net, context_channels=0, scale_fn=None,
               log_scale_range=None):
    """An affine coupling of the second half given the first (and context)."""
    o, c = self.o, shape[-1]
    k = c // 2
    return bijectors.AffineCoupling(
        shape, conditioner=self.conditioner(k + context_channels, 2 * (c - k),
                                            net),
        num_masked=k, scale_fn=scale_fn or 'tanh',
        log_scale_range=log_scale_range or 2.,
        context_channels=context_channels, dtype=o['dtype'],
        name=self.name(prefix, 'coupling'))

  def transform(self, shape, prefix):
    o, dtype = self.o, self.o['dtype']
    c = shape[-1]
    kind = o['model_type']
    if kind == 'coupling':
      return self.coupling(shape, prefix, o['coupling_net'],
                           scale_fn=o['coupling_scale'],
                           log_scale_range=o['log_scale_range'])
    if kind == 'mef_coupling':
      k = c - c // 2
      rank, outputs = bijectors.matrix_exponential_coupling.rank_and_outputs(
          c - k, o['mef_rank'])
      return bijectors.MatrixExponentialCoupling(
          shape, conditioner=self.conditioner(k, outputs), num_masked=k,
          rank=rank, dtype=dtype, name=self.name(prefix, 'mef_coupling'))
    hidden = o['n_internal_channels']
    if kind == 'sylvester':
      hidden = -(-hidden // c) * c  # masked layers need a multiple of C
      return bijectors.ConvolutionalSylvester(
          shape, hidden_channels=hidden, norm_bound=o['convexp_norm_bound'],
          seed=self.seed(), dtype=dtype, name=self.name(prefix, 'sylvester'))
    return bijectors.ResidualFlowBlock(
        shape, hidden_channels=hidden,
        log_det_estimator=o['residual_log_det'], seed=self.seed(),
        dtype=dtype, name=self.name(prefix, 'residual_block'))

  def step(self, shape, prefix):
    """The layers of one step, in the order of `step`; a channel reversal
    after a coupling that no mixing layer follows or precedes."""
    layers, mixed = [], False
    for part in self.o['step']:
      if part == 'actnorm':
        layers.append(bijectors.ActNorm(shape, dtype=self.o['dtype'],
                                        name=self.name(prefix, 'actnorm')))
      elif part == 'mixing':
        mixing = self.mixing(shape, prefix)
        mixed = mixed or bool(mixing)
        layers += mixing
      elif part == 'flip':
        layers.append(_flip(shape, self.name(prefix, 'flip')))
      else:
        layers.append(self.transform(shape, prefix))
    if not mixed and self.o['model_type'] in ('coupling', 'mef_coupling'):
      layers.append(_reverse_channels(shape, self.name(prefix, 'reverse')))
    return layers


def _reverse_channels(shape, name):
  return tfb.Permute(list(range(shape[-1]))[::-1], axis=-1, name=name)


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
              step=('actnorm', 'mixing', 'transform'),
              initial_mixing=False,
              coupling_net='densenet',
              prior_net=None,
              densenet_depth=8,
              densenet_growth=64,
              n_intermediate_channels=64,
              n_internal_channels=None,
              use_gated_conv=True,
              resnet_blocks=8,
              conv_init='he_normal',
              coupling_scale='tanh',
              log_scale_range=2.,
              mef_rank=None,
              use_splitprior=True,
              first_split_level=0,
              learn_top=True,
              convexp_norm_bound=0.95,
              residual_log_det='russian_roulette',
              dequantize_distribution='uniform',
              dequantize_subflows=4,
              n_context=32,
              seed=0,
              dtype=tf.float32,
              validate_args=True):
  """A multiscale flow over integer images, as a `tfd.Distribution`.

  Pixels `v in [0, num_bins)` are first mapped to `v / num_bins - 1/2`.
  Per level: a squeeze (at the first level followed by one `mixing` layer
  if `initial_mixing`), `n_subflows` steps whose layers come in the order
  `step` names them, then (from `first_split_level` on, except at the last
  level) a split that factors out half of the channels: with
  `use_splitprior` through a learned conditional Gaussian (an affine
  coupling whose mean and scale come from the kept half), else straight to
  the standard normal. The last level ends in a learned per-channel
  Gaussian (`learn_top`).

  Glow's layout is the default `step=('actnorm', 'mixing', 'transform')`;
  the convolution-exponential paper's mixing runs use
  `step=('transform', 'mixing'), initial_mixing=True`, its Sylvester runs
  `step=('actnorm', 'transform', 'flip')`.

  Args:
    image_shape: `[H, W, C]`; `H` and `W` divisible by `2^n_levels`.
    num_bins: pixel levels (256 for 8-bit images).
    mixing: a key of `MIXINGS` (the paper's `'convexp'` and `'emerging'`
      are bundles with a 1x1 convolution; `'convexp_only'` and
      `'emerging_only'` are the bare layers).
    n_levels: levels.
    n_subflows: steps per level: an int, or one per level (MEF: 8, 4, 2).
    model_type: a key of `MODEL_TYPES`, the `'transform'` of each step.
    step: the layers of a step, in order, keys of `STEP_LAYERS`. A coupling
      step without a mixing layer ends in a channel reversal.
    initial_mixing: one `mixing` layer right after the first squeeze.
    coupling_net: a key of `COUPLING_NETS`, the conditioner of the steps'
      couplings.
    prior_net: the conditioner of the split priors and of the dequantization
      flow's couplings; default `coupling_net`.
    densenet_depth, densenet_growth, use_gated_conv: of `'densenet'`.
    n_intermediate_channels: width of every conditioner.
    n_internal_channels: width of the Sylvester and residual blocks;
      default `n_intermediate_channels`.
    resnet_blocks: residual blocks of `'resnet'`.
    conv_init: of the conditioners' convolutions, one of `nets.INITS`
      (`'uniform_fan_in'` is PyTorch's default, the reference code's).
    coupling_scale, log_scale_range: the steps' `AffineCoupling` scale bound.
    mef_rank: `MatrixExponentialCoupling`'s rank (None: MEF's choice).
    use_splitprior, learn_top: see above.
    first_split_level: levels before it keep all their channels.
    convexp_norm_bound: norm bound of every convolution exponential.
    residual_log_det: `'russian_roulette'` (needs a `seed` in `log_prob`) or
      `'exact'`.
    dequantize_distribution: a key of `DEQUANTIZATIONS`. `'flow'` is the
      reference's q(u | x): at half resolution, a learned diagonal Gaussian,
      one `mixing` layer, then `dequantize_subflows` times [conditional
      affine coupling, `mixing`], and a sigmoid; the couplings see an
      `n_context`-channel context network of `x`.
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
  _positive_int(first_split_level, 'first_split_level', 0)
  shape = _check_image_shape(image_shape, n_levels)
  if isinstance(step, str) or not all(p in STEP_LAYERS for p in step):
    raise ValueError(f'make_flow: `step` must be a sequence of '
                     f'{tuple(STEP_LAYERS)}; got {step!r}.')
  if 'transform' not in step and 'mixing' not in step:
    raise ValueError(f'make_flow: `step` needs a \'transform\' or a '
                     f'\'mixing\' layer; got {step!r}.')
  options = dict(
      mixing=_choice(mixing, MIXINGS, 'mixing'),
      model_type=_choice(model_type, MODEL_TYPES, 'model_type'),
      step=tuple(step),
      coupling_net=_choice(coupling_net, COUPLING_NETS, 'coupling_net'),
      densenet_depth=_positive_int(densenet_depth, 'densenet_depth'),
      densenet_growth=_positive_int(densenet_growth, 'densenet_growth'),
      n_intermediate_channels=_positive_int(n_intermediate_channels,
                                            'n_intermediate_channels'),
      n_internal_channels=_positive_int(
          n_internal_channels or n_intermediate_channels,
          'n_internal_channels'),
      use_gated_conv=bool(use_gated_conv),
      resnet_blocks=_positive_int(resnet_blocks, 'resnet_blocks', 0),
      conv_init=_choice(conv_init, nets.INITS, 'conv_init'),
      coupling_scale=coupling_scale, log_scale_range=log_scale_range,
      mef_rank=mef_rank, convexp_norm_bound=convexp_norm_bound,
      residual_log_det=residual_log_det, seed=int(seed),
      dtype=_float_dtype(dtype))
  prior_net = _choice(prior_net or coupling_net, COUPLING_NETS, 'prior_net')
  _choice(dequantize_distribution, DEQUANTIZATIONS, 'dequantize_distribution')
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
    if level == 0 and initial_mixing:
      layers += build.mixing((h, w, c), 'level0_initial')
    for i in range(subflows[level]):
      layers += build.step((h, w, c), f'level{level}_step{i}')
    factor_out = 0
    if level < n_levels - 1 and level >= first_split_level:
      factor_out = c // 2
      if use_splitprior:
        keep = c - factor_out
        layers.append(bijectors.AffineCoupling(
            (h, w, c), conditioner=build.conditioner(keep, 2 * factor_out,
                                                     prior_net),
            num_masked=keep, dtype=dtype,
            name=build.name(f'level{level}', 'split_prior')))
    elif level == n_levels - 1 and learn_top:
      layers.append(bijectors.ActNorm((h, w, c), data_init=False, dtype=dtype,
                                      name='top_prior'))
    levels.append(multiscale.Level(layers, factor_out))
    c -= factor_out
  flow = multiscale.standard_normal_latent(
      multiscale.MultiscaleFlow(shape, levels))

  if dequantize_distribution == 'uniform':
    dequantizer = dequantization_lib.UniformDequantizer(shape, dtype)
  else:
    dequantizer = _variational_dequantizer(build, shape, num_bins, prior_net,
                                           dequantize_subflows, n_context)
  return model_lib.DequantizedFlow(flow, dequantizer, num_bins,
                                   validate_args=validate_args)


def _variational_dequantizer(build, shape, num_bins, net, n_subflows,
                             n_context):
  """The reference's q(u | x) (see `make_flow`)."""
  _positive_int(n_subflows, 'dequantize_subflows')
  _positive_int(n_context, 'n_context')
  o = build.o
  dtype, c = o['dtype'], shape[-1]
  half = (shape[0] // 2, shape[1] // 2, 4 * c)
  layers = [bijectors.ActNorm(half, data_init=False, dtype=dtype,
                              name='dequant_base')]
  layers += build.mixing(half, 'dequant_initial')
  for i in range(n_subflows):
    prefix = f'dequant_step{i}'
    layers.append(build.coupling(half, prefix, net,
                                 context_channels=n_context))
    mixing = build.mixing(half, prefix)
    layers += mixing or [_reverse_channels(half, build.name(prefix,
                                                            'reverse'))]

  def fresh():
    return dict(seed=build.seed(), dtype=dtype, init=o['conv_init'])

  context_net = dequantization_lib.ContextNet(
      nets.DenseNet(c, n_context, depth=4, growth=32,
                    gated=o['use_gated_conv'], **fresh()),
      nets.Conv2D(4 * n_context, n_context, 1, **fresh()),
      nets.DenseNet(n_context, n_context, depth=4, growth=32,
                    gated=o['use_gated_conv'], **fresh()))
  return dequantization_lib.VariationalDequantizer(shape, layers, context_net,
                                                   num_bins, dtype)
