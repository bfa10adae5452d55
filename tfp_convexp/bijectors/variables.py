"""Working with the variables of layers and whole models."""

import numpy as np
import tensorflow as tf

__all__ = ['project_variables', 'perturb_variables']


def project_variables(module):
  """Applies every variable's constraint; returns the grouped assignments.

  Layers whose weights must stay inside a certified bound (convolution
  exponential, graph convolution exponential, residual blocks) carry the
  projection as the variable's `constraint`. Keras optimizers apply it after
  each update; call this after assigning weights any other way.

  Args:
    module: a `tf.Module`: one layer, a `MultiscaleFlow` or a whole model.
  """
  return tf.group([v.assign(v.constraint(v)) for v in module.variables
                   if v.constraint is not None])


def perturb_variables(module, seed, scale=0.1):
  """Moves every trainable variable by `scale * N(0, 1)`, then projects.

  Freshly initialised layers often sit at special points (an identity map, a
  zero log-det, a zero coupling net), where a wrong gradient or inverse can
  hide. Tests and benchmarks run layers whose weights have been moved with
  this.

  Args:
    module: a `tf.Module`.
    seed: int; the same seed moves the same variables the same way.
    scale: the noise's standard deviation.
  """
  rng = np.random.default_rng(seed)
  for v in module.trainable_variables:
    v.assign(v + scale * rng.standard_normal(v.shape).astype(
        v.dtype.as_numpy_dtype))
  project_variables(module)
