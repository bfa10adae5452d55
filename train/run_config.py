"""The run's configuration: model and data, from flags, saved in the workdir.

Training writes `config.json` into the work directory; resuming, evaluation,
sampling and export rebuild exactly that model from it.
"""

import contextlib
import functools
import hashlib
import importlib
import inspect
import logging
import math
import os
import sys
import textwrap

from absl import app
from absl import flags
import numpy as np

from tfp_convexp import data
from tfp_convexp import flows
from tfp_convexp import nets
from train import checkpoints
from train import interrupts
from train import quiet
from train import tasks
from train import workdir as workdir_lib

FLAGS = flags.FLAGS
CONFIG_FILE = 'config.json'

# Flags named as the `make_flow` (and `make_graph_flow`) arguments they set.
MODEL_FLAGS = (
    'layout', 'mixing', 'model_type', 'step', 'initial_mixing', 'coupling_net',
    'prior_net', 'n_levels', 'n_subflows', 'densenet_depth',
    'densenet_growth', 'n_intermediate_channels', 'n_internal_channels',
    'use_gated_conv', 'conv_init', 'use_splitprior', 'first_split_level',
    'dequantize_distribution', 'dequantize_subflows', 'n_context',
    'convexp_norm_bound', 'resnet_blocks', 'message_steps')
# The model flags each task reads (graph runs: `make_graph_flow`'s).
TASK_MODEL_FLAGS = {
    'images': MODEL_FLAGS[:-1],
    'graphs': ('mixing', 'n_subflows', 'n_intermediate_channels',
               'message_steps'),
}
# Data flags read by image runs only.
IMAGE_DATA_FLAGS = ('data_dir', 'image_folder')
# Every model and data flag each task reads.
TASK_FLAGS = {'images': TASK_MODEL_FLAGS['images'] + IMAGE_DATA_FLAGS,
              'graphs': TASK_MODEL_FLAGS['graphs']}


UsageError = workdir_lib.UsageError


# Flags whose choices researchers' modules extend (`--import`).
_REGISTERED_FLAGS = ('mixing', 'model_type', 'model')


def parse_flags(argv):
  """absl's parser (for `app.run(..., flags_parser=parse_flags)`), but a bad
  flag exits with code 2 like every other usage error of these programs."""
  try:
    return FLAGS(argv)
  except flags.Error as e:
    hint = ''
    if any(f'--{name}=' in str(e) for name in _REGISTERED_FLAGS):
      hint = (' (A layer or run of your own? Name the module that registers '
              'it with --import.)')
    print(f'error: {e}{hint}', file=sys.stderr)
    sys.exit(2)


_HELP = ('--help', '-help', '-h', '-?', '--helpshort')


def flags_parser(doc, groups=None):
  """The `flags_parser` of a program's `app.run`: `--help` prints `doc` and
  the program's own flags (by group, each with its default) and exits 0;
  a bad flag exits 2. `--helpfull` still lists every flag, absl's and
  TensorFlow's included."""

  def parse(argv):
    if any(arg in _HELP for arg in argv[1:]):
      print(program_help(doc, groups or {}))
      sys.exit(0)
    return parse_flags(argv)
  return parse


def _own_flags():
  """Flags defined by this package's programs, by name (no aliases)."""
  here = os.path.dirname(os.path.abspath(__file__))
  own = {}
  for module, module_flags in FLAGS.flags_by_module_dict().items():
    if module.startswith('train') or os.path.abspath(module).startswith(here):
      own.update((f.name, f) for f in module_flags)
  return own


def program_help(doc, groups):
  """`doc`, then one section per group of flags, then the ungrouped ones."""
  own, aliases = {}, {}
  for name, flag in _own_flags().items():
    if type(flag).__name__ == '_FlagAlias':  # help: 'Alias for --<name>.'
      aliases.setdefault(flag.help[len('Alias for --'):-1], []).append(name)
    else:
      own[name] = flag
  sections = dict(groups)
  grouped = {n for names in sections.values() for n in names}
  rest = sorted(n for n in own if n not in grouped)
  if rest:
    sections['other' if groups else 'flags'] = rest
  lines = [doc.strip(), '']
  for section, names in sections.items():
    lines.append(f'{section}:')
    for name in names:
      flag = own[name]
      default = flag.default
      from_model = 'model' in FLAGS and default is None and (
          name in MODEL_FLAGS or name in flows.TRAINING_KEYS or
          name == 'dataset')
      if default is None and from_model:  # the --model default's value
        value = _from_registry(FLAGS['model'].default, name)
        from_model = value is not None  # else not read by that model
        default = (','.join(map(str, value)) if isinstance(value, (list, tuple))
                   else value)
      if isinstance(default, bool):
        shown = f'--[no]{name} (default: {str(default).lower()})'
      elif default is None:
        shown = f'--{name} (default: none)'
      elif isinstance(default, list):
        shown = f'--{name}={",".join(map(str, default))}'
      else:
        shown = f'--{name}={default}'
      lines.append(f'  {shown}')
      text = flag.help
      choices = getattr(flag.parser, 'enum_values', None)
      if choices:  # absl puts '<a|b|c>: ' in front of the help
        text = text.split('>: ', 1)[-1]
        if ' One of: ' not in text:  # else the help describes each choice
          text += f' One of: {", ".join(choices)}.'
      if from_model:
        text += f' Default: that of --model={FLAGS["model"].default}.'
      if name in aliases:
        text += f' Also --{", --".join(aliases[name])}.'
      lines += ['      ' + line for line in textwrap.wrap(text, 72)]
    lines.append('')
  lines.append('--helpfull lists absl\'s and TensorFlow\'s flags too.')
  return '\n'.join(lines)


# What a program keeps until `run_program` ends its process (see
# `keep_until_exit`).
_KEPT = []


def keep_until_exit(objects):
  """Keeps `objects` (a finished run's TensorFlow objects) from being freed
  before the process ends: freeing a trained run's input pipeline and
  compiled functions waits for native threads to stop, which held the
  prompt 1.8 to 9.8 s after the last line in 8 of 30 timed runs of a tiny
  training (0.1 to 0.9 s in the others); with them kept, 12 of 12 runs on a
  loaded machine ended 0.09 to 0.15 s after it. A program called in-process
  frees them with `release_kept`."""
  _KEPT.append(objects)


def release_kept():
  _KEPT.clear()


def run_program(main, parser):
  """`app.run(main, flags_parser=parser)` for `python -m <program>`, ending
  the process as soon as its output and logs are flushed: the interpreter's
  own shutdown with TensorFlow loaded takes about 2 s more (its thread pools
  and runtime), writes nothing, and leaves the user waiting after the last
  line. Checkpoints, summaries and results are all written synchronously
  before `main` returns."""
  try:
    app.run(main, flags_parser=parser)
    code = 0
  except SystemExit as e:
    code = e.code
  if code is not None and not isinstance(code, int):
    print(code, file=sys.stderr)  # as Python prints `sys.exit('message')`
    code = 1
  logging.shutdown()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code or 0)  # pylint: disable=protected-access


# The shell's exit codes for a program stopped by Ctrl-C (128 + SIGINT) and
# by SIGTERM (128 + 15).
INTERRUPTED_EXIT_CODE = 130
TERMINATED_EXIT_CODE = 143


def exits_2_on_usage_errors(main):
  """Wraps a program's `main`: a UsageError becomes `error: ...` on stderr
  and exit code 2 (absl would print the whole usage text); Ctrl-C becomes
  one `interrupted ...` line (what was saved, if the program says) and exit
  code 130, not a traceback."""

  @functools.wraps(main)
  def wrapped(argv):
    if len(argv) > 1:
      print(f'error: unexpected arguments {argv[1:]}', file=sys.stderr)
      sys.exit(2)
    try:
      return main(argv)
    except app.UsageError as e:
      print(f'error: {e}', file=sys.stderr)
      sys.exit(2)
    except KeyboardInterrupt as e:
      what = ('stopped with the cluster (another worker received SIGTERM '
              'or Ctrl-C)' if isinstance(e, interrupts.PeerStopped) else
              'terminated (SIGTERM)' if isinstance(e, interrupts.Terminated)
              else 'interrupted')
      print(f'{what} {e}' if str(e) else f'{what}; nothing written',
            file=sys.stderr)
      sys.exit(TERMINATED_EXIT_CODE if isinstance(e, interrupts.Terminated)
               else INTERRUPTED_EXIT_CODE)
  return wrapped


def _from_registry(model, name):
  """The value a `--model` entry gives the flag `name` (None: a model flag
  its task does not read)."""
  config = flows.CONFIGS[model]
  if name == 'dataset':
    return config.dataset
  if name in flows.TRAINING_KEYS:
    return config.training[name]
  return {**_model_defaults(config.task), **config}.get(name)


def _model_defaults(task='images'):
  """Every argument of the task's model builder that a run configuration
  holds, at its default."""
  return {name: p.default for name, p in
          inspect.signature(flows.TASKS[task]).parameters.items()
          if name not in ('image_shape', 'num_nodes', 'num_features', 'dtype',
                          'validate_args')}


def _choices(registry):
  return ' One of: ' + '; '.join(
      f'{name} = {choice.description}' for name, choice in registry.items()) + '.'


# The flag of researchers' modules; a Python keyword, so FLAGS['import'].
IMPORT_FLAG = 'import'


def _registered():
  return (tuple(flows.MIXINGS), tuple(flows.MODEL_TYPES),
          tuple(flows.CONFIGS))


def import_modules(names, what='--import'):
  """Imports researchers' modules that register layers (`flows.
  register_mixing`, `flows.register_transform`) or add `flows.CONFIGS`
  entries when imported. A module that cannot be imported, registers a
  taken name, or registers nothing is a UsageError."""
  for name in names:
    if name in sys.modules:
      continue  # registered by an earlier import in this process
    before = _registered()
    try:
      importlib.import_module(name)
    except ModuleNotFoundError as e:
      if e.name != name.split('.')[0] and e.name != name:
        raise UsageError(f'{what}={name}: importing it failed: {e}.') from e
      raise UsageError(
          f'{what}={name}: no module {e.name!r} in the current directory '
          f'({os.getcwd()}) or on PYTHONPATH.') from e
    except (ValueError, TypeError) as e:  # a taken name, a bad builder
      raise UsageError(f'{what}={name}: {e}') from e
    if _registered() == before:
      raise UsageError(
          f'{what}={name}: importing it registered nothing. Such a module '
          f'calls flows.register_mixing(name, build, description) or '
          f'flows.register_transform(...), or adds flows.CONFIGS entries, '
          f'when it is imported.')


def _imports_in(argv):
  """The modules `--import` names in `argv`, before absl parses it (the
  flags' choices include what they register)."""
  names, args = [], list(argv[1:])
  for i, arg in enumerate(args):
    if arg == '--':
      break
    flag, eq, value = arg.lstrip('-').partition('=')
    if arg.startswith('-') and flag == IMPORT_FLAG:
      if not eq:
        value = args[i + 1] if i + 1 < len(args) else ''
      names += [n.strip() for n in value.split(',') if n.strip()]
  return names


def define_model_flags():
  """The model and data flags (names as in the papers' commands). Each
  defaults to its value in the `--model` entry. The modules of the
  command line's `--import` are imported first, so that the choices include
  the layers and runs they register."""
  flags.DEFINE_list(IMPORT_FLAG, [], 'Python modules to import before the '
                    'flags are read: researchers\' own layers '
                    '(`flows.register_mixing`, `flows.register_transform`) '
                    'and runs (`flows.CONFIGS`), then named by --mixing, '
                    '--model_type or --model. Looked for in the current '
                    'directory and on PYTHONPATH.')
  try:
    import_modules(_imports_in(sys.argv))
  except UsageError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  flags.DEFINE_enum('model', 'digits_convexp', sorted(flows.CONFIGS),
                    'The named run to start from (`flows.CONFIGS`): its '
                    'model, data set and training settings; the flags below '
                    'override single values. `graph_*` runs train graph '
                    'flows.')
  flags.DEFINE_enum('dataset', None,
                    [*data.DATASETS, *data.graphs.GRAPH_SETS],
                    'Data set: `digits` (offline, ships with the package), '
                    '`photos` (offline 16x16 colour patches; needs the '
                    '`photos` extra), a tensorflow-datasets name, or '
                    '`folder`; for graph runs, an offline graph set '
                    '(`community_gmrf`, `springs`).')
  flags.DEFINE_string('data_dir', None, 'tensorflow-datasets data directory.')
  flags.DEFINE_string('image_folder', None,
                      'Folder of PNG/JPEG images, for --dataset=folder.')
  flags.DEFINE_enum('layout', None, list(flows.LAYOUTS),
                    'The continuous flow.' + _choices(flows.LAYOUTS))
  flags.DEFINE_enum('mixing', None, list(flows.MIXINGS) + [
      m for m in flows.GRAPH_MIXINGS if m not in flows.MIXINGS],
                    'Mixing layer.' + _choices(flows.MIXINGS) +
                    ' Graph runs take' +
                    _choices(flows.GRAPH_MIXINGS)[len(' One of'):-1] +
                    ' (`make_graph_flow`).')
  flags.DEFINE_enum('model_type', None, list(flows.MODEL_TYPES),
                    'Transformation of each step.' +
                    _choices(flows.MODEL_TYPES))
  flags.DEFINE_list('step', None, 'The layers of each step, in order.' +
                    _choices(flows.STEP_LAYERS))
  flags.DEFINE_boolean('initial_mixing', None,
                       'One mixing layer right after the first squeeze.')
  flags.DEFINE_enum('coupling_net', None, list(flows.COUPLING_NETS),
                    'Conditioner of the steps\' couplings.' +
                    _choices(flows.COUPLING_NETS))
  flags.DEFINE_enum('prior_net', None, list(flows.COUPLING_NETS),
                    'Conditioner of the split priors and of the '
                    'dequantization flow\'s couplings.')
  flags.DEFINE_integer('n_levels', None, 'Levels of the multiscale flow.',
                       lower_bound=1)
  flags.DEFINE_list('n_subflows', None,
                    'Steps per level: one int, or one per level.')
  flags.DEFINE_integer('densenet_depth', None, 'Dense layers per DenseNet.',
                       lower_bound=1)
  flags.DEFINE_integer('densenet_growth', None, 'DenseNet growth rate.',
                       lower_bound=1)
  flags.DEFINE_integer('n_intermediate_channels', None,
                       'Width of the conditioners.', lower_bound=1)
  flags.DEFINE_integer('n_internal_channels', None,
                       'Width of the Sylvester and residual blocks.',
                       lower_bound=1)
  flags.DEFINE_boolean('use_gated_conv', None, 'Gated DenseNet outputs.')
  flags.DEFINE_enum('conv_init', None, list(nets.INITS),
                    'Initialisation of the conditioners\' convolutions '
                    '(uniform_fan_in: PyTorch\'s, the reference code\'s).')
  flags.DEFINE_boolean('use_splitprior', None, 'Learned split priors.')
  flags.DEFINE_integer('first_split_level', None,
                       'Levels before it keep all their channels.',
                       lower_bound=0)
  flags.DEFINE_enum('dequantize_distribution', None,
                    list(flows.DEQUANTIZATIONS),
                    'Dequantization.' + _choices(flows.DEQUANTIZATIONS))
  flags.DEFINE_integer('dequantize_subflows', None,
                       'Couplings of the dequantization flow.',
                       lower_bound=1)
  flags.DEFINE_integer('n_context', None, 'Channels of the dequantization '
                       'context network.', lower_bound=1)
  flags.DEFINE_boolean('conditional', False, 'A class-conditional image '
                       'flow (make_flow\'s num_classes): trained on the data '
                       'set\'s labels (digits; folder: one subfolder per '
                       'class; tensorflow-datasets sets with a label), its '
                       'sample grids one row per class, its evaluation also '
                       'the Bayes classifier\'s accuracy.')
  flags.DEFINE_float('convexp_norm_bound', None,
                     'Certified norm bound of the convolution exponentials.')
  flags.DEFINE_alias('convexp_coeff', 'convexp_norm_bound')  # the papers' name
  flags.DEFINE_integer('resnet_blocks', None, 'Blocks of MEF\'s conditioner.',
                       lower_bound=1)
  flags.DEFINE_integer('message_steps', None, 'Message-passing rounds of a '
                       'graph flow\'s coupling networks; default: the graph '
                       '--model entry\'s (2).', lower_bound=1)
  flags.register_validator(
      'convexp_norm_bound', lambda v: v is None or 0. < v < math.inf,
      '--convexp_norm_bound must be a finite number > 0.')
  flags.register_validator(
      'n_subflows', lambda v: v is None or (
          bool(v) and all(s.strip().isdigit() and int(s) > 0 for s in v)),
      '--n_subflows must be one positive int or a comma-separated list of '
      'them (one per level).')
  flags.register_multi_flags_validator(
      ['dataset', 'image_folder'],
      lambda f: f['dataset'] != 'folder' or f['image_folder'] is not None,
      '--dataset=folder needs --image_folder.')
  flags.register_multi_flags_validator(
      ['dataset', 'image_folder'],
      lambda f: f['image_folder'] is None or f['dataset'] == 'folder',
      '--image_folder is only read with --dataset=folder.')
  flags.register_validator(
      'step', lambda v: v is None or (
          bool(v) and all(s in flows.STEP_LAYERS for s in v)),
      f'--step must list layers of {", ".join(flows.STEP_LAYERS)}.')


def _subflows(values):
  ints = [int(v) for v in values]  # checked by the flag's validator
  return ints[0] if len(ints) == 1 else ints


def setting(name):
  """A flag's value, or the `--model` entry's when the flag is not given."""
  value = FLAGS[name].value
  return _from_registry(FLAGS.model, name) if value is None else value


def _given(names):
  return [n for n in names if n in FLAGS and FLAGS[n].value is not None]


def from_flags():
  """The run configuration (a JSON-able dict) the flags describe."""
  config = _config_from_flags()
  if FLAGS[IMPORT_FLAG].value:  # else as config.json was before --import
    config['imports'] = list(FLAGS[IMPORT_FLAG].value)
  return config


def _config_from_flags():
  task = flows.CONFIGS[FLAGS.model].task
  dataset = setting('dataset')  # --image_folder: checked by its validators
  graph_sets = data.graphs.GRAPH_SETS
  kind = {'images': 'an image', 'graphs': 'a graph'}
  if (task == 'graphs') != (dataset in graph_sets):
    raise UsageError(
        f'--model={FLAGS.model} trains {kind[task]} flow, but '
        f'--dataset={dataset} is '
        f'{kind["graphs" if dataset in graph_sets else "images"]} set; '
        f'choose {kind[task]} set '
        f'({", ".join(graph_sets) if task == "graphs" else "e.g. digits"}) '
        f'or a --model of that kind.')
  unread = _given([n for n in MODEL_FLAGS + IMAGE_DATA_FLAGS
                   if n not in TASK_FLAGS[task]])
  if unread:
    raise UsageError(f'--model={FLAGS.model} is {kind[task]} flow, which '
                     f'does not read --{", --".join(unread)}; its model '
                     f'flags are --{", --".join(TASK_MODEL_FLAGS[task])}.')
  if task == 'graphs':
    if FLAGS.conditional:
      raise UsageError('--conditional: graph runs have no class labels.')
    return _graph_config(dataset)
  try:
    image_shape, num_bins = data.image_shape_and_bins(
        dataset, FLAGS.data_dir, FLAGS.image_folder)
  except ValueError as e:
    raise UsageError(str(e)) from e
  except Exception as e:  # tensorflow-datasets: not downloaded, no network
    raise UsageError(f'cannot open --dataset={dataset}: {e}') from e
  # Every make_flow argument, so that config.json holds the whole model even
  # if a default changes later.
  model = {**_model_defaults(), **flows.CONFIGS[FLAGS.model]}
  for name in MODEL_FLAGS:
    if FLAGS[name].value is not None:
      model[name] = FLAGS[name].value
  if FLAGS.n_subflows is not None:
    model['n_subflows'] = _subflows(FLAGS.n_subflows)
  if FLAGS.step is not None:
    model['step'] = list(FLAGS.step)
  for name in ('step', 'n_subflows'):  # as JSON gives them back
    if isinstance(model.get(name), tuple):
      model[name] = list(model[name])
  if (isinstance(model['n_subflows'], list) and
      len(model['n_subflows']) != model['n_levels']):
    raise UsageError(f'--n_subflows gives {len(model["n_subflows"])} levels '
                     f'but --n_levels={model["n_levels"]}.')
  model['num_bins'] = num_bins
  if FLAGS.conditional:
    try:
      classes = data.class_names(dataset, FLAGS.data_dir, FLAGS.image_folder)
    except ValueError as e:
      raise UsageError(f'--conditional: {e}') from e
    model['num_classes'] = len(classes)
  if 'seed' in FLAGS:  # the training program's --seed initialises the weights
    model['seed'] = FLAGS.seed
  return dict(dataset=dataset, data_dir=FLAGS.data_dir,
              image_folder=FLAGS.image_folder, image_shape=list(image_shape),
              model=model)


def _graph_config(dataset):
  """`from_flags` for a graph run."""
  model = {**_model_defaults('graphs'), **flows.CONFIGS[FLAGS.model]}
  for name in TASK_MODEL_FLAGS['graphs']:
    if FLAGS[name].value is not None:
      model[name] = FLAGS[name].value
  if model['mixing'] not in flows.GRAPH_MIXINGS:
    raise UsageError(f'--mixing={model["mixing"]} is an image mixing layer; '
                     f'a graph run takes one of '
                     f'{", ".join(flows.GRAPH_MIXINGS)}.')
  if FLAGS.n_subflows is not None:
    if len(FLAGS.n_subflows) != 1:
      raise UsageError(f'--n_subflows={",".join(FLAGS.n_subflows)}: a graph '
                       f'flow has one level; give one number of steps.')
    model['n_subflows'] = int(FLAGS.n_subflows[0])
  if 'seed' in FLAGS:
    model['seed'] = FLAGS.seed
  return dict(task='graphs', dataset=dataset,
              graph_shape=list(data.graphs.graph_shape(dataset)), model=model)


def build_model(config):
  """The model of a run configuration; bad combinations are UsageErrors."""
  try:
    return tasks.of(config).build(config)
  except ValueError as e:
    raise UsageError(str(e)) from e


def load(workdir):
  if not os.path.isdir(workdir):
    raise UsageError(f'--workdir={workdir!r} is not a directory.')
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise UsageError(f'{workdir!r} holds no {CONFIG_FILE}: not a training '
                     f'work directory.')
  config = workdir_lib.read_json(path)
  if (not isinstance(config, dict) or 'model' not in config or
      not {'image_shape', 'graph_shape'} & set(config) or
      config.get('task', 'images') not in flows.TASKS):
    raise UsageError(f'{path!r} is not a run configuration (no image_shape '
                     f'or graph_shape, and model); restore it or start again '
                     f'with --overwrite.')
  import_modules(config.get('imports', []),
                 f'{path!r} was trained with --import')
  # A run saved before a builder argument existed was built with that
  # argument's default (new arguments default to the old behaviour).
  config['model'] = {**_model_defaults(config.get('task', 'images')),
                     **config['model']}
  return config


def save(workdir, config):
  """Writes the configuration atomically (a partial file is never left)."""
  workdir_lib.write_json(os.path.join(workdir, CONFIG_FILE), config)


def data_record(task, train, test):
  """What config.json records of the data a run trains on (the task's
  `Split`s): a resume on other data (images added to a folder, another tfds
  version, another graph generator) is refused like a changed setting,
  since the data order and the test figure depend on it."""
  digest = hashlib.sha256()
  for split in (train, test):
    for array in split.arrays:
      if isinstance(array, data.ImageRecords):  # not read whole
        digest.update(array.fingerprint().encode())
      else:
        digest.update(memoryview(np.ascontiguousarray(array)).cast('B'))
  return {f'train_{task.examples}': len(train),
          f'test_{task.examples}': len(test), 'sha256': digest.hexdigest()}


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
  if checkpoint:
    try:
      checkpoints.verify(checkpoint)
    except checkpoints.CorruptCheckpoint as e:
      raise UsageError(f'--checkpoint={checkpoint!r} cannot be read ({e}).'
                       ) from e
    path = checkpoint
  else:
    path = checkpoints.newest_intact(os.path.join(workdir, 'checkpoints'),
                                     log=_log_to_stderr, set_aside=False)
  if not path:
    raise UsageError(f'{workdir!r} holds no intact checkpoint yet.')
  step = tf.Variable(0, dtype=tf.int64)
  try:
    tf.train.Checkpoint(model=model, step=step).read(path).expect_partial()
  except (tf.errors.OpError, ValueError, AssertionError) as e:
    raise UsageError(f'checkpoint {path!r} does not hold this model ({e}).'
                     ) from e
  return config, model, int(step)


@contextlib.contextmanager
def restored_run(workdir, checkpoint, program):
  """`(config, model, step)` of a training run, for a program that reads it:
  holds the work directory's lock and logs to its log file meanwhile."""
  with workdir_lib.Lock(workdir, program):
    quiet.log_to_file(os.path.join(workdir, workdir_lib.LOG_FILE))
    yield restore(workdir, checkpoint)


def _log_to_stderr(message):
  print(message, file=sys.stderr, flush=True)
