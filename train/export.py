"""`python -m train.export --workdir=W --export_dir=E`: a SavedModel.

Signatures of an image run (all batch sizes; images are int32 in [0, bins);
the loaded object's functions also take uint8, int64, float32 and float64
images and refuse values that are not whole numbers in [0, bins)):
  log_prob(x)                    -> nats per image (lower bound, fixed seed)
  bits_per_dim(x)                -> bits/dim per image (same bound)
  sample(n, temperature, seed)   -> n int32 images (seed: int32 [2])
  encode(x)                      -> latents [B, D] of the bin centres
  decode(z)                      -> int32 images
Of a graph run (B graphs of at most N nodes with F features; `adjacency`
[B, N, N] the 0/1 (or weighted) symmetric adjacency, normalised inside;
`node_mask` [B, N], 1 for real nodes; all float32):
  log_prob(x, adjacency, node_mask)       -> log p(x | graph) per graph
  nats_per_node(x, adjacency, node_mask)  -> -log p / real nodes per graph
  sample(adjacency, node_mask, temperature, seed) -> one x [B, N, F] per graph
  encode(x, adjacency, node_mask)         -> latents [B, N, F]
  decode(z, adjacency, node_mask)         -> node features [B, N, F]
Every input is checked (shapes, a symmetric non-negative adjacency, a 0/1
mask). Loading needs only TensorFlow: `tf.saved_model.load(E).sample(...)`.
"""

import time

from absl import flags
import numpy as np
import tensorflow as tf

from tfp_convexp import flows
from train import run_config
from train import tasks
from train import workdir as workdir_lib

flags.DEFINE_string('workdir', None, 'Work directory of a training run.',
                    required=True)
flags.DEFINE_string('checkpoint', None, 'Checkpoint path; default: latest.')
flags.DEFINE_string('export_dir', None, 'Where to write the SavedModel.',
                    required=True)
flags.DEFINE_boolean('overwrite', False, 'Replace an existing --export_dir.')
FLAGS = flags.FLAGS


# Image dtypes the loaded functions take (a restored function matches its
# input's dtype exactly; with one int32 signature TensorFlow would cast a
# NumPy float array to int32, 3.5 -> 3, without a word).
IMAGE_DTYPES = (tf.uint8, tf.int32, tf.int64, tf.float32, tf.float64)


def _for_every_image_dtype(function, image_shape, model, labels=()):
  """`function` (of int32 images, traced once; then `labels`' inputs) for
  every `IMAGE_DTYPES`: other dtypes go through the model's own check of
  pixel values (whole numbers in [0, bins)) before the cast."""

  @tf.function
  def checked(x, *rest):
    return function(x if x.dtype == tf.int32 else model.integer_images(x),
                    *rest)

  for dtype in IMAGE_DTYPES:
    checked.get_concrete_function(tf.TensorSpec([None, *image_shape], dtype,
                                                name='x'), *labels)
  return checked


class Exported(tf.Module):
  """The model's tf.functions, with fixed signatures; a class-conditional
  model's take one more input, `label` (int32 `[None]`: one per image, or
  one for all)."""

  def __init__(self, model, image_shape):
    super().__init__()
    self.model = model
    images = tf.TensorSpec([None, *image_shape], tf.int32, name='x')
    latents = tf.TensorSpec([None, int(np.prod(image_shape))], tf.float32,
                            name='z')
    labelled = bool(model.num_classes)
    labels = [tf.TensorSpec([None], tf.int32, name='label')] if labelled else []

    def unpacked(fn):
      """`fn(inputs..., label)` of the signature's inputs (the last is the
      label of a class-conditional model; a vector of one broadcasts)."""
      if not labelled:
        return lambda *args: fn(*args, None)
      return fn

    @tf.function(input_signature=[images, *labels])
    @unpacked
    def log_prob(x, label):
      return model.log_prob(x, seed=tf.constant([0, 0]), label=label)

    @tf.function(input_signature=[images, *labels])
    @unpacked
    def bits_per_dim(x, label):
      return flows.bits_per_dim(model, x, seed=tf.constant([0, 0]),
                                label=label)

    @tf.function(input_signature=[
        tf.TensorSpec([], tf.int32, name='n'),
        tf.TensorSpec([], tf.float32, name='temperature'),
        tf.TensorSpec([2], tf.int32, name='seed'), *labels])
    @unpacked
    def sample(n, temperature, seed, label):
      return model.sample(n, seed=seed, temperature=temperature, label=label)

    @tf.function(input_signature=[images, *labels])
    @unpacked
    def encode(x, label):
      return model.encode(x, label=label)

    @tf.function(input_signature=[latents, *labels])
    @unpacked
    def decode(z, label):
      return model.decode(z, label=label)

    self.log_prob = _for_every_image_dtype(log_prob, image_shape, model,
                                           labels)
    self.bits_per_dim = _for_every_image_dtype(bits_per_dim, image_shape,
                                               model, labels)
    self.encode = _for_every_image_dtype(encode, image_shape, model, labels)
    self.sample, self.decode = sample, decode


class ExportedGraphFlow(tf.Module):
  """A graph flow's tf.functions, with fixed signatures."""

  def __init__(self, model, graph_shape):
    super().__init__()
    # The training model skips the per-call checks (its data was checked
    # once); an exported one meets inputs nobody checked.
    self.model = model = model.copy(validate_args=True)
    n, f = graph_shape
    x_spec = tf.TensorSpec([None, n, f], tf.float32, name='x')
    graph = [tf.TensorSpec([None, n, n], tf.float32, name='adjacency'),
             tf.TensorSpec([None, n], tf.float32, name='node_mask')]

    def given(adjacency, node_mask):
      return dict(adjacency=flows.normalized_adjacency(adjacency, node_mask),
                  node_mask=node_mask)

    @tf.function(input_signature=[x_spec, *graph])
    def log_prob(x, adjacency, node_mask):
      return model.log_prob(x, **given(adjacency, node_mask))

    @tf.function(input_signature=[x_spec, *graph])
    def nats_per_node(x, adjacency, node_mask):
      return flows.nats_per_node(model, x, **given(adjacency, node_mask))

    @tf.function(input_signature=[
        *graph, tf.TensorSpec([], tf.float32, name='temperature'),
        tf.TensorSpec([2], tf.int32, name='seed')])
    def sample(adjacency, node_mask, temperature, seed):
      return model.sample(seed=seed, temperature=temperature,
                          **given(adjacency, node_mask))

    @tf.function(input_signature=[x_spec, *graph])
    def encode(x, adjacency, node_mask):
      return model.bijector.forward(x, **given(adjacency, node_mask))

    @tf.function(input_signature=[
        tf.TensorSpec([None, n, f], tf.float32, name='z'), *graph])
    def decode(z, adjacency, node_mask):
      return model.bijector.inverse(z, **given(adjacency, node_mask))

    self.log_prob, self.nats_per_node, self.sample = (
        log_prob, nats_per_node, sample)
    self.encode, self.decode = encode, decode


SIGNATURES = {'images': ('log_prob', 'bits_per_dim', 'sample', 'encode',
                         'decode'),
              'graphs': ('log_prob', 'nats_per_node', 'sample', 'encode',
                         'decode')}


def export(model, config, export_dir):
  """Writes the SavedModel of a run's `model` (`config`: its run
  configuration) to `export_dir`; returns the exported module."""
  task = tasks.of(config)
  shape = config[task.shape_key]
  if task.name == 'graphs':
    module = ExportedGraphFlow(model, shape)
    signatures = {name: getattr(module, name)
                  for name in SIGNATURES['graphs']}
  else:
    module = Exported(model, shape)
    # The serving signatures take int32 images.
    inputs = [tf.TensorSpec([None, *shape], tf.int32, name='x')]
    if model.num_classes:
      inputs.append(tf.TensorSpec([None], tf.int32, name='label'))
    signatures = {name: getattr(module, name).get_concrete_function(*inputs)
                  for name in ('log_prob', 'bits_per_dim', 'encode')}
    signatures.update(sample=module.sample, decode=module.decode)
  tf.saved_model.save(module, export_dir, signatures=signatures)
  return module


@run_config.exits_2_on_usage_errors
def main(argv):
  del argv
  workdir_lib.check_directory(FLAGS.export_dir, '--export_dir')
  if tf.io.gfile.exists(FLAGS.export_dir) and tf.io.gfile.listdir(
      FLAGS.export_dir) and not FLAGS.overwrite:
    raise run_config.UsageError(f'--export_dir={FLAGS.export_dir!r} is not '
                                f'empty; pass --overwrite to replace it.')
  with run_config.restored_run(FLAGS.workdir, FLAGS.checkpoint,
                              'python -m train.export') as (
                                  config, model, step):
    # Written beside the target and swapped in whole: a failed export never
    # destroys the previous one.
    staging = FLAGS.export_dir.rstrip('/') + '.partial'
    if tf.io.gfile.exists(staging):
      tf.io.gfile.rmtree(staging)
    start = time.time()
    names = SIGNATURES[tasks.of(config).name]
    print(f'exporting step {step}: tracing {", ".join(names[:-1])} and '
          f'{names[-1]}, then writing the SavedModel ...', flush=True)
    try:
      export(model, config, staging)
    except BaseException:  # Ctrl-C included: no half SavedModel left behind
      if tf.io.gfile.exists(staging):
        tf.io.gfile.rmtree(staging)
      raise
    if tf.io.gfile.exists(FLAGS.export_dir):
      tf.io.gfile.rmtree(FLAGS.export_dir)
    tf.io.gfile.rename(staging, FLAGS.export_dir)
  print(f'exported step {step} to {FLAGS.export_dir} in '
        f'{time.time() - start:.0f} s: signatures {", ".join(names)}')


# `python -m train.export`'s parser (tests call `main` in-process with it).
flags_parser = run_config.flags_parser(__doc__)

if __name__ == '__main__':
  run_config.run_program(main, flags_parser)
