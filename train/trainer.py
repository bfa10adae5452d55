"""`python -m train`: trains a flow on tf.distribute.

    python -m train                      # offline digits, writes runs/default
    python -m train --model=mixing_convexp --workdir=runs/convexp
    python -m train --model=graph_gmrf --workdir=runs/graphs  # a graph flow

It writes into `--workdir`: `config.json` (the model), `checkpoints/`
(every `--checkpoint_every` steps and at the end; a rerun resumes from the
last one with the same step, optimizer state and data position),
`tb/` (TensorBoard), `samples_<step>.png` at every evaluation, and
`final.json` (the test metric, seconds of training, the step it started
at). Image runs are measured in bits/dim; graph runs (`--model=graph_*`) in
nats per node, beside the data's true value where it is known.

Bad flags, data or settings exit with code 2 and one `error:` line before
any training; so does a run that cannot make progress (non-finite steps
that restoring the last checkpoint `--max_restores` times did not cure).
A `LOCK` file keeps a second program out of a work directory in use.
Checkpoints are found from their files, written atomically, and a damaged
one is set aside for the previous one; nothing in an existing work
directory is replaced without `--overwrite`. Ctrl-C saves a checkpoint of
the step it stopped at and exits with code 130; SIGTERM (a scheduler's
preemption, `kill`) does the same and exits with code 143. On a
multi-worker run either signal to one worker stops every worker at one
agreed step, saved (`train/preemption.py`).
"""

import collections
import functools
import math
import os
import re
import shutil
import sys
import time

from absl import flags
import keras
import numpy as np
import tensorflow as tf

from tfp_convexp import bijectors
from train import checkpoints
from train import distribute
from train import evaluation
from train import images as image_lib
from train import input_pipeline
from train import interrupts as interrupts_lib
from train import preemption
from train import quiet
from train import run_config
from train import settings as settings_lib
from train import step as step_lib
from train import tasks
from train import workdir as workdir_lib

FLAGS = flags.FLAGS
WARMUP_SHAPES = {'linear': 1., 'quadratic': 2.}
OPTIMIZERS = {'adam': keras.optimizers.Adam, 'adamax': keras.optimizers.Adamax}
run_config.define_model_flags()
# The training settings of a named run (flows.TRAINING_KEYS): each defaults to
# the --model entry's value.
flags.DEFINE_integer('epochs', None, 'Training epochs.', lower_bound=1)
flags.DEFINE_integer('batch_size', None, 'Global batch size (all replicas).',
                     lower_bound=1)
flags.DEFINE_float('lr', None, 'Peak learning rate, > 0.')
flags.DEFINE_alias('learning_rate', 'lr')
flags.DEFINE_integer('warmup', None, 'Epochs of learning-rate warm-up.',
                     lower_bound=0)
flags.DEFINE_enum('warmup_shape', None, list(WARMUP_SHAPES),
                  'The warm-up factor min(1, (epoch + 1) / warmup), or its '
                  'square (the residual-transformation runs).')
flags.DEFINE_float('lr_decay', None, 'Learning-rate factor per epoch, in '
                   '(0, 1].')
flags.DEFINE_enum('optimizer', None, list(OPTIMIZERS), 'Optimizer.')
flags.DEFINE_float('beta_2', None, 'Second-moment decay of the optimizer, '
                   'in (0, 1).')
flags.DEFINE_float('clip_grad_norm', None, 'Global gradient-norm clip, >= 0; '
                   '0: off.')
flags.DEFINE_enum('augment', None, list(input_pipeline.AUGMENTATIONS),
                  'Augmentation of the training images, a function of the '
                  'seed and the example\'s position in the run (so resumed '
                  'and distributed runs see the same). One of: ' + '; '.join(
                      f'{k} = {v}' for k, v in
                      input_pipeline.AUGMENTATIONS.items()) + '.')
flags.DEFINE_integer('validation_size', None, 'Training examples held out '
                     '(the last ones of the training split) to choose the '
                     'model: their metric is computed at each evaluation and '
                     'the best model is kept in <workdir>/best; 0: none.',
                     lower_bound=0)
flags.DEFINE_integer('seed', 0, 'Seed of weights, data order and noise.',
                     lower_bound=0)
flags.DEFINE_string('workdir', os.path.join('runs', 'default'),
                    'Work directory (checkpoints, logs, samples).')
flags.DEFINE_enum('strategy', 'default', list(distribute.STRATEGIES),
                  'tf.distribute strategy.')
flags.DEFINE_string('tpu', None, 'TPU name or address, for --strategy=tpu.')
flags.DEFINE_integer('cpu_devices', 0, 'Split the CPU into this many logical '
                     'devices (--strategy=mirrored without accelerators).',
                     lower_bound=0)
flags.DEFINE_boolean('jit_compile', None, 'XLA-compile the loss; default: '
                     'where benchmarks/train_bench.py measured it faster (see '
                     '`default_jit_compile`).')
flags.DEFINE_integer('max_steps', 0, 'Stop after this many steps; 0: no cap.',
                     lower_bound=0)
flags.DEFINE_integer('checkpoint_every', 200, 'Checkpoint interval in steps.',
                     lower_bound=1)
flags.DEFINE_integer('keep_checkpoints', 3, 'Checkpoints kept on disk.',
                     lower_bound=1)
flags.DEFINE_integer('eval_every', 10, 'Evaluate every this many epochs.',
                     lower_bound=1)
flags.DEFINE_integer('eval_num_samples', 1,
                     'Importance samples of the evaluations during training.',
                     lower_bound=1)
flags.DEFINE_integer('final_num_samples', None,
                     'Importance samples of a last test evaluation, of the '
                     'best-validation model (the last one without '
                     '--validation_size), reported in final.json beside the '
                     'single-sample value; 0: none.', lower_bound=0)
flags.DEFINE_integer('num_grid_samples', 64, 'Images in each sample grid.',
                     lower_bound=1)
flags.DEFINE_float('temperature', 1., 'Temperature of the sample grids, >= 0.')
flags.DEFINE_integer('log_every', 10, 'TensorBoard scalar interval (steps).',
                     lower_bound=1)
flags.DEFINE_integer('max_nonfinite', 3, 'Consecutive non-finite steps (each '
                     'skipped) before the last good checkpoint is restored.',
                     lower_bound=1)
flags.DEFINE_integer('max_restores', 3, 'Restores of the last good checkpoint '
                     'without reaching a new one before the run stops.',
                     lower_bound=1)
flags.DEFINE_boolean('overwrite', False, 'Replace the run in --workdir (its '
                     'files are kept aside until the new run saves its first '
                     'checkpoint; other files are left alone).')
flags.DEFINE_boolean('accept_changed_settings', False, 'Resume although a '
                     'training setting (e.g. --lr) differs from the one the '
                     'run was started with; config.json records the change.')
flags.DEFINE_boolean('progress', True, 'Show a progress bar per epoch.')
flags.DEFINE_list('inject_nonfinite_at', [], 'Testing aid: steps whose loss '
                  'is made NaN; a step listed k times fails its first k '
                  'attempts.')

flags.register_validator('lr', lambda v: v is None or 0. < v < math.inf,
                         '--lr must be a finite number > 0.')
flags.register_validator('lr_decay', lambda v: v is None or 0. < v <= 1.,
                         '--lr_decay must be in (0, 1].')
flags.register_validator('beta_2', lambda v: v is None or 0. < v < 1.,
                         '--beta_2 must be in (0, 1).')
flags.register_validator('clip_grad_norm',
                         lambda v: v is None or 0. <= v < math.inf,
                         '--clip_grad_norm must be a finite number >= 0 '
                         '(0: no clipping).')
flags.register_validator('temperature', lambda v: 0. <= v < math.inf,
                         '--temperature must be a finite number >= 0.')
flags.register_validator(
    'inject_nonfinite_at',
    lambda v: all(s.strip().isdigit() for s in v),
    '--inject_nonfinite_at must list step numbers >= 0.')
flags.register_multi_flags_validator(
    ['cpu_devices', 'strategy'],
    lambda f: not f['cpu_devices'] or f['strategy'] == 'mirrored',
    '--cpu_devices splits the CPU for --strategy=mirrored only.')
flags.register_multi_flags_validator(
    ['tpu', 'strategy'], lambda f: not f['tpu'] or f['strategy'] == 'tpu',
    '--tpu is only read with --strategy=tpu.')
flags.register_multi_flags_validator(
    ['tpu', 'strategy'], lambda f: f['strategy'] != 'tpu' or f['tpu'],
    '--strategy=tpu needs --tpu (a TPU name or address).')

UsageError = run_config.UsageError
# Beside the checkpoints: the training time and recent losses at the last one.
PROGRESS_FILE = 'progress.json'

HELP_GROUPS = {
    'model': ['model', *run_config.MODEL_FLAGS, 'conditional',
              run_config.IMPORT_FLAG],
    'data': ['dataset', 'data_dir', 'image_folder'],
    'training': ['epochs', 'max_steps', 'batch_size', 'lr', 'warmup',
                 'warmup_shape', 'lr_decay', 'optimizer', 'beta_2',
                 'clip_grad_norm', 'augment', 'validation_size', 'seed',
                 'jit_compile', 'max_nonfinite', 'max_restores',
                 'accept_changed_settings', 'inject_nonfinite_at'],
    'distribution': ['strategy', 'cpu_devices', 'tpu'],
    'output': ['workdir', 'overwrite', 'checkpoint_every', 'keep_checkpoints',
               'eval_every', 'eval_num_samples', 'final_num_samples',
               'num_grid_samples',
               'temperature', 'log_every', 'progress'],
}


class Run(object):
  """Everything `prepare` validated and built, before any training step:
  `settings` (a `Settings`), `config` (the model and data), the data, the
  strategy, the model, `jit`, `chief`, `resume` and the work directory's
  `lock`."""


def _prepare_workdir(workdir, config, settings):
  """Checks what `workdir` holds against `config` and the run settings; sets
  a previous run aside on --overwrite.

  Returns True when the run resumes from the workdir's checkpoints.
  """
  present = [n for n in os.listdir(workdir)
             if n not in (workdir_lib.LOCK_FILE, workdir_lib.REPLACED_DIR)]
  replaced = os.path.join(workdir, workdir_lib.REPLACED_DIR)
  if (not settings.overwrite and os.path.isdir(replaced) and
      not checkpoints.numbers(os.path.join(workdir, 'checkpoints'))):
    # Training on would discard the replaced run at the first checkpoint,
    # though this command did not ask to replace anything.
    raise UsageError(f'--workdir={workdir!r}: an --overwrite run stopped '
                     f'before its first checkpoint, and the run it replaces '
                     f'is kept in {replaced!r}. Pass --overwrite to replace '
                     f'it again, or move the files of {replaced!r} back into '
                     f'--workdir to resume that run.')
  if not present:
    return False
  if settings.overwrite:
    moved = workdir_lib.set_aside(workdir)
    if moved:
      print(f'--overwrite: the previous run\'s files ({", ".join(moved)}) are '
            f'in {os.path.join(workdir, workdir_lib.REPLACED_DIR)} until this '
            f'run saves its first checkpoint', flush=True)
    return False
  path = os.path.join(workdir, run_config.CONFIG_FILE)
  if not os.path.exists(path):
    raise UsageError(f'--workdir={workdir!r} is not empty and holds no '
                     f'{run_config.CONFIG_FILE}; pass --overwrite to replace '
                     f'its contents or choose another --workdir.')
  old = run_config.load(workdir)
  keys = ('task', 'dataset', 'image_folder', 'image_shape', 'graph_shape',
          'model', 'imports')
  changed = run_config.differences({k: old.get(k) for k in keys},
                                   {k: config.get(k) for k in keys})
  if changed:
    raise UsageError(f'--workdir={workdir!r} holds a checkpoint of a different '
                     f'model ({"; ".join(changed)}); pass --overwrite to '
                     f'replace it or choose another --workdir.')
  changed = settings.changed_from(old.get('training', {}))
  if 'data' in old:  # recorded since the data check exists
    changed += [f'the data: {d}' for d in run_config.differences(
        old['data'], config['data'])]
  if changed and not settings.accept_changed_settings:
    raise UsageError(f'--workdir={workdir!r} holds a run started with other '
                     f'settings ({"; ".join(changed)}); resume with the same '
                     f'values, or pass --accept_changed_settings to continue '
                     f'with the new ones.')
  if changed:
    print(f'continuing with changed settings: {"; ".join(changed)}',
          flush=True)
  return True


def prepare():
  """Validates flags, data and work directory, takes the work directory's
  lock and builds the model."""
  settings = settings_lib.Settings.from_flags()
  if settings.cpu_devices:
    distribute.split_cpu(settings.cpu_devices)
  config = run_config.from_flags()
  run = Run()
  run.config = config
  run.settings = settings
  run.task = task = tasks.of(config)
  run.chief = distribute.is_chief()
  workdir_lib.check_directory(settings.workdir)
  if task.name == 'graphs' and settings.augment != 'none':
    raise UsageError(f'--augment={settings.augment} augments images; a '
                     f'graph run takes --augment=none.')
  for name, none in (('eval_num_samples', 1), ('final_num_samples', 0)):
    if not task.importance_sampled and getattr(settings, name) != none:
      raise UsageError(f'--{name}={getattr(settings, name)}: a graph flow\'s '
                       f'likelihood is exact; importance samples are for '
                       f'dequantized image models.')
  _say(f'loading --dataset={config["dataset"]}')
  try:
    train = task.load(config, 'train')
    run.test = task.load(config, 'test')
  except ValueError as e:
    raise UsageError(str(e)) from e
  tasks.check(task, config, train, run.test)
  config['data'] = run_config.data_record(task, train, run.test)
  run.train, run.validation = tasks.hold_out(train, settings.validation_size)
  batch_size = settings.batch_size
  if batch_size > len(run.train):
    raise UsageError(f'--batch_size={batch_size} exceeds the '
                     f'{len(run.train)} training {task.examples}.')
  try:
    run.strategy = distribute.make_strategy(settings.strategy, settings.tpu)
  except ValueError as e:
    raise UsageError(str(e)) from e
  replicas = run.strategy.num_replicas_in_sync
  if batch_size % replicas:
    raise UsageError(f'--batch_size={batch_size} must be divisible by '
                     f'the {replicas} replicas of --strategy={settings.strategy}.')
  _say(f'building --model={settings.model}')
  with run.strategy.scope():
    run.model = run_config.build_model(config)
  run.jit = (settings.jit_compile if settings.jit_compile is not None else
             default_jit_compile(config, settings.strategy))
  # Only the chief writes into the work directory, so only it holds the lock
  # (the other workers of a multi-worker run keep to tmp/<task>).
  run.lock = None
  if run.chief:
    run.lock = workdir_lib.Lock(settings.workdir, 'python -m train',
                                  create=True).acquire()
    try:
      run.resume = _prepare_workdir(settings.workdir, config, run.settings)
      quiet.log_to_file(os.path.join(settings.workdir, workdir_lib.LOG_FILE))
    except BaseException:  # a refused work directory is not left locked
      run.lock.release()
      raise
  else:  # resumes where the chief's checkpoints are, unless starting anew
    run.resume = not settings.overwrite
  return run


# On 8x8 images XLA:CPU ran the coupling model's training step faster with
# the plain coupling net and every mixing layer, and slower with the DenseNet
# and every mixing layer; on 32x32 images (DenseNet) slower with every one;
# and it ran the step of these transformations faster on 8x8 and 16x16
# images (benchmarks/results/train.md; 32x32 not measured).
_XLA_FASTER_COUPLING_NETS = ('plain',)
_XLA_FASTER_MODEL_TYPES = ('sylvester', 'residual_flow')


def _say(message):
  """A start-up stage, so that a long start is never silent."""
  print(f'{message} ...', flush=True)


def default_jit_compile(config, strategy):
  """XLA for the loss where it was measured faster: always on TPUs (which
  need it); on CPUs for coupling models with the plain coupling net on
  images of at most 64 pixels, and for Sylvester flows and residual blocks
  on images of at most 256; for graph flows."""
  if strategy == 'tpu' or tasks.of(config).name == 'graphs':
    return True
  model = config['model']
  h, w, _ = config['image_shape']
  return model.get('layout') == 'multiscale' and (
      (model.get('model_type') == 'coupling' and
       model.get('coupling_net') in _XLA_FASTER_COUPLING_NETS and
       h * w <= 64) or
      (model.get('model_type') in _XLA_FASTER_MODEL_TYPES and h * w <= 256))


class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
  """`lr * min(1, (epoch + 1) / warmup)^power * decay^epoch`, per epoch (as
  the convolution-exponential experiments: power 1 for the mixing runs, 2
  for the residual-transformation runs)."""

  def __init__(self, lr, warmup, decay, steps_per_epoch, power=1.):
    self.lr, self.warmup, self.decay = lr, warmup, decay
    self.steps_per_epoch, self.power = steps_per_epoch, power

  def __call__(self, step):
    epoch = tf.floor(tf.cast(step, tf.float32) / self.steps_per_epoch)
    warm = (tf.pow(tf.minimum(1., (epoch + 1.) / self.warmup), self.power)
            if self.warmup else 1.)
    return self.lr * warm * tf.pow(self.decay, epoch)

  def get_config(self):
    return dict(lr=self.lr, warmup=self.warmup, decay=self.decay,
                steps_per_epoch=self.steps_per_epoch, power=self.power)


def _convexp_layers(model):
  return [layer for layer in getattr(model.bijector, 'layers', ())
          if isinstance(layer, bijectors.ConvolutionExponential)]


def _convexp_terms(model, metric, arrays, batch_size, seed, jit):
  """Series lengths of the convolution exponentials' calls: under XLA every
  call runs its cap; otherwise what they ran on the first evaluation batch."""
  layers = _convexp_layers(model)
  if jit or not layers:
    return [layer.terms for layer in layers]
  with bijectors.recording_terms() as calls:
    metric(tuple(tf.constant(a[:batch_size]) for a in arrays), seed)
  return [int(terms) for _, terms in calls]


def _replica_spread(strategy, variables):
  """Largest difference between the copies of any variable on this worker's
  replicas (0 when the replicas have stayed in sync)."""
  spread = 0.
  for v in variables:
    copies = [np.asarray(c.numpy(), np.float64)
              for c in strategy.experimental_local_results(v)]
    spread = max([spread] + [float(np.max(np.abs(c - copies[0])))
                             for c in copies[1:]])
  return spread


class _Poison(object):
  """--inject_nonfinite_at: a step listed k times fails its first k tries."""

  def __init__(self, steps):
    self._left = collections.Counter(int(s) for s in steps)

  def __call__(self, step):
    if self._left[step] > 0:
      self._left[step] -= 1
      return True
    return False


def train(run):
  strategy, model, config = run.strategy, run.model, run.config
  settings, task = run.settings, run.task
  workdir = settings.workdir
  if run.chief:
    os.makedirs(workdir, exist_ok=True)
    run_config.save(workdir, {**config, 'training': settings.saved()})
  global_batch = settings.batch_size
  replicas = strategy.num_replicas_in_sync
  steps_per_epoch = input_pipeline.steps_per_epoch(len(run.train),
                                                   global_batch)
  total_steps = settings.epochs * steps_per_epoch
  if settings.max_steps:
    total_steps = min(total_steps, settings.max_steps)

  with strategy.scope():
    schedule = WarmupDecay(settings.lr, settings.warmup,
                           settings.lr_decay, steps_per_epoch,
                           WARMUP_SHAPES[settings.warmup_shape])
    optimizer = OPTIMIZERS[settings.optimizer](
        schedule, beta_2=settings.beta_2, epsilon=1e-7)
    variables = model.trainable_variables
    optimizer.build(variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
    batches = tf.Variable(0, dtype=tf.int64, trainable=False, name='batches')
    state = list(model.variables) + list(optimizer.variables)
  checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer,
                                   step=step, batches=batches)
  ckpt_dir = (os.path.join(workdir, 'checkpoints') if run.chief else
              os.path.join(workdir, 'tmp', distribute.task_id()))
  checkpoints.remove_scratch(ckpt_dir)
  store = checkpoints.Store(
      checkpoint, ckpt_dir, settings.keep_checkpoints,
      log=functools.partial(print, flush=True),
      # Every worker resumes from the chief's checkpoints, at the same step.
      restore_from=None if run.chief else os.path.join(workdir, 'checkpoints'))
  restored = store.restore_latest() if run.resume else None
  if restored:
    print(f'resumed from {restored} at step {int(step.numpy())}', flush=True)
  elif run.resume and run.chief:
    print(f'{workdir} holds this model but no checkpoint: starting at step 0',
          flush=True)

  best = None
  if run.validation is not None:
    best = checkpoints.Best(
        model, os.path.join(workdir, 'best') if run.chief else
        os.path.join(workdir, 'tmp', distribute.task_id(), 'best'),
        log=functools.partial(print, flush=True))
    checkpoints.remove_scratch(best.directory)
    if run.resume and best.load_record():
      print(f'best validation {float(best.value.numpy()):.4f} {task.unit} so '
            f'far, at step {int(best.step.numpy())} ({best.path})', flush=True)

  final_path = os.path.join(workdir, 'final.json')
  if int(step.numpy()) >= total_steps and _has_result(final_path,
                                                      int(step.numpy())):
    print(f'nothing to do: the run is at step {int(step.numpy())} of '
          f'{total_steps} and {final_path} holds its result (raise --epochs or '
          f'--max_steps to train on)', flush=True)
    return
  # The progress record of the checkpoint this session starts from.
  progress_path = os.path.join(ckpt_dir, PROGRESS_FILE)
  before = _read_progress(progress_path, int(step.numpy())) if restored else {}

  if int(step.numpy()) == 0:
    _say('initialising ActNorm on the first batch')
    # Data-dependent ActNorm initialisation on the global batch, in
    # cross-replica context, so every replica (and worker) gets the same.
    first = _next_batch(iter(task.training_batches(
        model, run.train, global_batch, settings.seed, int(batches.numpy()),
        augmentation=settings.augment)), 0)
    with strategy.scope():
      task.initialise(model, first)

  dataset = strategy.distribute_datasets_from_function(
      lambda ctx: task.training_batches(
          model, run.train, global_batch, settings.seed, int(batches.numpy()),
          ctx, settings.augment))
  iterator = iter(dataset)

  train_step = step_lib.make_train_step(
      functools.partial(task.loss, model), variables, optimizer, strategy,
      global_batch, settings.clip_grad_norm, settings.seed + 2, run.jit)
  poison = _Poison(settings.inject_nonfinite_at)

  test_metric = evaluation.SplitMean(
      task.evaluation(model, settings.eval_num_samples), run.jit, strategy)

  writer = (tf.summary.create_file_writer(os.path.join(workdir, 'tb'))
            if run.chief else tf.summary.create_noop_writer())

  def evaluate():
    _say(f'step {int(step.numpy())}: evaluating on the '
         f'{len(run.test)} test {task.examples}')
    test_value, _ = test_metric(run.test.arrays, global_batch,
                                settings.seed + 3)
    # The grid is a diagnostic: a model whose decoder overflows on some
    # latents (TFP's tfb.Glow does at temperature 1, and says so; a graph
    # flow returns the values) still trains.
    try:
      samples = task.sample(model, run.test, settings.num_grid_samples,
                            [settings.seed + 4, 0], settings.temperature)
    except tf.errors.InvalidArgumentError as e:
      if 'non-finite' not in e.message:  # any other failure is not this one
        raise
      samples = None
    canvas = None
    if samples is not None and np.all(np.isfinite(samples)):
      canvas = task.picture(config, samples, run.test)
    else:
      print(f'step {int(step.numpy())}: the sample grid decoded to non-finite '
            f'{task.examples} at --temperature={settings.temperature}; no '
            f'grid written', flush=True)
    validation = None
    if best is not None:
      validation, _ = test_metric(run.validation.arrays, global_batch,
                                  settings.seed + 6)
    with writer.as_default(step=int(step.numpy())):
      tf.summary.scalar(f'test/{task.metric}', test_value)
      if validation is not None:
        tf.summary.scalar(f'validation/{task.metric}', validation)
      if canvas is not None:
        tf.summary.image('samples', canvas[None], max_outputs=1)
      terms = _convexp_terms(model, task.evaluation(model, 1),
                             run.test.arrays, global_batch, settings.seed + 3,
                             run.jit)
      if terms:
        tf.summary.scalar('convexp/terms_mean', float(np.mean(terms)))
        tf.summary.scalar('convexp/terms_max', float(np.max(terms)))
      # Where the norm constraint binds: each layer's certified ||M||_2 as a
      # fraction of its norm_bound (1 on the bound).
      for layer in _convexp_layers(model):
        tf.summary.scalar(f'convexp_norm/{layer.name}', float(
            layer.operator_norm_bound() / layer.norm_bound))
    if run.chief and canvas is not None:
      image_lib.write_png(os.path.join(workdir, f'samples_{int(step.numpy()):07d}.png'),
                          canvas)
    print(f'step {int(step.numpy())}: test {test_value:.4f} {task.unit}'
          f'{_reference(run.test)}'
          f'{f" (importance samples: {settings.eval_num_samples})" if task.importance_sampled else ""}',
          flush=True)
    if validation is not None:
      improved = _offer_best(best, validation, int(step.numpy()))
      print(f'step {int(step.numpy())}: validation {validation:.4f} '
            f'{task.unit}; '
            + (f'the best so far, kept in {best.path}' if improved else
               f'the best is {float(best.value.numpy()):.4f} at step '
               f'{int(best.step.numpy())}'), flush=True)
    return test_value

  saved = {}  # the progress record of this session's last checkpoint

  def save():
    at = int(step.numpy())
    again = 'Free space there and run the same command again to resume.'
    try:
      store.save(at)
    except (tf.errors.OpError, OSError) as e:  # a full disk, above all
      newest = store.latest()
      before = (f'the checkpoints before it are intact (newest: {newest})'
                if newest else 'there is no earlier checkpoint')
      raise UsageError(
          f'cannot save the checkpoint of step {at} in {ckpt_dir} '
          f'({_reason(e)}); nothing of it is left, and {before}. '
          f'{again}') from e
    saved.update(step=at, started_at_step=first_step,
                 seconds=time.time() - started,
                 train_losses=running[-steps_per_epoch:])
    if run.chief:  # a run replaced by --overwrite is superseded now
      try:
        workdir_lib.discard_set_aside(workdir)
        workdir_lib.write_json(progress_path, saved)
      except OSError as e:
        raise UsageError(f'cannot write {progress_path} ({_reason(e)}); the '
                         f'checkpoint of step {at} is saved. {again}') from e

  def save_unless_saved():
    if checkpoints.numbers(ckpt_dir)[-1:] != [int(step.numpy())]:
      save()

  shape, layers = task.describe(config)
  held_out = (f'{len(run.validation)} validation / '
              if run.validation is not None else '')
  print(f'{config["dataset"]}: {len(run.train)} train / {held_out}'
        f'{len(run.test)} test {task.examples} of {shape}; model {settings.model} ({layers}), '
        f'{sum(v.shape.num_elements() for v in variables):,d} parameters; '
        f'{replicas} replica(s), XLA loss: {run.jit}', flush=True)
  total_epochs = -(-total_steps // steps_per_epoch)
  _say(f'compiling the training step{" (XLA)" if run.jit else ""}')
  nonfinite = 0
  restores = 0  # since the last new checkpoint
  progbar, started = None, time.time()
  running = list(before.get('train_losses',  # named so since graph runs
                            before.get('train_bits_per_dim', [])))
  first_step = int(step.numpy())
  compiled = False  # the bar and its time estimate start after compiling
  cluster = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
  interrupts = interrupts_lib.Interrupts(deferred=cluster)
  final_evaluation = False
  with interrupts.installed():
    notice = preemption.Notice(
        strategy, interrupts,
        os.path.join(workdir, 'tmp', distribute.task_id(), 'preemption'),
        save_unless_saved) if cluster else None
    try:
      while int(step.numpy()) < total_steps:
        evaluate_now = False
        with interrupts.held():  # a step and its save are whole or not begun
          if notice:
            notice.check()
          current = int(step.numpy())
          if progbar is None and compiled and settings.progress and run.chief:
            bar_from = current % steps_per_epoch  # steps before the bar
            print(f'epoch {current // steps_per_epoch + 1}/{total_epochs}'
                  f'{f" from step {bar_from + 1}" if bar_from else ""}',
                  flush=True)
            progbar = keras.utils.Progbar(
                steps_per_epoch - bar_from,
                stateful_metrics=[task.unit, f'{task.examples}/s'])
            epoch_start = time.time()
          batch = _next_batch(iterator, current, save_unless_saved)
          loss, norm, applied = train_step(batch, batches,
                                           tf.constant(poison(current)))
          if not compiled:
            compiled = True
            print(f'step {current + 1}: compiled and ran in '
                  f'{time.time() - started:.0f} s', flush=True)
          batches.assign_add(1)
          loss = float(loss)
          if not bool(applied):
            nonfinite += 1
            what = (f'loss ({loss})' if not math.isfinite(loss) else
                    f'gradient (norm {float(norm)})')
            print(f'step {current}: non-finite {what}; step skipped '
                  f'({nonfinite} in a row)', flush=True)
            if nonfinite >= settings.max_nonfinite:
              _recover(store, step, batches, nonfinite, restores, settings)
              restores += 1
              nonfinite = 0
            continue
          nonfinite = 0
          step.assign_add(1)
          running.append(loss)
          if int(step.numpy()) % settings.log_every == 0:
            with writer.as_default(step=int(step.numpy())):
              tf.summary.scalar(f'train/{task.metric}',
                                float(np.mean(running[-settings.log_every:])))
              tf.summary.scalar('train/learning_rate', float(schedule(current)))
              tf.summary.scalar('train/gradient_norm', float(norm))
          if progbar is not None:
            done = current % steps_per_epoch + 1 - bar_from
            progbar.update(done, [
                (task.unit, float(np.mean(running[-10:]))),
                (f'{task.examples}/s',
                 done * global_batch / (time.time() - epoch_start))])
          if int(step.numpy()) % settings.checkpoint_every == 0:
            save()
            restores = 0
          if int(step.numpy()) % steps_per_epoch == 0:
            progbar = None
            epoch = int(step.numpy()) // steps_per_epoch
            evaluate_now = (epoch % settings.eval_every == 0 and
                            int(step.numpy()) < total_steps)
        if evaluate_now:
          evaluate()
      with interrupts.held():
        if progbar is not None:
          sys.stdout.write('\n')
        if replicas > 1:
          print(f'replicas on this worker differ by at most '
                f'{_replica_spread(strategy, state):g}', flush=True)
        save_unless_saved()
      # final.json describes the session that saved the last checkpoint
      # (an earlier one, when this one only evaluates).
      last = saved or before or dict(started_at_step=first_step,
                                     seconds=time.time() - started)
      started_at, elapsed = last['started_at_step'], last['seconds']
      final_evaluation = True
      test_value = evaluate()
      reported = _evaluate_reported_model(run, best, test_metric, global_batch)
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM (`Terminated`)
      raise type(e)(_interrupted(
          store, step, interrupts.torn, final_evaluation,
          save_unless_saved)) from None
  if run.chief:
    writer.flush()
    truth = run.test.truth
    image_lib.metric_plot(
        os.path.join(workdir, 'tb'),
        os.path.join(workdir, f'{task.metric}.png'), task.metric, task.unit,
        task.baseline(config) if truth is None else (
            float(np.mean(truth)), 'the data\'s true value'),
        log=functools.partial(print, flush=True))
    result = {
        'step': int(step.numpy()), f'test_{task.metric}': test_value,
        f'train_{task.metric}_last_epoch': float(np.mean(
            running[-steps_per_epoch:])) if running else None,
        'seconds': elapsed, 'started_at_step': started_at}
    result.update(reported)
    if truth is not None:
      result[f'true_test_{task.metric}'] = float(np.mean(truth))
      result[f'gap_{task.metric}'] = test_value - float(np.mean(truth))
    workdir_lib.write_json(final_path, result)
  else:
    shutil.rmtree(os.path.join(workdir, 'tmp', distribute.task_id()),
                  ignore_errors=True)
  if not math.isfinite(test_value):
    raise UsageError(f'the final test {task.unit} is not finite '
                     f'({test_value}); the checkpoint at step '
                     f'{int(step.numpy())} is kept. Lower --lr or set '
                     f'--clip_grad_norm.')
  print(f'done: {int(step.numpy())} steps in {elapsed:.0f} s; final test '
        f'{test_value:.4f} {task.unit}', flush=True)
  run_config.keep_until_exit(dict(locals()))


def _next_batch(iterator, done, save=None):
  """The next training batch; an image file that cannot be decoded (read
  only now: its header was checked at start) stops the run with a message,
  after `save` saves the `done` steps."""
  try:
    return next(iterator)
  except tf.errors.InvalidArgumentError as e:
    saved = ''
    if save:
      save()
      saved = f'; step {done} is saved'
    reason = re.sub(r'^.*Iterator::[\w:]+: ', '', re.sub(
        r'\{\{.*?\}\}\s*', '', _reason(e)))
    raise UsageError(
        f'a training image of step {done + 1} cannot be read ({reason})'
        f'{saved}. Replace the image and run the same command again.') from e


def _offer_best(best, value, at_step):
  """`best.offer`, a failed save stopping the run as a failed checkpoint
  does."""
  try:
    return best.offer(value, at_step)
  except (tf.errors.OpError, OSError) as e:
    kept = (f'the best model kept before is intact ({best.path})' if best.path
            else 'no best model was kept before')
    raise UsageError(
        f'cannot save the best model of step {at_step} in {best.directory} '
        f'({_reason(e)}); nothing of it is left, and {kept}. Free space there '
        f'and run the same command again to resume.') from e


def _evaluate_reported_model(run, best, test_metric, global_batch):
  """The paper protocol's ending, after the last model's evaluation: the
  test metric of the best-validation model (loaded into the model: the
  last one is saved by now), and with `--final_num_samples` importance
  samples that of the reported model (the best, or the last one without a
  validation split). Returns what it adds to final.json."""
  settings, task, model = run.settings, run.task, run.model
  out = {}
  name = 'last'
  if best is not None and best.path:
    best.restore()
    name = 'best'
    out.update(best_step=int(best.step.numpy()),
               **{f'best_validation_{task.metric}': float(best.value.numpy())})
    value, _ = test_metric(run.test.arrays, global_batch, settings.seed + 3)
    out[f'best_test_{task.metric}'] = value
    print(f'best model (step {out["best_step"]}, validation '
          f'{out[f"best_validation_{task.metric}"]:.4f} {task.unit}): test '
          f'{value:.4f} {task.unit}', flush=True)
  if settings.final_num_samples:
    _say(f'evaluating the {name} model on the {len(run.test)} test '
         f'{task.examples} with {settings.final_num_samples} importance '
         f'samples each')
    value, stderr = evaluation.SplitMean(
        task.evaluation(model, settings.final_num_samples), run.jit,
        run.strategy)(run.test.arrays, global_batch, settings.seed + 7)
    out.update({f'{name}_test_{task.metric}_importance_sampled': value,
                f'{name}_test_{task.metric}_importance_sampled_stderr': stderr,
                'final_num_samples': settings.final_num_samples})
    print(f'{name} model: test {value:.4f} +- {stderr:.4f} {task.unit} with '
          f'{settings.final_num_samples} importance samples', flush=True)
  return out


def _reason(error):
  """What a failed write said, in a few words."""
  text = (getattr(error, 'message', None) or getattr(error, 'strerror', None)
          or str(error))
  if 'No space left on device' in text:
    return 'no space left on the device'
  return text.strip().splitlines()[0]


def _reference(split):
  """The data's own value of the metric, where it is known."""
  if split.truth is None:
    return ''
  return f' (the data\'s true value: {float(np.mean(split.truth)):.4f})'


def _interrupted(store, step, torn, final_evaluation, save_unless_saved):
  """Saves what a Ctrl-C left whole; returns what to tell the user."""
  at = int(step.numpy())
  if torn:
    return (f'at step {at}, inside a step (a second signal): nothing saved; '
            f'the last checkpoint on disk is {store.latest()}')
  if final_evaluation:
    return (f'during the final evaluation; the checkpoint of step {at} is '
            f'saved: run the same command again to evaluate it and write '
            f'final.json')
  save_unless_saved()
  return (f'at step {at}; saved {checkpoints.prefix(store.run_directory, at)}: '
          f'run the same command again to resume')


def _has_result(final_path, at_step):
  """Whether `final_path` holds the result of step `at_step`; says why a
  file that is there does not."""
  if not os.path.exists(final_path):
    return False
  try:
    result = workdir_lib.read_json(final_path)
    if isinstance(result, dict) and result.get('step') == at_step:
      return True
    found = result.get('step') if isinstance(result, dict) else None
    problem = f'it is of step {found}'
  except UsageError as e:
    problem = f'it is unreadable: {e.__cause__}'
  print(f'{final_path} does not hold the result of step {at_step} ({problem});'
        f' evaluating step {at_step} to write it again', flush=True)
  return False


def _read_progress(path, at_step):
  """The record `save` wrote with the checkpoint of step `at_step`, or {}."""
  try:
    progress = workdir_lib.read_json(path)
  except UsageError:  # missing or unreadable: the figures start anew
    return {}
  return progress if (isinstance(progress, dict) and
                      progress.get('step') == at_step) else {}


def _recover(store, step, batches, nonfinite, restores, settings):
  """Restores the last good checkpoint after `nonfinite` bad steps in a row,
  or stops the run when that cannot help."""
  advice = (f'lower --lr (now {settings.lr:g}) or --clip_grad_norm (now '
            f'{settings.clip_grad_norm:g}; 0 is off), or raise --warmup')
  latest = store.latest()
  if not latest:
    raise UsageError(f'{nonfinite} non-finite steps in a row at step '
                     f'{int(step.numpy())}, before the first checkpoint; '
                     f'nothing to go back to: {advice}.')
  if restores >= settings.max_restores:
    raise UsageError(f'stopped at step {int(step.numpy())}: restored {latest} '
                     f'{restores} times (--max_restores) and every try failed '
                     f'again before the next checkpoint; {advice}. The '
                     f'checkpoints on disk are kept.')
  position = int(batches.numpy())
  store.restore(latest)  # verified by latest() just now
  batches.assign(position)  # keep moving through the data
  print(f'restored the last good checkpoint {latest} (step '
        f'{int(step.numpy())}) after {nonfinite} non-finite steps '
        f'({restores + 1} of at most {settings.max_restores} restores before a '
        f'new checkpoint)', flush=True)


@run_config.exits_2_on_usage_errors
def main(argv):
  del argv
  run = prepare()
  try:
    train(run)
  except (tf.errors.OpError, OSError) as e:
    # A full disk met by any other write (summaries, pictures, final.json,
    # each written whole or not at all) stops the run as a checkpoint does.
    if _reason(e) != 'no space left on the device':
      raise
    raise UsageError(f'no space left on the device of --workdir='
                     f'{run.settings.workdir}; the checkpoints saved so far '
                     f'are intact. Free space there and run the same command '
                     f'again to resume.') from e
  finally:
    if run.lock:
      run.lock.release()


# `python -m train`'s parser (tests call `main` in-process with it).
flags_parser = run_config.flags_parser(__doc__, HELP_GROUPS)
