"""Test bits/dim over a whole split, shared by training and `train.evaluate`."""

import math

import numpy as np
import tensorflow as tf

from tfp_convexp import flows


class SplitBitsPerDim(object):
  """Mean bits/dim (and its standard error) of a model over a set of images.

  The per-batch function is traced (and XLA-compiled) once and reused, so
  repeated evaluations during training compile nothing new. Batch `i` draws
  its dequantization noise from the stateless seed `[seed, i]`, so the same
  call gives the same number.

  Under a multi-replica strategy each batch is split over this worker's
  replicas and the compiled function runs on each replica's own device
  (an XLA cluster may not read another device's copy of a mirrored
  variable); shard `r` of batch `i` uses the seed `[seed, i * R + r]`. Every
  worker evaluates the whole split.
  """

  def __init__(self, model, num_samples, jit_compile, strategy=None):
    self._strategy = strategy or tf.distribute.get_strategy()
    self._bpd = tf.function(
        lambda batch, seed: flows.bits_per_dim(model, batch, seed=seed,
                                               num_samples=num_samples),
        jit_compile=jit_compile)
    # strategy.run from a graph, of a Python function calling the XLA one: a
    # tf.function handed to strategy.run directly is traced once for every
    # replica and reads replica 1's variables from replica 0's device.
    self._run = tf.function(lambda batch, seed: self._strategy.run(
        lambda b, s: self._bpd(b, s), args=(batch, seed)))

  def _batch(self, images, seed, index):
    if self._strategy.num_replicas_in_sync == 1:
      return self._bpd(tf.constant(images), tf.constant([seed, index]))
    devices = self._strategy.extended.worker_devices
    shards = np.array_split(images, len(devices))

    def replica(ctx):
      return ctx.replica_id_in_sync_group % len(devices)

    distribute = self._strategy.experimental_distribute_values_from_function
    batch = distribute(lambda ctx: tf.constant(shards[replica(ctx)]))
    seed = distribute(lambda ctx: tf.constant(
        [seed, index * len(devices) + replica(ctx)]))
    out = self._run(batch, seed)
    return np.concatenate([
        v.numpy() for v in self._strategy.experimental_local_results(out)])

  def __call__(self, images, batch_size, seed, progress=None):
    """`(mean, standard error)`; `progress(done, total)` after each batch."""
    values = []
    for i in range(0, len(images), batch_size):
      values.append(np.asarray(self._batch(images[i:i + batch_size], seed,
                                           i // batch_size)))
      if progress:
        progress(min(i + batch_size, len(images)), len(images))
    values = np.concatenate(values)
    stderr = (float(values.std(ddof=1) / math.sqrt(len(values)))
              if len(values) > 1 else float('nan'))
    return float(values.mean()), stderr
