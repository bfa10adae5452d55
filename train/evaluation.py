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
  """

  def __init__(self, model, num_samples, jit_compile):
    self._bpd = tf.function(
        lambda batch, seed: flows.bits_per_dim(model, batch, seed=seed,
                                               num_samples=num_samples),
        jit_compile=jit_compile)

  def __call__(self, images, batch_size, seed):
    values = np.concatenate([
        self._bpd(tf.constant(images[i:i + batch_size]),
                  tf.constant([seed, i // batch_size])).numpy()
        for i in range(0, len(images), batch_size)])
    stderr = (float(values.std(ddof=1) / math.sqrt(len(values)))
              if len(values) > 1 else float('nan'))
    return float(values.mean()), stderr
