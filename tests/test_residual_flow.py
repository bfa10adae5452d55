import numpy as np
import pytest
import tensorflow as tf

import tfp_convexp

from tfp_convexp.bijectors import ResidualFlowBlock
import oracle


def _block(shape, seed=0, dtype=tf.float64, **kwargs):
  block = ResidualFlowBlock(shape, seed=seed, dtype=dtype, **kwargs)
  tfp_convexp.bijectors.perturb_variables(block, seed, scale=0.3)
  return block


def _closed_form(block):
  return lambda x: x + block.residual(tf.constant(x, block.dtype)).numpy()


@pytest.mark.parametrize('shape,dtype', [
    ([2, 2, 1], tf.float64),
    *[pytest.param(s, d, marks=pytest.mark.slow) for s, d in [
        ([2, 2, 1], tf.float32), ([3, 5, 2], tf.float32),
        ([3, 5, 2], tf.float64)]]])
def test_oracle_exact_estimator(shape, dtype):
  block = _block(shape, dtype=dtype, hidden_channels=4,
                 log_det_estimator='exact')
  x = np.random.default_rng(0).standard_normal((3, *shape))
  oracle.check_bijector(block, x, closed_form=_closed_form(block),
                        check_xla=shape == [3, 5, 2])


def test_lipschitz_is_certified():
  block = _block([3, 4, 2], hidden_channels=6, log_det_estimator='exact')
  x = tf.constant(np.random.default_rng(1).standard_normal((2, 3, 4, 2)))
  with tf.GradientTape() as tape:
    tape.watch(x)
    g = block.residual(x)
  jac = tape.batch_jacobian(g, x).numpy().reshape(2, 24, 24)
  assert np.linalg.norm(jac, 2, axis=(1, 2)).max() <= float(
      block.lipschitz_bound()) <= 0.97 ** 3 + 1e-12


def test_russian_roulette_is_unbiased():
  exact = _block([2, 3, 2], seed=3, hidden_channels=4,
                 log_det_estimator='exact')
  roulette = ResidualFlowBlock([2, 3, 2], hidden_channels=4, max_terms=30,
                               dtype=tf.float64)
  for a, b in zip(roulette.trainable_variables, exact.trainable_variables):
    a.assign(b)
  x = tf.constant(np.random.default_rng(0).standard_normal((2, 2, 3, 2)))
  want = exact.forward_log_det_jacobian(x, event_ndims=3).numpy()
  estimate = tf.function(lambda s: roulette.forward_log_det_jacobian(
      x + 0., event_ndims=3, seed=s))
  draws = np.stack([estimate(tf.constant([i, 7])).numpy() for i in range(400)])
  stderr = draws.std(0) / np.sqrt(len(draws))
  assert np.all(np.abs(draws.mean(0) - want) < 4 * stderr), (
      draws.mean(0), want, stderr)
  # The same seed gives the same estimate.
  np.testing.assert_array_equal(estimate(tf.constant([3, 7])), draws[3])


def test_russian_roulette_gradient_is_unbiased():
  exact = _block([2, 2, 2], seed=4, hidden_channels=4,
                 log_det_estimator='exact')
  roulette = ResidualFlowBlock([2, 2, 2], hidden_channels=4, max_terms=30,
                               dtype=tf.float64)
  for a, b in zip(roulette.trainable_variables, exact.trainable_variables):
    a.assign(b)
  x = tf.constant(np.random.default_rng(1).standard_normal((2, 2, 2, 2)))

  def grads(block, **kwargs):
    with tf.GradientTape() as tape:
      tape.watch(x)
      ldj = tf.reduce_sum(block.forward_log_det_jacobian(
          x + 0., event_ndims=3, **kwargs))
    g = tape.gradient(ldj, [x, block.trainable_variables[0]])
    return tf.concat([tf.reshape(t, [-1]) for t in g], 0)

  want = grads(exact).numpy()
  estimate = tf.function(lambda s: grads(roulette, seed=s))
  draws = np.stack([estimate(tf.constant([i, 9])).numpy() for i in range(300)])
  stderr = draws.std(0) / np.sqrt(len(draws)) + 1e-12
  z = np.abs(draws.mean(0) - want) / stderr
  # A few hundred coordinates: allow the odd 3-sigma one, not a bias.
  assert np.mean(z < 3.) > 0.95 and z.max() < 5., (z.max(), np.mean(z < 3.))


def test_stochastic_log_det_needs_a_seed():
  block = ResidualFlowBlock([2, 2, 1])
  with pytest.raises(ValueError, match='pass a stateless seed'):
    block.forward_log_det_jacobian(tf.zeros([1, 2, 2, 1]), event_ndims=3)


def test_inverse_reports_convergence():
  block = _block([4, 4, 3], seed=1, dtype=tf.float32, hidden_channels=6,
                 max_iterations=2, validate_args=True,
                 log_det_estimator='exact')
  z = block.forward(tf.random.stateless_normal([2, 4, 4, 3], seed=[1, 1]))
  _, iterations, residual = block.inverse_with_diagnostics(z + 0.)
  assert int(iterations) == 2 and float(residual) > 1e-5
  with pytest.raises(tf.errors.InvalidArgumentError, match='did not reach'):
    block.inverse(z + 0.)


@pytest.mark.parametrize('kwargs,match', [
    (dict(norm_bound=1.), 'norm_bound'),
    (dict(log_det_estimator='hutchinson'), 'log_det_estimator'),
    (dict(roulette_p=0.), 'roulette_p'),
    (dict(n_exact_terms=5, max_terms=5), 'n_exact_terms < max_terms'),
    (dict(max_iterations=0), 'max_iterations'),
])
def test_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    ResidualFlowBlock([2, 2, 1], **kwargs)


def test_seed_routes_through_a_distribution():
  import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top
  block = ResidualFlowBlock([2, 2, 1], hidden_channels=2)
  dist = tfp.distributions.TransformedDistribution(
      tfp.distributions.Sample(tfp.distributions.Normal(0., 1.), [2, 2, 1]),
      tfp.bijectors.Invert(block))
  x = tf.random.stateless_normal([3, 2, 2, 1], seed=[0, 1])
  block.forward(x)  # the forward pass itself needs no seed
  lp1 = dist.log_prob(x, bijector_kwargs=dict(seed=[4, 5]))
  lp2 = dist.log_prob(x + 0., bijector_kwargs=dict(seed=[4, 5]))
  np.testing.assert_array_equal(lp1, lp2)
  assert np.all(np.isfinite(lp1))
