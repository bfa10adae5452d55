"""What a run models: images or graphs. A task owns its data, its metric and
its pictures; the training loop, checkpoints, distribution, evaluation and
export are one piece of code for both (`trainer.py`, `evaluation.py`, ...).

A split is a `Split`: a tuple of NumPy arrays (or, for images read from
files, `data.ImageRecords`) with one row per example (the model's inputs, in
the order its loss takes them), and, where the data's own density is known,
the true value of the metric per example.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from tfp_convexp import data
from tfp_convexp import flows
from train import images as image_lib
from train import input_pipeline
from train import workdir as workdir_lib

UsageError = workdir_lib.UsageError


@dataclasses.dataclass
class Split:
  """One split of a data set: `arrays` (equal first dimensions) and, where
  known, the data's true metric per example (`truth`)."""
  arrays: tuple
  truth: np.ndarray | None = None

  def __len__(self):
    return len(self.arrays[0])

  def rows(self, start, stop):
    """The examples `start` to `stop` as a `Split`."""
    return Split(tuple(a.rows(start, stop) if isinstance(a, data.ImageRecords)
                       else a[start:stop] for a in self.arrays),
                 None if self.truth is None else self.truth[start:stop])

  @property
  def shape(self):
    """The shape of one example's main array."""
    return list(self.arrays[0].shape[1:])


class ImageTask(object):
  """Integer images, bits per dimension, sample grids."""
  name = 'images'
  shape_key = 'image_shape'
  metric = 'bits_per_dim'  # the TensorBoard tag and final.json key
  unit = 'bits/dim'
  examples = 'images'
  # The metric is a bound over the dequantization noise, tightened by
  # importance samples (`--eval_num_samples`, `train.evaluate --num_samples`).
  importance_sampled = True

  def build(self, config):
    return flows.make_flow(config['image_shape'], **config['model'])

  def load(self, config, split):
    """The images, and for a class-conditional model their labels."""
    where = (config['dataset'], split, config.get('data_dir'),
             config.get('image_folder'))
    images, _ = data.load_images(*where)
    classes = config['model'].get('num_classes')
    if not classes:
      return Split((images,))
    labels, names = data.load_labels(*where)
    if len(names) != classes or len(labels) != len(images):
      raise UsageError(f'the {split} split of --dataset={config["dataset"]} '
                       f'has {len(images)} images and {len(labels)} labels '
                       f'of {len(names)} classes; the run models '
                       f'{classes} classes.')
    return Split((images, labels))

  def describe(self, config):
    model = config['model']
    shape = tuple(config['image_shape'])
    what = (model['layout'] if model['layout'] != 'multiscale' else
            f'{model["mixing"]}, {model["model_type"]}')
    if model.get('num_classes'):
      what += f', conditional on {model["num_classes"]} classes'
    return f'{shape}, {model["num_bins"]} levels', what

  def training_batches(self, model, split, global_batch, seed, start_step,
                       input_context=None, augmentation='none'):
    return input_pipeline.training_batches(
        split.arrays, global_batch, seed, start_step,
        model.dequantizer.base_noise_kind, input_context, augmentation)

  def loss(self, model, batch, seed):
    """Per-example metric of a training batch `(images[, labels], noise)`."""
    *arrays, noise = batch
    return flows.bits_per_dim(model, arrays[0], seed=seed,
                              base_noise=noise[None], label=_label(arrays))

  def initialise(self, model, batch):
    *arrays, noise = batch
    model.log_prob(arrays[0], seed=[0, 0], base_noise=noise[None],
                   label=_label(arrays))

  def evaluation(self, model, num_samples):
    """`f(arrays, seed)`: per-example metric of an evaluation batch."""
    return lambda arrays, seed: flows.bits_per_dim(
        model, arrays[0], seed=seed, num_samples=num_samples,
        label=_label(arrays))

  def classification(self, model, num_samples):
    """`f(arrays, seed)`: 1 where the Bayes classifier `argmax_y P(x | y)`
    of a class-conditional model names an image's label, else 0."""
    def correct(arrays, seed):
      table = model.class_log_probs(arrays[0], seed=seed,
                                    num_samples=num_samples)
      guess = tf.argmax(table, axis=-1, output_type=arrays[1].dtype)
      return tf.cast(tf.equal(guess, arrays[1]), tf.float32)
    return correct

  def sample(self, model, split, num, seed, temperature, first=0):
    """`num` samples; a class-conditional model's sample `first + i` is of
    class `(first + i) mod K`."""
    del split  # images need no condition
    label = None
    if model.num_classes:
      label = (first + np.arange(num)) % model.num_classes
    return model.sample(num, seed=seed, temperature=temperature,
                        label=label).numpy()

  def picture(self, config, samples, split):
    """A grid of samples; of a class-conditional model, one row per class
    (sample `i` is of class `i mod K`) and the columns that are full."""
    del split
    bins, classes = config['model']['num_bins'], config['model'].get(
        'num_classes')
    if not classes:
      return image_lib.grid(samples, bins)
    rows = min(classes, len(samples))
    cols = len(samples) // rows
    by_class = [samples[col * rows + row] for row in range(rows)
                for col in range(cols)]
    return image_lib.grid(by_class, bins, columns=cols)

  def baseline(self, config):
    """A reference line of the metric's plot: `(value, label)`."""
    return math.log2(config['model']['num_bins']), 'uniform model'


def _label(arrays):
  """The labels of a batch's arrays `(images[, labels])`, or None."""
  return arrays[1] if len(arrays) > 1 else None


class GraphTask(object):
  """Node features given graphs, nats per node, drawn samples."""
  name = 'graphs'
  shape_key = 'graph_shape'
  metric = 'nats_per_node'
  unit = 'nats/node'
  examples = 'graphs'
  importance_sampled = False  # an exact likelihood

  def build(self, config, validate_args=False):
    # The adjacencies are checked (and normalised) once, when loaded; the
    # per-call check (an SVD) would cost about a fifth of every step.
    return flows.make_graph_flow(*config['graph_shape'], **config['model'],
                                 validate_args=validate_args)

  def load(self, config, split):
    graphs = data.graphs.load(config['dataset'], split)
    mask = graphs['node_mask']
    adjacency = flows.normalized_adjacency(graphs['adjacency'], mask)
    truth = None
    if 'log_density' in graphs:
      truth = -graphs['log_density'] / mask.sum(-1)
    return Split((graphs['features'], adjacency.numpy().astype(np.float32),
                  mask), truth)

  def describe(self, config):
    n, f = config['graph_shape']
    return (f'at most {n} nodes of {f} features',
            config['model']['mixing'])

  def training_batches(self, model, split, global_batch, seed, start_step,
                       input_context=None, augmentation='none'):
    del model  # the trainer refuses any other augmentation of graphs
    return input_pipeline.training_batches(
        split.arrays, global_batch, seed, start_step, None, input_context,
        augmentation)

  def loss(self, model, batch, seed):
    del seed  # an exact likelihood: nothing random
    x, adjacency, mask = batch
    return flows.nats_per_node(model, x, adjacency, mask)

  def initialise(self, model, batch):
    x, adjacency, mask = batch
    model.log_prob(x, adjacency=adjacency, node_mask=mask)

  def evaluation(self, model, num_samples):
    del num_samples  # exact
    return lambda arrays, seed: flows.nats_per_node(model, *arrays)

  def sample(self, model, split, num, seed, temperature, first=0):
    """One sample for each of the first `num` graphs of `split` (which
    starts at graph `first`)."""
    del first
    _, adjacency, mask = (a[:num] for a in split.arrays)
    return model.sample(seed=seed, adjacency=adjacency, node_mask=mask,
                        temperature=temperature).numpy()

  def picture(self, config, samples, split):
    from train import graph_pictures  # pylint: disable=g-import-not-at-top
    return graph_pictures.PICTURES[config['dataset']](samples, split)

  def baseline(self, config):
    del config
    return None


TASKS = {task.name: task for task in (ImageTask(), GraphTask())}


def of(config):
  """The task of a run configuration (runs saved before graphs existed hold
  no `task`: images)."""
  return TASKS[config.get('task', 'images')]


def hold_out(train, validation_size):
  """`(train, validation)`: the training split without its last
  `validation_size` examples, and those examples (None when 0)."""
  if not validation_size:
    return train, None
  if validation_size >= len(train):
    raise UsageError(f'--validation_size={validation_size} leaves no '
                     f'training examples of the {len(train)} in the training '
                     f'split.')
  cut = len(train) - validation_size
  return train.rows(0, cut), train.rows(cut, len(train))


def load_split(task, config, name):
  """Split `name` of a run: `'test'`; `'train'` without its held-out
  examples; `'validation'`, the last `validation_size` training examples
  (`config['training']`)."""
  if name == 'test':
    return task.load(config, 'test')
  size = config.get('training', {}).get('validation_size', 0)
  if name == 'validation' and not size:
    raise UsageError('the run holds out no validation split (its '
                     'validation_size is 0).')
  train, validation = hold_out(task.load(config, 'train'), size)
  return validation if name == 'validation' else train


def check(task, config, train, test):
  """Both splits non-empty and of the configured shape."""
  expected = config[task.shape_key]
  for split, examples in (('train', train), ('test', test)):
    if len(examples) == 0 or examples.shape != list(expected):
      raise UsageError(
          f'the {split} split of --dataset={config["dataset"]} has '
          f'{len(examples)} {task.examples} of shape {examples.shape}; '
          f'expected [N > 0, {", ".join(map(str, expected))}].')
