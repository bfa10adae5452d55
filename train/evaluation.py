"""A task's metric over a whole split, shared by training and
`train.evaluate`."""

import math

import numpy as np
import tensorflow as tf


class SplitMean(object):
  """Mean of a per-example metric (and its standard error) over a split.

  `metric(arrays, seed)` is a task's `evaluation` (bits/dim of images,
  nats/node of graphs). It is traced (and XLA-compiled) once and reused, so
  repeated evaluations during training compile nothing new. Batch `i` draws
  its randomness (an image's dequantization noise) from the stateless seed
  `[seed, i]`, so the same call gives the same number.

  Under a multi-replica strategy each batch is split over this worker's
  replicas and the compiled function runs on each replica's own device
  (an XLA cluster may not read another device's copy of a mirrored
  variable); shard `r` of batch `i` uses the seed `[seed, i * R + r]`. Every
  worker evaluates the whole split.
  """

  def __init__(self, metric, jit_compile, strategy=None):
    self._strategy = strategy or tf.distribute.get_strategy()
    self._metric = tf.function(metric, jit_compile=jit_compile)
    # strategy.run from a graph, of a Python function calling the XLA one: a
    # tf.function handed to strategy.run directly is traced once for every
    # replica and reads replica 1's variables from replica 0's device.
    self._run = tf.function(lambda batch, seed: self._strategy.run(
        lambda b, s: self._metric(b, s), args=(batch, seed)))

  def _batch(self, arrays, seed, index):
    if self._strategy.num_replicas_in_sync == 1:
      return self._metric(tuple(tf.constant(a) for a in arrays),
                          tf.constant([seed, index]))
    devices = self._strategy.extended.worker_devices
    shards = [np.array_split(a, len(devices)) for a in arrays]

    def replica(ctx):
      return ctx.replica_id_in_sync_group % len(devices)

    distribute = self._strategy.experimental_distribute_values_from_function
    batch = distribute(lambda ctx: tuple(
        tf.constant(s[replica(ctx)]) for s in shards))
    seed = distribute(lambda ctx: tf.constant(
        [seed, index * len(devices) + replica(ctx)]))
    out = self._run(batch, seed)
    return np.concatenate([
        v.numpy() for v in self._strategy.experimental_local_results(out)])

  def __call__(self, arrays, batch_size, seed, progress=None):
    """`(mean, standard error)` over the rows of `arrays` (a tuple of
    arrays); `progress(done, total)` after each batch."""
    total = len(arrays[0])
    values = []
    for i in range(0, total, batch_size):
      values.append(np.asarray(self._batch(
          tuple(a[i:i + batch_size] for a in arrays), seed, i // batch_size)))
      if progress:
        progress(min(i + batch_size, total), total)
    values = np.concatenate(values)
    stderr = (float(values.std(ddof=1) / math.sqrt(len(values)))
              if len(values) > 1 else float('nan'))
    return float(values.mean()), stderr
