"""`make_flow`: a whole multiscale image density model in one call."""

import inspect
import numbers
import types

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_convexp import bijectors
from tfp_convexp import nets
from tfp_convexp.flows import dequantization as dequantization_lib
from tfp_convexp.flows import image_layers
from tfp_convexp.flows import model as model_lib
from tfp_convexp.flows import multiscale
from tfp_convexp.flows import registry
from tfp_convexp.flows import tfp_glow

tfb = tfp.bijectors
Choice = registry.Choice
MIXINGS = registry.MIXINGS
MODEL_TYPES = registry.MODEL_TYPES

# MIXINGS and MODEL_TYPES are `registry`'s.
__all__ = ['make_flow', 'make_layers', 'LAYOUTS', 'COUPLING_NETS',
           'STEP_LAYERS', 'DEQUANTIZATIONS', 'count_parameters']

# One registry per choice: name -> Choice. The flags, the help text and the
# builder all read these. The layouts', nets', steps' and dequantizations'
# `build(builder, shape, prefix)` (the conditioner nets': `build(builder,
# in_channels, out_channels)`) call the builder below; the mixings and
# transformations are `registry`'s, open to researchers' layers.
LAYOUTS = {
    'multiscale': Choice('this package\'s multiscale flow: squeeze, steps '
                         'as `step` names them, split priors, per level',
                         lambda b, s: b.multiscale(s)),
    'tfp_glow': Choice('TFP\'s own tfb.Glow (ActNorm, LU 1x1, affine '
                       'coupling with a conv3x3-ReLU-conv1x1-ReLU-conv3x3 net '
                       'of width n_intermediate_channels), the outside '
                       'baseline', lambda b, s: b.tfp_glow(s)),
}
"""`make_flow`'s `layout`s, name -> `Choice`."""
COUPLING_NETS = {
    'densenet': Choice('dense-in-residual net (the convolution-exponential '
                       'code)', lambda b, i, o: b.densenet(i, o)),
    'plain': Choice('conv3x3-ReLU-conv1x1-ReLU-conv3x3 (Glow)',
                    lambda b, i, o: b.plain_net(i, o)),
    'resnet': Choice('residual conv net (MEF)',
                     lambda b, i, o: b.resnet(i, o)),
}
"""`make_flow`'s `coupling_net` and `prior_net` networks, name -> `Choice`."""
STEP_LAYERS = {
    'actnorm': Choice('ActNorm, data-initialised',
                      lambda b, s, p: [b.actnorm(s, p)]),
    'mixing': Choice('the `mixing` layer(s)', lambda b, s, p: b.mixing(s, p)),
    'transform': Choice('the `model_type` transformation',
                        lambda b, s, p: b.transform(s, p)),
    'flip': Choice('a flip of both image axes (the Sylvester runs)',
                   lambda b, s, p: [_flip(s, b.name(p, 'flip'))]),
}
"""The parts `make_flow`'s `step` lists, name -> `Choice`."""
DEQUANTIZATIONS = {
    'uniform': Choice('u ~ U[0, 1)', lambda b, s, p: b.uniform_dequantizer(s)),
    'flow': Choice('variational: a conditional flow q(u | x)',
                   lambda b, s, p: b.variational_dequantizer(s)),
}
"""`make_flow`'s `dequantize_distribution`s, name -> `Choice`."""


def count_parameters(module):
  """Number of trainable scalars of a `tf.Module` (e.g. a model)."""
  return int(sum(v.shape.num_elements() for v in module.trainable_variables))


def _choice(value, choices, arg):
  if value not in choices:
    raise ValueError(f'make_flow: `{arg}` must be one of {tuple(choices)}; '
                     f'got {value!r}.')
  return value


def _positive_int(value, arg, minimum=1, owner='make_flow'):
  if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or
      value < minimum):
    raise ValueError(f'{owner}: `{arg}` must be an int >= {minimum}; got '
                     f'{value!r}.')
  return int(value)


def _flip(shape, name):
  """Reverses both image axes (a permutation: log-det 0)."""
  h, w, _ = shape
  return tfb.Chain([tfb.Permute(list(range(w))[::-1], axis=-2),
                    tfb.Permute(list(range(h))[::-1], axis=-3)], name=name)


class _Builder(object):
  """Creates layers with unique names and seeds from one set of options;
  the registries above say which of its methods builds what."""

  def __init__(self, options):
    self.o = options
    self._count = 0

  def seed(self):
    self._count += 1
    return self.o['seed'] * 100003 + self._count

  def name(self, prefix, kind):
    return f'{prefix}_{kind}_{self._count}'

  # Conditioner networks (COUPLING_NETS).
  def conditioner(self, in_channels, out_channels, kind=None):
    kind = kind or self.o['coupling_net']
    return COUPLING_NETS[kind].build(self, in_channels, out_channels)

  def _net_args(self):
    o = self.o
    return dict(seed=self.seed(), dtype=o['dtype'], init=o['conv_init'])

  def densenet(self, in_channels, out_channels):
    o = self.o
    return nets.DenseInResidualNet(
        in_channels, out_channels,
        intermediate_channels=o['n_intermediate_channels'],
        depth=o['densenet_depth'], growth=o['densenet_growth'],
        gated=o['use_gated_conv'], **self._net_args())

  def plain_net(self, in_channels, out_channels):
    return nets.PlainConvNet(
        in_channels, out_channels,
        hidden_channels=self.o['n_intermediate_channels'], **self._net_args())

  def resnet(self, in_channels, out_channels):
    o = self.o
    return nets.ResidualConvNet(
        in_channels, out_channels, hidden_channels=o['n_intermediate_channels'],
        num_blocks=o['resnet_blocks'], **self._net_args())

  # Layouts (LAYOUTS).
  def multiscale(self, shape):
    o, dtype = self.o, self.o['dtype']
    levels = []
    h, w, c = shape
    for level, steps in enumerate(o['n_subflows']):
      layers = self.normalize() if level == 0 else []
      layers.append(bijectors.Squeeze(2, name=f'squeeze_{level}'))
      h, w, c = h // 2, w // 2, 4 * c
      if level == 0 and o['initial_mixing']:
        layers += self.mixing((h, w, c), 'level0_initial')
      for i in range(steps):
        layers += self.step((h, w, c), f'level{level}_step{i}')
      factor_out = 0
      last = level == len(o['n_subflows']) - 1
      classes = o['num_classes']
      if not last and level >= o['first_split_level']:
        factor_out = c // 2
        keep = c - factor_out
        if o['use_splitprior']:
          layers.append(bijectors.AffineCoupling(
              (h, w, c), conditioner=self.conditioner(keep, 2 * factor_out,
                                                      o['prior_net']),
              num_masked=keep, dtype=dtype,
              name=self.name(f'level{level}', 'split_prior')))
        if classes:
          layers.append(bijectors.ClassConditionalAffine(
              (h, w, c), classes, first_channel=keep, dtype=dtype,
              name=f'level{level}_class_prior'))
      elif last and classes:  # the top prior, per class
        layers.append(bijectors.ClassConditionalAffine(
            (h, w, c), classes, dtype=dtype, name='top_prior'))
      elif last and o['learn_top']:
        layers.append(bijectors.ActNorm((h, w, c), data_init=False,
                                        dtype=dtype, name='top_prior'))
      levels.append(multiscale.Level(layers, factor_out))
      c -= factor_out
    return multiscale.MultiscaleFlow(shape, levels)

  def tfp_glow(self, shape):
    o = self.o
    steps = set(o['n_subflows'])
    if len(steps) != 1 or o['dtype'] != tf.float32:
      raise ValueError(f'make_flow: layout \'tfp_glow\' (tfb.Glow) takes the '
                       f'same number of steps at every level and float32; got '
                       f'n_subflows={o["n_subflows"]} and '
                       f'{o["dtype"].name}.')
    if o['num_classes']:
      raise ValueError(f'make_flow: layout \'tfp_glow\' (tfb.Glow) has no '
                       f'class-conditional priors; got '
                       f'num_classes={o["num_classes"]}.')
    glow = tfp_glow.TFPGlow(
        shape, num_glow_blocks=len(o['n_subflows']),
        num_steps_per_block=steps.pop(),
        num_hidden=o['n_intermediate_channels'], seed=self.seed())
    return multiscale.MultiscaleFlow(
        shape, [multiscale.Level(self.normalize() + [glow])])

  def normalize(self):
    """Pixels `v in [0, num_bins)` to `v / num_bins - 1/2`."""
    dtype = self.o['dtype']
    return [tfb.Scale(tf.constant(1. / self.o['num_bins'], dtype),
                      name='normalize'),
            tfb.Shift(tf.constant(-0.5, dtype), name='center')]

  # Mixing layers (MIXINGS) and transformations (MODEL_TYPES).
  def context(self, shape, prefix, net=None):
    """The `LayerContext` of one registered layer at step `prefix`; its
    conditioners are `net`s (default `coupling_net`)."""
    return registry.LayerContext(
        shape, self.o['dtype'], self.o, self.seed,
        lambda part: self.name(prefix, part),
        lambda i, o: self.conditioner(i, o, net))

  def mixing(self, shape, prefix):
    """The `mixing` layers, a list (bundles have several)."""
    name = self.o['mixing']
    return MIXINGS.build(name, self.context(shape, prefix))

  def transform(self, shape, prefix):
    name = self.o['model_type']
    return MODEL_TYPES.build(name, self.context(shape, prefix))

  # Steps (STEP_LAYERS).
  def actnorm(self, shape, prefix):
    return bijectors.ActNorm(shape, dtype=self.o['dtype'],
                             name=self.name(prefix, 'actnorm'))

  def step(self, shape, prefix):
    """The layers of one step, in the order of `step`; a channel reversal
    after a coupling that no mixing layer follows or precedes."""
    layers, mixed = [], False
    for part in self.o['step']:
      built = STEP_LAYERS[part].build(self, shape, prefix)
      mixed = mixed or (part == 'mixing' and bool(built))
      layers += built
    if not mixed and self.o['model_type'] in ('coupling', 'mef_coupling'):
      layers.append(_reverse_channels(shape, self.name(prefix, 'reverse')))
    return layers

  # Dequantizers (DEQUANTIZATIONS).
  def dequantizer(self, shape):
    return DEQUANTIZATIONS[self.o['dequantize_distribution']].build(
        self, shape, 'dequant')

  def uniform_dequantizer(self, shape):
    return dequantization_lib.UniformDequantizer(shape, self.o['dtype'])

  def variational_dequantizer(self, shape):
    """The reference's q(u | x) (see `make_flow`)."""
    o = self.o
    dtype, c, n_context = o['dtype'], shape[-1], o['n_context']
    half = (shape[0] // 2, shape[1] // 2, 4 * c)
    layers = [bijectors.ActNorm(half, data_init=False, dtype=dtype,
                                name='dequant_base')]
    layers += self.mixing(half, 'dequant_initial')
    for i in range(o['dequantize_subflows']):
      prefix = f'dequant_step{i}'
      layers.append(image_layers.affine_coupling(
          self.context(half, prefix, o['prior_net']),
          context_channels=n_context))
      mixing = self.mixing(half, prefix)
      layers += mixing or [_reverse_channels(half, self.name(prefix,
                                                             'reverse'))]
    context_net = dequantization_lib.ContextNet(
        nets.DenseNet(c, n_context, depth=4, growth=32,
                      gated=o['use_gated_conv'], **self._net_args()),
        nets.Conv2D(4 * n_context, n_context, 1, **self._net_args()),
        nets.DenseNet(n_context, n_context, depth=4, growth=32,
                      gated=o['use_gated_conv'], **self._net_args()))
    return dequantization_lib.VariationalDequantizer(
        shape, layers, context_net, o['num_bins'], dtype)


def _reverse_channels(shape, name):
  return tfb.Permute(list(range(shape[-1]))[::-1], axis=-1, name=name)


def _check_shape(value, owner, arg):
  try:
    shape = tuple(int(d) for d in value)
  except (TypeError, ValueError):
    shape = ()
  if len(shape) != 3 or min(shape) < 1:
    raise ValueError(f'{owner}: `{arg}` must be [H, W, C] of positive ints; '
                     f'got {value!r}.')
  return shape


def _check_image_shape(image_shape, n_levels):
  shape = _check_shape(image_shape, 'make_flow', 'image_shape')
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


def _options(args):
  """`make_flow`'s arguments (but the image shape), checked, as the builder
  reads them."""
  a = types.SimpleNamespace(**args)
  _positive_int(a.n_levels, 'n_levels')
  subflows = ([a.n_subflows] * a.n_levels if isinstance(a.n_subflows, int)
              else list(a.n_subflows))
  if len(subflows) != a.n_levels:
    raise ValueError(f'make_flow: `n_subflows` must be an int or one int per '
                     f'level ({a.n_levels}); got {a.n_subflows!r}.')
  for n in subflows:
    _positive_int(n, 'n_subflows')
  _positive_int(a.num_bins, 'num_bins', 2)
  _positive_int(a.first_split_level, 'first_split_level', 0)
  if isinstance(a.step, str) or not all(p in STEP_LAYERS for p in a.step):
    raise ValueError(f'make_flow: `step` must be a sequence of '
                     f'{tuple(STEP_LAYERS)}; got {a.step!r}.')
  if 'transform' not in a.step and 'mixing' not in a.step:
    raise ValueError(f'make_flow: `step` needs a \'transform\' or a '
                     f'\'mixing\' layer; got {a.step!r}.')
  return dict(
      layout=_choice(a.layout, LAYOUTS, 'layout'),
      n_subflows=subflows, initial_mixing=bool(a.initial_mixing),
      first_split_level=a.first_split_level, use_splitprior=a.use_splitprior,
      learn_top=a.learn_top,
      mixing=_choice(a.mixing, MIXINGS, 'mixing'),
      model_type=_choice(a.model_type, MODEL_TYPES, 'model_type'),
      step=tuple(a.step),
      coupling_net=_choice(a.coupling_net, COUPLING_NETS, 'coupling_net'),
      densenet_depth=_positive_int(a.densenet_depth, 'densenet_depth'),
      densenet_growth=_positive_int(a.densenet_growth, 'densenet_growth'),
      n_intermediate_channels=_positive_int(a.n_intermediate_channels,
                                            'n_intermediate_channels'),
      n_internal_channels=_positive_int(
          a.n_internal_channels or a.n_intermediate_channels,
          'n_internal_channels'),
      use_gated_conv=bool(a.use_gated_conv),
      resnet_blocks=_positive_int(a.resnet_blocks, 'resnet_blocks', 0),
      conv_init=_choice(a.conv_init, nets.INITS, 'conv_init'),
      coupling_scale=a.coupling_scale, log_scale_range=a.log_scale_range,
      mef_rank=a.mef_rank, convexp_norm_bound=a.convexp_norm_bound,
      residual_log_det=a.residual_log_det,
      seed=_positive_int(a.seed, 'seed', 0),
      dtype=_float_dtype(a.dtype), num_bins=a.num_bins,
      prior_net=_choice(a.prior_net or a.coupling_net, COUPLING_NETS,
                        'prior_net'),
      dequantize_distribution=_choice(a.dequantize_distribution,
                                      DEQUANTIZATIONS,
                                      'dequantize_distribution'),
      dequantize_subflows=_positive_int(a.dequantize_subflows,
                                        'dequantize_subflows'),
      n_context=_positive_int(a.n_context, 'n_context'),
      num_classes=None if a.num_classes is None else _positive_int(
          a.num_classes, 'num_classes', 2))


def make_flow(image_shape,
              num_bins=256,
              layout='multiscale',
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
              num_classes=None,
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

  With `layout='tfp_glow'` the continuous flow is TFP's own `tfb.Glow`
  instead (`n_levels` blocks of `n_subflows` steps, coupling nets of width
  `n_intermediate_channels`, seeded by `seed`); the other arguments of the
  flow's layout (`mixing`, `model_type`, `step`, the nets, the priors) do not
  apply to it, and the dequantization arguments still do.

  Args:
    image_shape: `[H, W, C]`; `H` and `W` divisible by `2^n_levels`.
    num_bins: pixel levels (256 for 8-bit images).
    layout: a key of `LAYOUTS`.
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
    num_classes: `K >= 2` for a class-conditional flow (Glow's, Kingma &
      Dhariwal 2018): the top prior and every factored-out half get a
      learned per-class, per-channel affine map
      (`bijectors.ClassConditionalAffine`, in place of `learn_top`'s), and
      `log_prob`, `sample`, `encode` and `decode` take `label=`; None for
      an unconditional flow.
    seed: int for all initialisations.
    dtype: floating dtype of the flow.
    validate_args: check pixel values on every call.

  Returns:
    A `tfp_convexp.flows.DequantizedFlow`: `log_prob` (nats, a lower bound;
    `num_samples` for an importance-weighted one), `sample(n, seed=...,
    temperature=...)`, `encode`, `decode`; `.flow` is the continuous
    `tfd.TransformedDistribution` over a standard-normal base.
  """
  args = dict(locals())
  del args['image_shape'], args['validate_args']
  options = _options(args)
  shape = _check_image_shape(image_shape, n_levels)
  build = _Builder(options)
  flow = multiscale.standard_normal_latent(LAYOUTS[options['layout']].build(
      build, shape))
  return model_lib.DequantizedFlow(flow, build.dequantizer(shape), num_bins,
                                   num_classes=num_classes,
                                   validate_args=validate_args)


# The registry each kind of `make_layers` reads, and the `make_flow`
# argument that names its entry.
_KINDS = {'mixing': (MIXINGS, 'mixing'), 'transform': (MODEL_TYPES,
                                                       'model_type')}


def make_layers(kind, name, event_shape, **kwargs):
  """The layers `make_flow` builds for one registered mixing or
  transformation, at a step whose events are `event_shape`: a layer of one's
  own, checked as the built-in ones are.

  ```python
  flows.register_mixing('channel_scale', build_channel_scale, '...')
  [layer] = flows.make_layers('mixing', 'channel_scale', [4, 6, 3],
                              dtype=tf.float64, seed=1)
  ```

  Args:
    kind: `'mixing'` (a key of `MIXINGS`) or `'transform'` (of
      `MODEL_TYPES`).
    name: the registered name.
    event_shape: `[H, W, C]` of the layers' events.
    **kwargs: other `make_flow` arguments (`seed`, `dtype`,
      `n_intermediate_channels`, ...), as the context's `options`.

  Returns:
    The list of bijectors, data to latent.
  """
  if kind not in _KINDS:
    raise ValueError(f'make_layers: `kind` must be one of {tuple(_KINDS)}; '
                     f'got {kind!r}.')
  registry_of_kind, key = _KINDS[kind]
  defaults = {n: p.default for n, p in
              inspect.signature(make_flow).parameters.items()
              if n not in ('image_shape', 'validate_args')}
  unknown = sorted(set(kwargs) - set(defaults) - {key})
  if unknown or key in kwargs:
    raise ValueError(f'make_layers: takes `make_flow`\'s arguments but '
                     f'`image_shape`, `validate_args` and `{key}` (`name`); '
                     f'got {", ".join(unknown or [key])}.')
  options = _options({**defaults, **kwargs, key: name})
  shape = _check_shape(event_shape, 'make_layers', 'event_shape')
  return getattr(_Builder(options), kind)(shape, kind)
