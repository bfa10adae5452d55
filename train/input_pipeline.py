"""Deterministic per-replica training batches.

Every training example is a global counter `k = step * global_batch + i`.
It is row `index_shuffle(k mod epoch_size, [seed, epoch])` of the split's
arrays (an image; or a graph's features, adjacency and mask), and an image's
dequantization noise is drawn from the stateless seed `[seed + 1, k]`, and
its augmentation (`AUGMENTATIONS`) from `[seed + 5, k]`.
So the batches, and the noise and augmentation of every image, depend only
on the step:
a resumed run continues exactly where it stopped, and one worker or several
(each taking its replicas' slices of the same global batch) see the same
data and noise.
"""

import math

import numpy as np
import tensorflow as tf

from tfp_convexp import data

_GATHER_IN_GRAPH_BYTES = 1 << 30  # larger arrays are gathered in numpy


def _gather_fn(array):
  if isinstance(array, data.ImageRecords):  # read, then decoded by TF ops
    def read_and_decode(idx):
      encoded = tf.numpy_function(array.read, [idx], tf.string)
      return array.decode(tf.ensure_shape(encoded, [None]))
    return read_and_decode
  if array.nbytes < _GATHER_IN_GRAPH_BYTES:
    table = tf.constant(array)
    return lambda idx: tf.gather(table, idx)
  shape = array.shape[1:]

  def gather(idx):
    out = tf.numpy_function(lambda i: array[i], [idx],
                            tf.as_dtype(array.dtype))
    return tf.ensure_shape(out, [None, *shape])
  return gather


# name -> what it does to a training image (`--augment`).
AUGMENTATIONS = {
    'none': 'no augmentation',
    'flip': 'a horizontal flip with probability 1/2',
    'flip_translate': (
        'a horizontal flip with probability 1/2 and a shift of the image by '
        'round(U(-t, t)) pixels along each axis, edge pixels repeated, t = '
        '0.04 (W + 2 ceil(0.04 W)): 1.44 at 32 pixels, so -1, 0 or 1 (the '
        'reference code\'s CIFAR-10 transform: edge padding, a random '
        'translation of 4 %, a centre crop)'),
}


def _translation_limit(size):
  """The reference's largest shift, t, and the padding that bounds it."""
  pad = math.ceil(0.04 * size)
  return 0.04 * (size + 2 * pad), pad


def augment(images, keys, seed, kind):
  """`images` `[B, H, W, C]` (of the examples `keys`, int64 `[B]`)
  augmented by `kind` (`AUGMENTATIONS`), each from the stateless seed
  `[seed + 5, key]`."""
  if kind == 'none':
    return images
  u = tf.map_fn(lambda key: tf.random.stateless_uniform(
      [3], tf.stack([tf.constant(seed + 5, tf.int64), key])), keys,
                fn_output_signature=tf.float32)
  flip = u[:, 0] < 0.5
  images = tf.where(flip[:, None, None, None], tf.reverse(images, [2]),
                    images)
  if kind == 'flip_translate':
    for axis, draw in ((1, u[:, 1]), (2, u[:, 2])):
      size = images.shape[axis]
      limit, pad = _translation_limit(size)
      shift = tf.clip_by_value(tf.round((2. * draw - 1.) * limit), -pad, pad)
      source = tf.clip_by_value(
          tf.range(size)[None, :] - tf.cast(shift, tf.int32)[:, None], 0,
          size - 1)  # an index past the edge repeats the edge pixel
      images = tf.gather(images, source, axis=axis, batch_dims=1)
  return images


def steps_per_epoch(num_images, global_batch_size):
  return max(num_images // global_batch_size, 1)


def training_batches(arrays, global_batch_size, seed, start_step,
                     base_noise_kind, input_context=None, augmentation='none'):
  """A `tf.data.Dataset` of per-replica batches for this input pipeline,
  from `start_step` on, forever: the rows of `arrays`, then (if
  `base_noise_kind`) the float32 noise of the first array's examples.

  Args:
    arrays: a tuple of arrays, one row per training example (e.g. `uint8
      [N, H, W, C]` images, or `data.ImageRecords` read by index), the
      whole training split.
    global_batch_size: images per step over all replicas.
    seed: the run's int seed.
    start_step: the first step to produce (the data position on resume).
    base_noise_kind: `'uniform'` or `'normal'`, the dequantizer's base
      noise; None: no noise.
    input_context: `tf.distribute.InputContext` (None: one pipeline, one
      replica).
    augmentation: a name in `AUGMENTATIONS`, applied to the first array's
      examples (images `[N, H, W, C]`).
  """
  n = len(arrays[0])
  pipelines = input_context.num_input_pipelines if input_context else 1
  pipeline = input_context.input_pipeline_id if input_context else 0
  replicas = input_context.num_replicas_in_sync if input_context else 1
  if global_batch_size % replicas:
    raise ValueError(f'--batch_size={global_batch_size} must be divisible by '
                     f'the {replicas} replicas.')
  per_replica = global_batch_size // replicas
  local = replicas // pipelines
  epoch_size = steps_per_epoch(n, global_batch_size) * global_batch_size
  gathers = [_gather_fn(a) for a in arrays]
  shape = arrays[0].shape[1:]
  draw = (tf.random.stateless_uniform if base_noise_kind == 'uniform'
          else tf.random.stateless_normal)

  def replica_batch(step, replica):
    k = (step * global_batch_size + replica * per_replica +
         tf.range(per_replica, dtype=tf.int64))
    # epoch_size is a multiple of the global batch: one epoch per batch.
    epoch = k[0] // epoch_size
    index = tf.random.experimental.index_shuffle(
        k % epoch_size, tf.stack([tf.constant(seed, tf.int64), epoch]), n - 1)
    rows = tuple(gather(index) for gather in gathers)
    rows = (augment(rows[0], k, seed, augmentation),) + rows[1:]
    if base_noise_kind is None:
      return rows
    noise = tf.map_fn(
        lambda key: draw(shape, tf.stack([tf.constant(seed + 1, tf.int64),
                                          key])),
        k, fn_output_signature=tf.float32)
    return rows + (noise,)

  steps = tf.data.Dataset.range(start_step, np.iinfo(np.int64).max)
  ds = steps.flat_map(lambda s: tf.data.Dataset.range(
      pipeline * local, (pipeline + 1) * local).map(lambda r: (s, r)))
  ds = ds.map(replica_batch, num_parallel_calls=tf.data.AUTOTUNE,
              deterministic=True)
  return ds.prefetch(2)

