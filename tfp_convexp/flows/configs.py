"""The registry of named runs: model and training settings, by name.

`CONFIGS[name].build()` builds the model of a run (`make_flow` for image
runs, `make_graph_flow` for graph runs), and `CONFIGS[name].training` holds
how it was trained; `python -m train --model=NAME` runs both, and single
flags override single values. Each
paper run names its source (the reference code's command) and, where the
reference code was measured, its parameter count at the same shape.
"""

from tfp_convexp.flows import builder
from tfp_convexp.flows import graph_flow

__all__ = ['Config', 'CONFIGS', 'TASKS', 'TRAINING_KEYS', 'build_model',
           'parameter_count']

TRAINING_KEYS = ('epochs', 'batch_size', 'lr', 'warmup', 'warmup_shape',
                 'lr_decay', 'optimizer', 'beta_2', 'clip_grad_norm',
                 'augment', 'validation_size', 'final_num_samples')
"""The training settings every entry holds (the training program's flags)."""


# What a run models -> the builder of its model: `make_flow(image_shape,
# **config)`, `make_graph_flow(num_nodes, num_features, **config)`.
TASKS = {'images': builder.make_flow, 'graphs': graph_flow.make_graph_flow}
"""What a run models -> the builder of its model (`build_model`)."""


def build_model(task, event_shape, **kwargs):
  """`TASKS[task]`'s model over `event_shape` (`[H, W, C]` or `[N, F]`)."""
  shape = tuple(event_shape)
  return TASKS[task](*((shape,) if task == 'images' else shape), **kwargs)


class Config(dict):
  """The builder's keyword arguments, plus the rest of a named run.

  Attributes:
    event_shape: the data the run trains on: `[H, W, C]` images, or graphs
      of at most `N` nodes with `F` features, `[N, F]`.
    task: `'images'` (a `make_flow` model) or `'graphs'` (a
      `make_graph_flow` model); a key of `TASKS`.
    dataset: the data set's name for `python -m train --dataset`.
    training: the training settings, one per `TRAINING_KEYS`.
    paper: the published result this run is meant to reproduce, as stated
      in the paper (its results table).
    source: the reference code and command the run follows.
    reference_parameters: trainable parameters of the reference code's
      model at `image_shape` (None where not measured); see
      `benchmarks/reference_counts.py`.
    notes: where and why this run differs from the reference.
  """

  def __init__(self, event_shape, dataset, training, paper, source='',
               reference_parameters=None, notes='', task='images', **kwargs):
    super().__init__(**kwargs)
    missing = set(TRAINING_KEYS) ^ set(training)
    if missing:
      raise ValueError(f'Config: training settings must be exactly '
                       f'{TRAINING_KEYS}; differs in {sorted(missing)}.')
    if task not in TASKS:
      raise ValueError(f'Config: `task` must be one of {tuple(TASKS)}; got '
                       f'{task!r}.')
    self.event_shape = tuple(event_shape)
    self.task = task
    self.dataset = dataset
    self.training = dict(training)
    self.paper = paper
    self.source = source
    self.reference_parameters = reference_parameters
    self.notes = notes


  @property
  def image_shape(self):
    """`[H, W, C]` of an image run (its `event_shape`)."""
    if self.task != 'images':
      raise AttributeError(f'a {self.task} run has no image_shape; its '
                           f'event_shape is {self.event_shape}.')
    return self.event_shape

  def build(self, **overrides):
    """The run's model (untrained), with `overrides` of single arguments."""
    return build_model(self.task, self.event_shape, **{**self, **overrides})


def parameter_count(name):
  """Trainable parameters of `CONFIGS[name]` at its own event shape."""
  return builder.count_parameters(CONFIGS[name].build())


def _training(**overrides):
  """The convolution-exponential experiments' defaults (`settings.py`):
  1000 epochs of 256 images, lr 1e-3 warmed up over 10 epochs and decayed
  by 0.995 per epoch; no validation split and no importance-sampled final
  test unless a run names them."""
  settings = dict(epochs=1000, batch_size=256, lr=1e-3, warmup=10,
                  warmup_shape='linear', lr_decay=0.995, optimizer='adamax',
                  beta_2=0.999, clip_grad_norm=0., augment='none',
                  validation_size=0, final_num_samples=0)
  settings.update(overrides)
  return settings


CIFAR10 = (32, 32, 3)
_REPO = 'ehoogeboom/convolution_exponential_and_sylvester'
# Both experiments of the reference read CIFAR-10 through
# `utils/load_data.py: load_cifar10`: a flip, edge padding, a translation of
# up to 4 %, a centre crop (`--augment=flip_translate`); they hold out 10,000
# training images for validation, keep the model of the best validation
# bits/dim and test it with 1000 importance samples (`main_experiment.py`).
_CIFAR10_PROTOCOL = dict(augment='flip_translate', validation_size=10_000,
                         final_num_samples=1000)
_CIFAR10_PROTOCOL_NOTES = (
    ' The protocol is the reference\'s: CIFAR-10 is augmented '
    '(`--augment=flip_translate`), 10,000 training images are held out for '
    'validation, the model of the best validation bits/dim is kept and '
    'tested with 1000 importance samples. The held-out images are the last '
    '10,000 of tensorflow-datasets\' train split, which stores the images '
    'in its own shuffled order, so they are not the reference\'s (the last '
    'file of the original release).')
CONFIGS = {}
"""The named runs, name -> `Config` (`python -m train --model=NAME`)."""

# The mixing ablation (`main_experiment.py`, README commands): the `Flow`
# of `models/distributions/flow.py`, Adamax, linear warm-up, no clipping.
_MIXING_PAPER = ('Hoogeboom et al. 2020, mixing ablation on CIFAR-10 with '
                 'variational dequantization: convexp is reported best of '
                 '{1x1, emerging, woodbury}; the table values are not in the '
                 'sources this project holds.')
_MIXING_NOTES = (
    'Layer for layer the reference `Flow`: normalisation, squeeze, one mixing '
    'layer, then per level 10 x [coupling, mixing], a split prior; a learned '
    'per-channel Gaussian on top; growth 64 for 1x1 and 63 otherwise, as in '
    'the README commands. Differences: the couplings put shift and scale in '
    'two halves of the net output instead of interleaving them (the same '
    'net); the emerging layers keep their centre diagonal as exp(log_diag) '
    '(2C more parameters per layer than the reference, which cannot become '
    'singular) and draw their other taps with standard deviation 0.02, as '
    'the emerging paper\'s code, where this reference draws 1 / (2 C) '
    '(0.042 and 0.010 at its 12 and 48 channels; see `EmergingConv`); the '
    'dequantization flow applies its layers forward where '
    'the reference samples through their inverses (the same families, and '
    'the same parameter count).' + _CIFAR10_PROTOCOL_NOTES)
_REFERENCE_MIXING = {'1x1': 57_196_060, 'convexp': 55_908_960,
                     'emerging': 55_772_736, 'woodbury': 55_934_688}
for _mixing in ('1x1', 'convexp', 'emerging', 'woodbury', 'periodic',
                'matrix_exp'):
  _in_paper = _mixing in _REFERENCE_MIXING
  CONFIGS[f'mixing_{_mixing}'] = Config(
      CIFAR10, 'cifar10', _training(**_CIFAR10_PROTOCOL),
      _MIXING_PAPER if _in_paper else
      'Not in the paper: the same model with this mixing layer, for the '
      'comparison.',
      source=(f'{_REPO} main_experiment.py --mixing {_mixing} (README)'
              if _in_paper else f'{_REPO} main_experiment.py, the README '
              f'command of convexp with this mixing layer'),
      reference_parameters=_REFERENCE_MIXING.get(_mixing),
      notes=_MIXING_NOTES,
      num_bins=256, mixing=_mixing, n_levels=2, n_subflows=10,
      model_type='coupling', step=('transform', 'mixing'),
      initial_mixing=True, coupling_net='densenet', densenet_depth=8,
      densenet_growth=64 if _mixing == '1x1' else 63,
      n_intermediate_channels=64, use_gated_conv=True, use_splitprior=True,
      conv_init='uniform_fan_in', dequantize_distribution='flow')

# The residual-transformation experiments (`experiment_sylvester_network.py`,
# README commands): squeeze first, ActNorm in every step, DenseNet split
# priors of width --n_intermediate_channels, blocks of width
# --n_internal_channels (528), Adam with beta_2 0.99, quadratic warm-up and
# gradients clipped at norm 1.
_RESIDUAL_PAPER = ('Hoogeboom et al. 2020, residual transformations on '
                   'CIFAR-10: the convolutional Sylvester flow is reported '
                   'better than the residual block flow and the coupling '
                   'baseline at equal settings; values not in our sources.')
_RESIDUAL_TRAINING = _training(optimizer='adam', beta_2=0.99,
                               warmup_shape='quadratic', clip_grad_norm=1.,
                               **_CIFAR10_PROTOCOL)
_RESIDUAL_BLOCK_MODEL = dict(model_type='residual_flow',
                             step=('actnorm', 'transform'), n_subflows=16)
_RESIDUAL_RUNS = {
    # name: (make_flow arguments, reference --model_type, README width,
    #        reference parameters for (var, unif), notes)
    'conv_sylvester': (
        dict(model_type='sylvester', step=('actnorm', 'transform', 'flip'),
             n_subflows=16),
        'sylvester', 64, (59_301_260, 50_266_244),
        'Steps of [ActNorm, convolutional Sylvester, flip of both image '
        'axes]. The README command sets --n_internal_channels (the blocks, '
        '528, its default anyway), so the split priors and the '
        'dequantization flow keep --n_intermediate_channels at its default '
        '64. The inverse uses diagonal Newton steps where the reference '
        'iterates the plain fixed point.'),
    'residual_block': (
        _RESIDUAL_BLOCK_MODEL,
        'residual_flow', 528, (78_864_300, 43_674_532),
        'Steps of [ActNorm, residual block], each convolution at norm 0.97 '
        '(the reference: 0.98, by power iteration, not certified); the '
        'Russian roulette draws a geometric number of terms (p = 0.5) where '
        'the reference draws a Poisson(2) one. The reference counts 2 more '
        'parameters per block: the roulette\'s geom_p and lamb, registered '
        'as parameters that no gradient reaches; here they are constants.'),
    'residual_block_equal_memory': (
        dict(_RESIDUAL_BLOCK_MODEL, n_subflows=8),
        'residual_flow', 528, (65_759_340, 30_569_572),
        'Eight steps per level instead of 16, as in the README command; '
        'otherwise as residual_block.'),
    'coupling_baseline': (
        dict(model_type='coupling', step=('actnorm', 'mixing', 'transform'),
             n_subflows=16, coupling_net='plain', prior_net='densenet',
             log_scale_range=0.5, first_split_level=1),
        'coupling_flow', 528, (75_363_928, 40_174_160),
        'Steps of [ActNorm, 1x1, affine coupling with a conv3x3-ReLU-conv1x1-'
        'ReLU-conv3x3 net]; no split after the first level '
        '(`coupling_model.py:101`), so the levels run at 12, 48 and 96 '
        'channels. The log-scale is 0.5 tanh(h / 0.5) where the reference '
        'has 0.5 tanh(h): the same family with the net\'s output scaled.'),
}
for _name, (_model, _type, _width, _counts, _notes) in _RESIDUAL_RUNS.items():
  for _deq, _tag, _count in (('flow', 'var', _counts[0]),
                             ('uniform', 'unif', _counts[1])):
    CONFIGS[f'{_name}_{_tag}'] = Config(
        CIFAR10, 'cifar10', _RESIDUAL_TRAINING, _RESIDUAL_PAPER,
        source=(f'{_REPO} experiment_sylvester_network.py --model_type '
                f'{_type} --n_subflows {_model["n_subflows"]} '
                f'--dequantize_distribution {_deq} (README)'),
        reference_parameters=_count,
        notes=_notes + (' The reference\'s unused --mixing default, 1x1, '
                        'mixes the dequantization flow.' if _deq == 'flow'
                        else '') + _CIFAR10_PROTOCOL_NOTES,
        **{**dict(num_bins=256, mixing='1x1', n_levels=3,
                  use_splitprior=True, coupling_net='densenet',
                  densenet_depth=8, densenet_growth=64,
                  n_intermediate_channels=_width, n_internal_channels=528,
                  use_gated_conv=False, conv_init='uniform_fan_in',
                  dequantize_distribution=_deq), **_model})

CONFIGS['mef_cifar10'] = Config(
    CIFAR10, 'cifar10',
    _training(epochs=50, batch_size=64, lr=1e-2, warmup=1, lr_decay=1.,
              clip_grad_norm=100.),
    'Xiao & Liu 2020 (MEF), CIFAR-10: 3.32 bits/dim.',
    source='changyi7231/MEF parameters_setting, Section 6.1, CIFAR10',
    notes=('3 levels of 8, 4, 2 steps of [ActNorm, matrix-exp 1x1, '
           'matrix-exp coupling], 8 residual blocks of 128 channels; MEF '
           'trains with Adamax at lr 1e-2, batch 64, 50 epochs. Its '
           'per-position ActNorm is per-channel here, and its convolutions '
           'carry a bias instead of a data-initialised scale. No '
           'augmentation: MEF\'s data pipeline has not been compared.'),
    num_bins=256, mixing='matrix_exp', n_levels=3, n_subflows=[8, 4, 2],
    model_type='mef_coupling', coupling_net='resnet', resnet_blocks=8,
    n_intermediate_channels=128, use_splitprior=True,
    dequantize_distribution='uniform')

CONFIGS['glow_cifar10'] = Config(
    CIFAR10, 'cifar10',
    _training(batch_size=64, optimizer='adam', lr_decay=1., clip_grad_norm=100.),
    'Kingma & Dhariwal 2018 (Glow), CIFAR-10: 3.35 bits/dim.',
    source='openai/glow train.py (3 levels of depth 32, width 512)',
    notes=('Glow: 3 levels of 32 steps of [ActNorm, LU 1x1, affine coupling '
           'with sigmoid scale and a 512-channel conv net], learned split '
           'priors and top prior, uniform dequantization. TFP\'s own '
           '`tfb.Glow` builds the same structure. No augmentation: Glow\'s '
           'data pipeline has not been compared.'),
    num_bins=256, mixing='lu', n_levels=3, n_subflows=32,
    model_type='coupling', coupling_net='plain', n_intermediate_channels=512,
    coupling_scale='sigmoid', use_splitprior=True,
    dequantize_distribution='uniform')

# The offline default of `python -m train`: the 8x8 digits that ship with
# the package (17 grey levels).
CONFIGS['digits_convexp'] = Config(
    (8, 8, 1), 'digits',
    _training(epochs=40, batch_size=64, clip_grad_norm=100.),
    'No published number; the uniform model is log2(17) = 4.09 bits/dim.',
    notes=('A small Glow-layout model with the paper\'s convexp mixing and '
           'the reference\'s initialisation, for a quick run on a CPU.'),
    num_bins=17, mixing='convexp', n_levels=2, n_subflows=4,
    model_type='coupling', coupling_net='densenet', densenet_depth=4,
    densenet_growth=32, n_intermediate_channels=32, use_splitprior=True,
    conv_init='uniform_fan_in', dequantize_distribution='uniform')

# Graph normalizing flows on the offline graph sets (`data.graphs`).
_GRAPH_NOTES = (
    'Graph normalizing flow steps of Liu et al. (NeurIPS 2019): a masked '
    'ActNorm, the mixing, an affine coupling over the two halves of the '
    'features with a message-passing conditioner. The convolution-exponential '
    'paper (arXiv 2006.01910) states that the graph convolution exponential '
    'improves graph normalizing flows, but neither its text in the sources '
    'this project holds nor its public code describes the graph experiment '
    '(data, depth, widths, training), so every such choice here is this '
    'package\'s own: 4 steps, width 64, 2 message-passing rounds, Adam at '
    '1e-3 with a one-epoch warm-up, batches of 64 graphs, and `graph_convexp` '
    'bundling a node-wise 1x1 with the graph convolution exponential as the '
    'image runs bundle a 1x1 with the convolution exponential.')
for _name, _graphs, _nodes in (('graph_gmrf', 'community_gmrf', 20),
                               ('graph_springs', 'springs', 10)):
  CONFIGS[_name] = Config(
      (_nodes, 4), _graphs,
      _training(epochs=50, batch_size=64, warmup=1, lr_decay=1.,
                optimizer='adam', clip_grad_norm=100.),
      'The paper claims graph convexp improves graph normalizing flows; it '
      'reports no number this project could find.',
      source='none (the reference code has no graph experiment)',
      notes=_GRAPH_NOTES, task='graphs', mixing='graph_convexp',
      n_subflows=4, n_intermediate_channels=64, message_steps=2)
