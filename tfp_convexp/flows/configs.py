"""The papers' model configurations, by name: `make_flow(shape, **CONFIGS[n])`."""

from tfp_convexp.flows import builder

__all__ = ['Config', 'CONFIGS', 'parameter_count']


class Config(dict):
  """`make_flow` keyword arguments, plus where they come from.

  Attributes:
    image_shape: the data the paper trained on.
    dataset: the tensorflow-datasets name (or `'digits'`).
    paper: the published result this configuration is meant to reproduce,
      as stated in the sources the project holds (`shared/notes/peers.md`).
    notes: how it differs from the paper's code, if at all.
  """

  def __init__(self, image_shape, dataset, paper, notes='', **kwargs):
    super().__init__(**kwargs)
    self.image_shape = tuple(image_shape)
    self.dataset = dataset
    self.paper = paper
    self.notes = notes


def parameter_count(name):
  """Trainable parameters of `CONFIGS[name]` at its own image shape."""
  config = CONFIGS[name]
  return builder.count_parameters(builder.make_flow(config.image_shape,
                                                    **config))


CIFAR10 = (32, 32, 3)
CONFIGS = {}

# The mixing ablation of Hoogeboom et al. (2020), `main_experiment.py` with
# the README's flags. The reference flow has no ActNorm in its steps.
_MIXING_PAPER = ('Hoogeboom et al. 2020, mixing ablation on CIFAR-10 with '
                 'variational dequantization: convexp is reported best of '
                 '{1x1, emerging, woodbury}; the table values are not in the '
                 'sources this project holds.')
for _mixing in ('1x1', 'convexp', 'emerging', 'woodbury', 'periodic',
                'matrix_exp'):
  CONFIGS[f'mixing_{_mixing}'] = Config(
      CIFAR10, 'cifar10',
      _MIXING_PAPER if _mixing in ('1x1', 'convexp', 'emerging', 'woodbury')
      else 'Not in the paper: the same model with this mixing layer, for the '
           'comparison.',
      notes='growth 64 for 1x1 and 63 otherwise, as in the README commands.',
      num_bins=256, mixing=_mixing, n_levels=2, n_subflows=10,
      model_type='coupling', coupling_net='densenet', densenet_depth=8,
      densenet_growth=64 if _mixing == '1x1' else 63,
      n_intermediate_channels=64, use_gated_conv=True, use_splitprior=True,
      use_actnorm=False, dequantization='flow')

# The residual-transformation experiments (`experiment_sylvester_network.py`).
_RESIDUAL_PAPER = ('Hoogeboom et al. 2020, residual transformations on '
                   'CIFAR-10: the convolutional Sylvester flow is reported '
                   'better than the residual block flow and the coupling '
                   'baseline at equal settings; values not in our sources.')
for _deq, _tag in (('flow', 'var'), ('uniform', 'unif')):
  for _name, _type, _mixing, _subflows in (
      ('conv_sylvester', 'sylvester', 'none', 16),
      ('residual_block', 'residual_flow', 'none', 16),
      ('coupling_baseline', 'coupling', '1x1', 16),
      ('residual_block_equal_memory', 'residual_flow', 'none', 8)):
    CONFIGS[f'{_name}_{_tag}'] = Config(
        CIFAR10, 'cifar10', _RESIDUAL_PAPER,
        notes=('the baseline coupling is conv3x3-ReLU-conv1x1-ReLU-conv3x3 '
               'with log-scale bound 0.5, as in the reference.'
               if _type == 'coupling' else ''),
        num_bins=256, mixing=_mixing, n_levels=3, n_subflows=_subflows,
        model_type=_type, coupling_net='plain', n_intermediate_channels=528,
        log_scale_range=0.5, use_splitprior=True, dequantization=_deq)

CONFIGS['mef_cifar10'] = Config(
    CIFAR10, 'cifar10',
    'Xiao & Liu 2020 (MEF), CIFAR-10: 3.32 bits/dim.',
    notes=('parameters_setting/Section 6.1/CIFAR10 of the MEF code: 3 levels '
           'of 8, 4, 2 steps, matrix-exp 1x1 and coupling, 8 residual blocks '
           'of 128 channels; MEF trains with Adamax at lr 1e-2, batch 64, '
           '50 epochs. Its per-position ActNorm is per-channel here.'),
    num_bins=256, mixing='matrix_exp', n_levels=3, n_subflows=[8, 4, 2],
    model_type='mef_coupling', coupling_net='resnet', resnet_blocks=8,
    n_intermediate_channels=128, use_splitprior=True,
    dequantization='uniform')

CONFIGS['glow_cifar10'] = Config(
    CIFAR10, 'cifar10',
    'Kingma & Dhariwal 2018 (Glow), CIFAR-10: 3.35 bits/dim.',
    notes=('Glow: 3 levels of 32 steps of [ActNorm, LU 1x1, affine coupling '
           'with sigmoid scale and a 512-channel conv net], learned split '
           'priors and top prior, uniform dequantization. TFP\'s own '
           '`tfb.Glow` builds the same structure.'),
    num_bins=256, mixing='lu', n_levels=3, n_subflows=32,
    model_type='coupling', coupling_net='plain', n_intermediate_channels=512,
    coupling_scale='sigmoid', use_splitprior=True, dequantization='uniform')

# The offline default of `python -m train`: the 8x8 digits that ship with
# the package (17 grey levels).
CONFIGS['digits_convexp'] = Config(
    (8, 8, 1), 'digits',
    'No published number; the uniform model is log2(17) = 4.09 bits/dim.',
    num_bins=17, mixing='convexp', n_levels=2, n_subflows=4,
    model_type='coupling', coupling_net='densenet', densenet_depth=4,
    densenet_growth=32, n_intermediate_channels=32, use_splitprior=True,
    dequantization='uniform')
