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
    images, _ = data.load_images(config['dataset'], split,
                                 config.get('data_dir'),
                                 config.get('image_folder'))
    return Split((images,))

  def describe(self, config):
    model = config['model']
    shape = tuple(config['image_shape'])
    what = (model['layout'] if model['layout'] != 'multiscale' else
            f'{model["mixing"]}, {model["model_type"]}')
    return f'{shape}, {model["num_bins"]} levels', what

  def training_batches(self, model, split, global_batch, seed, start_step,
                       input_context=None, augmentation='none'):
    return input_pipeline.training_batches(
        split.arrays, global_batch, seed, start_step,
        model.dequantizer.base_noise_kind, input_context, augmentation)

  def loss(self, model, batch, seed):
    """Per-example metric of a training batch `(images, noise)`."""
    images, noise = batch
    return flows.bits_per_dim(model, images, seed=seed,
                              base_noise=noise[None])

  def initialise(self, model, batch):
    images, noise = batch
    model.log_prob(images, seed=[0, 0], base_noise=noise[None])

  def evaluation(self, model, num_samples):
    """`f(arrays, seed)`: per-example metric of an evaluation batch."""
    return lambda arrays, seed: flows.bits_per_dim(
        model, arrays[0], seed=seed, num_samples=num_samples)

  def sample(self, model, split, num, seed, temperature):
    del split  # images need no condition
    return model.sample(num, seed=seed, temperature=temperature).numpy()

  def picture(self, config, samples, split):
    del split
    return image_lib.grid(samples, config['model']['num_bins'])

  def baseline(self, config):
    """A reference line of the metric's plot: `(value, label)`."""
    return math.log2(config['model']['num_bins']), 'uniform model'


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

  def sample(self, model, split, num, seed, temperature):
    """One sample for each of the first `num` graphs of `split`."""
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
