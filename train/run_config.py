"""The run's configuration: model and data, from flags, saved in the workdir.

Training writes `config.json` into the work directory; resuming, evaluation,
sampling and export rebuild exactly that model from it.
"""

import json
import os
import sys

from absl import flags

from tfp_convexp import data
from tfp_convexp import flows

FLAGS = flags.FLAGS
CONFIG_FILE = 'config.json'

# Flags that map one-to-one onto make_flow arguments.
MODEL_FLAGS = {
    'mixing': 'mixing', 'model_type': 'model_type',
    'coupling_net': 'coupling_net', 'n_levels': 'n_levels',
    'densenet_depth': 'densenet_depth', 'densenet_growth': 'densenet_growth',
    'n_intermediate_channels': 'n_intermediate_channels',
    'use_gated_conv': 'use_gated_conv', 'use_splitprior': 'use_splitprior',
    'use_actnorm': 'use_actnorm', 'dequantize_distribution': 'dequantization',
    'dequantize_subflows': 'dequantize_subflows', 'n_context': 'n_context',
    'convexp_coeff': 'convexp_coeff', 'resnet_blocks': 'resnet_blocks',
}


class UsageError(ValueError):
  """Bad flags or data: reported with exit code 2 before training starts."""


def parse_flags(argv):
  """absl's parser (for `app.run(..., flags_parser=parse_flags)`), but a bad
  flag exits with code 2 like every other usage error of these programs."""
  try:
    return FLAGS(argv)
  except flags.Error as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)


def define_model_flags():
  """The model and data flags (names as in the papers' commands)."""
  flags.DEFINE_enum('dataset', 'digits', list(data.DATASETS),
                    'Data set: `digits` (offline default, ships with the '
                    'package), a tensorflow-datasets name, or `folder`.')
  flags.DEFINE_string('data_dir', None, 'tensorflow-datasets data directory.')
  flags.DEFINE_string('image_folder', None,
                      'Folder of PNG/JPEG images, for --dataset=folder.')
  flags.DEFINE_string('model', 'digits_convexp',
                      f'Starting configuration, one of '
                      f'{sorted(flows.CONFIGS)}; the model flags below '
                      f'override it when given.')
  flags.DEFINE_enum('mixing', None, list(flows.MIXINGS), 'Mixing layer.')
  flags.DEFINE_enum('model_type', None, list(flows.MODEL_TYPES),
                    'Transformation of each step.')
  flags.DEFINE_enum('coupling_net', None, list(flows.COUPLING_NETS),
                    'Conditioner network of couplings and split priors.')
  flags.DEFINE_integer('n_levels', None, 'Levels of the multiscale flow.')
  flags.DEFINE_list('n_subflows', None,
                    'Steps per level: one int, or one per level.')
  flags.DEFINE_integer('densenet_depth', None, 'Dense layers per DenseNet.')
  flags.DEFINE_integer('densenet_growth', None, 'DenseNet growth rate.')
  flags.DEFINE_integer('n_intermediate_channels', None,
                       'Width of the conditioners (and Sylvester / residual '
                       'blocks). `--n_internal_channels` is an alias.')
  flags.DEFINE_alias('n_internal_channels', 'n_intermediate_channels')
  flags.DEFINE_boolean('use_gated_conv', None, 'Gated DenseNet outputs.')
  flags.DEFINE_boolean('use_splitprior', None, 'Learned split priors.')
  flags.DEFINE_boolean('use_actnorm', None, 'ActNorm in every step.')
  flags.DEFINE_enum('dequantize_distribution', None, ['uniform', 'flow'],
                    'Uniform or variational (flow) dequantization.')
  flags.DEFINE_integer('dequantize_subflows', None,
                       'Couplings of the dequantization flow.')
  flags.DEFINE_integer('n_context', None, 'Channels of the dequantization '
                       'context network.')
  flags.DEFINE_float('convexp_coeff', None, 'Norm bound of convexp layers.')
  flags.DEFINE_integer('resnet_blocks', None, 'Blocks of MEF\'s conditioner.')


def _subflows(values):
  try:
    ints = [int(v) for v in values]
  except ValueError as e:
    raise UsageError(f'--n_subflows must be ints; got {values!r}.') from e
  return ints[0] if len(ints) == 1 else ints


def from_flags():
  """The run configuration (a JSON-able dict) the flags describe."""
  if FLAGS.model not in flows.CONFIGS:
    raise UsageError(f'--model={FLAGS.model!r} is not a configuration; '
                     f'expected one of {sorted(flows.CONFIGS)}.')
  if FLAGS.dataset == 'folder' and not FLAGS.image_folder:
    raise UsageError('--dataset=folder needs --image_folder.')
  if FLAGS.image_folder and FLAGS.dataset != 'folder':
    raise UsageError(f'--image_folder is only read with --dataset=folder; '
                     f'got --dataset={FLAGS.dataset}.')
  try:
    image_shape, num_bins = data.image_shape_and_bins(
        FLAGS.dataset, FLAGS.data_dir, FLAGS.image_folder)
  except ValueError as e:
    raise UsageError(str(e)) from e
  except Exception as e:  # tensorflow-datasets: not downloaded, no network
    raise UsageError(f'cannot open --dataset={FLAGS.dataset}: {e}') from e
  model = dict(flows.CONFIGS[FLAGS.model])
  for flag, arg in MODEL_FLAGS.items():
    if FLAGS[flag].value is not None:
      model[arg] = FLAGS[flag].value
  if FLAGS.n_subflows is not None:
    model['n_subflows'] = _subflows(FLAGS.n_subflows)
  if (isinstance(model['n_subflows'], list) and
      len(model['n_subflows']) != model['n_levels']):
    raise UsageError(f'--n_subflows gives {len(model["n_subflows"])} levels '
                     f'but --n_levels={model["n_levels"]}.')
  model['num_bins'] = num_bins
  return dict(dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
              image_folder=FLAGS.image_folder, image_shape=list(image_shape),
              model=model)


def build_model(config):
  """`make_flow` for a run configuration; bad combinations are UsageErrors."""
  try:
    return flows.make_flow(config['image_shape'], **config['model'])
  except ValueError as e:
    raise UsageError(str(e)) from e


def load(workdir):
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise UsageError(f'{workdir!r} holds no {CONFIG_FILE}: not a training '
                     f'work directory.')
  with open(path) as f:
    return json.load(f)


def save(workdir, config):
  """Writes the configuration atomically (a partial file is never left)."""
  path = os.path.join(workdir, CONFIG_FILE)
  with open(path + '.tmp', 'w') as f:
    json.dump(config, f, indent=1, sort_keys=True)
  os.replace(path + '.tmp', path)


def differences(old, new):
  """Human-readable differences between two run configurations."""
  out = []
  for key in sorted(set(old) | set(new)):
    a, b = old.get(key), new.get(key)
    if isinstance(a, dict) and isinstance(b, dict):
      out += [f'{key}.{d}' for d in differences(a, b)]
    elif a != b:
      out.append(f'{key}: {a!r} -> {b!r}')
  return out


def restore(workdir, checkpoint=None):
  """`(config, model, step)` of a training run, weights from `checkpoint`
  (default: the latest in `workdir/checkpoints`)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  config = load(workdir)
  model = build_model(config)
  path = checkpoint or tf.train.latest_checkpoint(
      os.path.join(workdir, 'checkpoints'))
  if not path:
    raise UsageError(f'{workdir!r} holds no checkpoint yet.')
  step = tf.Variable(0, dtype=tf.int64)
  tf.train.Checkpoint(model=model, step=step).restore(path).expect_partial()
  return config, model, int(step)
