"""TFP's own `tfb.Glow` as a layout of `make_flow` (the study's outside
baseline): a bijector of this package's image contract, seeded weights."""

import numpy as np
import pytest
import tensorflow as tf

import oracle
from tfp_convexp import bijectors
from tfp_convexp import flows


def _glow(seed=3):
  return flows.TFPGlow([4, 4, 2], num_glow_blocks=2, num_steps_per_block=2,
                       num_hidden=8, seed=seed)


@pytest.mark.slow
def test_oracle_and_contract():
  glow = _glow()
  x = np.random.default_rng(0).uniform(-.5, .5, [6, 4, 4, 2]).astype(np.float32)
  glow.forward(x)  # ActNorm initialises itself from the first batch
  bijectors.perturb_variables(glow, seed=1, scale=0.02)
  # tfb.Glow itself cannot run with an unknown batch size (int32/int64
  # reshapes) or under tf.vectorized_map (its ActNorm assigns in a tf.cond).
  oracle.check_bijector(glow, x, unknown_batch=False)
  oracle.check_contract(glow, x, vectorized_map=False)


def test_the_seed_sets_every_weight():
  a, b, c = _glow(3), _glow(3), _glow(4)
  for u, v, w in zip(a.variables, b.variables, c.variables):
    np.testing.assert_array_equal(u.numpy(), v.numpy(), err_msg=u.name)
  random = [u.name for u, w in zip(a.variables, c.variables)
            if not np.array_equal(u.numpy(), w.numpy())]
  # The coupling nets' hidden kernels and the 1x1 rotations; ActNorm, the
  # zero-initialised last convolutions and the exit nets start fixed.
  assert len(random) == 2 * 2 * 2 + 2 * 2 * 2, random
  lu, perm = [v for v in a.variables if 'trainable_lu' in v.name][:2]
  w = tf.linalg.lu_reconstruct(lu, perm).numpy()
  np.testing.assert_allclose(w.T @ w, np.eye(len(w)), atol=1e-5)


@pytest.mark.slow
def test_make_flow_layout_trains_with_the_package_dequantizer():
  model = flows.make_flow([8, 8, 3], num_bins=256, layout='tfp_glow',
                          n_levels=2, n_subflows=2, n_intermediate_channels=16,
                          seed=1)
  assert isinstance(model.bijector.layers[-1], flows.TFPGlow)
  x = tf.constant(np.random.default_rng(0).integers(0, 256, [16, 8, 8, 3]),
                  tf.int32)
  noise = tf.random.stateless_uniform([1, 16, 8, 8, 3], [1, 2])
  model.log_prob(x, base_noise=noise)  # ActNorm's data initialisation
  variables = model.trainable_variables
  optimizer = tf.keras.optimizers.Adam(1e-2)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss = -tf.reduce_mean(model.log_prob(x, base_noise=noise))
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss
  losses = [float(step()) for _ in range(5)]
  assert losses[-1] < losses[0], losses
  samples = model.sample(4, seed=[1, 2])
  assert samples.shape == (4, 8, 8, 3) and samples.dtype == tf.int32


def test_make_flow_refuses_what_tfb_glow_cannot_build():
  with pytest.raises(ValueError, match='same number of steps at every level'):
    flows.make_flow([8, 8, 3], layout='tfp_glow', n_levels=2,
                    n_subflows=[2, 1])
  with pytest.raises(ValueError, match="`layout` must be one of"):
    flows.make_flow([8, 8, 3], layout='glow')
