"""The training step that `python -m train` runs and the benchmarks time."""

import functools

import keras
import numpy as np
import tensorflow as tf

from tfp_convexp import flows
from train import step as step_lib
from train import tasks


def _setup():
  model = flows.make_flow((4, 4, 1), num_bins=17, n_levels=1, n_subflows=1,
                          densenet_depth=1, densenet_growth=4,
                          n_intermediate_channels=8, seed=0)
  images = tf.constant(np.random.default_rng(0).integers(0, 17, (4, 4, 4, 1)),
                       tf.int32)
  noise = tf.random.stateless_uniform([4, 4, 4, 1], seed=[1, 2])
  model.log_prob(images, base_noise=noise[None], seed=[0, 0])
  optimizer = keras.optimizers.Adamax(1e-2)
  optimizer.build(model.trainable_variables)
  step = step_lib.make_train_step(
      functools.partial(tasks.TASKS['images'].loss, model),
      model.trainable_variables, optimizer, tf.distribute.get_strategy(), 4,
      clip_grad_norm=1., seed=2, jit=False)
  return model, optimizer, step, images, noise


def _values(model, optimizer):
  return [v.numpy().copy() for v in
          list(model.variables) + list(optimizer.variables)]


def test_a_non_finite_step_changes_nothing_and_a_finite_one_trains():
  model, optimizer, step, images, noise = _setup()
  before = _values(model, optimizer)
  loss, norm, applied = step((images, noise), tf.constant(0, tf.int64),
                             tf.constant(True))
  assert not bool(applied) and np.isnan(float(loss))
  for a, b in zip(before, _values(model, optimizer)):
    np.testing.assert_array_equal(a, b)
  losses = []
  for i in range(5):
    loss, norm, applied = step((images, noise), tf.constant(i, tf.int64),
                               tf.constant(False))
    assert bool(applied) and np.isfinite(float(norm))
    losses.append(float(loss))
  assert int(optimizer.iterations.numpy()) == 5
  assert losses[-1] < losses[0], losses


def test_default_jit_compile_follows_the_training_benchmarks():
  """XLA by default where benchmarks/results/train*.md measured it faster:
  8x8 images with the plain coupling net (whatever the mixing), up to 16x16
  with a Sylvester flow or residual blocks; graph flows; TPUs."""
  from train import trainer  # pylint: disable=g-import-not-at-top
  config = lambda shape, **model: dict(
      image_shape=list(shape), model=dict(dict(
          layout='multiscale', mixing='1x1', model_type='coupling',
          coupling_net='densenet'), **model))
  jit = lambda c, strategy='default': trainer.default_jit_compile(c, strategy)
  digits, photos, cifar = (8, 8, 1), (16, 16, 3), (32, 32, 3)
  for mixing in ('1x1', 'convexp', 'emerging'):
    assert jit(config(digits, mixing=mixing, coupling_net='plain')), mixing
    assert not jit(config(digits, mixing=mixing)), mixing  # the DenseNet
    assert not jit(config(photos, mixing=mixing, coupling_net='plain'))
  for model in (dict(model_type='sylvester'), dict(model_type='residual_flow'),
                dict(model_type='residual_flow', mixing='convexp')):
    assert jit(config(digits, **model)) and jit(config(photos, **model))
    assert not jit(config(cifar, **model)), model
  assert not jit(config(digits, coupling_net='resnet'))  # not measured
  assert not jit(config(digits, coupling_net='plain', layout='tfp_glow'))
  assert jit(config(photos), 'tpu')
  assert jit(dict(task='graphs', model={}))
