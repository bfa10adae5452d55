"""Graph normalizing flows: the node-wise layers, the coupling, whole models
and the offline graph data."""

import json
import os

import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from tfp_convexp import bijectors
from tfp_convexp import flows
from tfp_convexp.data import graphs
import oracle
from programs import call


def _graphs(rng, batch, n, min_nodes=1):
  """Random undirected graphs (0/1, no self-loops) and node masks."""
  sizes = rng.integers(min_nodes, n + 1, size=batch)
  mask = (np.arange(n)[None] < sizes[:, None]).astype(np.float64)
  a = np.triu(rng.random((batch, n, n)) < 0.5, 1).astype(np.float64)
  a = (a + np.swapaxes(a, 1, 2)) * mask[:, :, None] * mask[:, None, :]
  return a, mask


def _inputs(rng, batch, n, f, dtype=tf.float64):
  a, mask = _graphs(rng, batch, n)
  x = rng.standard_normal((batch, n, f)) * mask[..., None]
  adjacency = flows.normalized_adjacency(tf.constant(a, dtype), mask)
  return x, dict(adjacency=adjacency, node_mask=tf.constant(mask, dtype))


def _model(n, f, mixing, seed=0, dtype=tf.float64, n_subflows=2, data=None):
  model = flows.make_graph_flow(n, f, mixing=mixing, n_subflows=n_subflows,
                                n_intermediate_channels=8, seed=seed,
                                dtype=dtype)
  if data is not None:  # initialise the actnorms, then move every weight
    x, kwargs = data
    model.log_prob(x, **kwargs)
  bijectors.perturb_variables(model.bijector, seed, scale=0.2)
  return model


# The quick tier: float64; the full suite adds float32 with XLA.
@pytest.mark.parametrize('dtype', [
    pytest.param(tf.float32, marks=pytest.mark.slow), tf.float64])
def test_node_layers_oracle(dtype):
  rng = np.random.default_rng(0)
  x, kwargs = _inputs(rng, 3, 5, 4, dtype)
  kwargs = {k: tf.cast(v, dtype) for k, v in kwargs.items()}
  mask = kwargs['node_mask'].numpy()[..., None]
  norm = bijectors.GraphActNorm(5, 4, dtype=dtype)
  norm.forward(tf.constant(x, dtype), node_mask=kwargs['node_mask'])
  bijectors.perturb_variables(norm, 1, scale=0.3)
  loc, scale = norm.loc.numpy(), np.exp(norm.log_scale.numpy())
  linear = bijectors.NodeLinear(5, 4, seed=2, dtype=dtype)
  bijectors.perturb_variables(linear, 2, scale=0.3)
  w = linear.matrix().numpy()
  coupling = bijectors.GraphAffineCoupling(5, 4, hidden=8, dtype=dtype)
  bijectors.perturb_variables(coupling, 3, scale=0.3)
  masked = lambda f: lambda v: np.where(mask > 0, f(v), v)
  for layer, closed_form in [
      (norm, masked(lambda v: (v + loc) * scale)),
      (linear, masked(lambda v: v @ w.T)),
      (coupling, None)]:
    oracle.check_bijector(layer, x, closed_form=closed_form,
                          check_xla=dtype == tf.float32, kwargs=kwargs)
    # One graph (with a padded node) for every batch shape.
    oracle.check_contract(layer, rng.standard_normal((6, 5, 4)), kwargs=dict(
        adjacency=kwargs['adjacency'][1], node_mask=kwargs['node_mask'][1]))


def test_graph_actnorm_initialises_from_real_nodes_only():
  x = np.zeros((2, 4, 3))
  x[0, :2] = [[1., 2., 3.], [3., 6., 9.]]
  x[1, :1] = [[2., 4., 6.]]
  mask = np.array([[1., 1., 0., 0.], [1., 0., 0., 0.]])
  x[0, 2:] = 100.  # padding: must not count
  norm = bijectors.GraphActNorm(4, 3, dtype=tf.float64)
  z = norm.forward(x, node_mask=mask).numpy()
  np.testing.assert_allclose(-norm.loc.numpy(), [2., 4., 6.])
  real = z[mask > 0]
  np.testing.assert_allclose(real.mean(0), 0., atol=1e-12)
  np.testing.assert_allclose(real.std(0), 1., rtol=1e-5)
  np.testing.assert_array_equal(z[0, 2:], 100.)  # padded nodes unchanged


# Whole models in the quick tier: the permutation property below. XLA:
# test_graph_runs_train_resume_evaluate_sample_and_export (the program's XLA
# loss, and its XLA evaluation against the one without XLA).
@pytest.mark.slow
@pytest.mark.parametrize('mixing', sorted(flows.GRAPH_MIXINGS))
def test_whole_graph_flow_oracle(mixing):
  rng = np.random.default_rng(1)
  data = _inputs(rng, 3, 5, 4)
  model = _model(5, 4, mixing, data=data)
  x, kwargs = data
  oracle.check_bijector(model.bijector, x, check_xla=False, kwargs=kwargs)


@hypothesis.settings(max_examples=8, deadline=None)
@hypothesis.given(n=st.integers(2, 7), seed=st.integers(0, 2**16),
                  mixing=st.sampled_from(sorted(flows.GRAPH_MIXINGS)))
def test_node_permutations_permute_the_latent_and_keep_log_prob(n, seed,
                                                                  mixing):
  rng = np.random.default_rng(seed)
  x, kwargs = _inputs(rng, 2, n, 4)
  model = _model(n, 4, mixing, seed=seed % 7, data=(x, kwargs))
  perm = rng.permutation(n)
  a, m = kwargs['adjacency'].numpy(), kwargs['node_mask'].numpy()
  permuted = dict(adjacency=tf.constant(a[:, perm][:, :, perm]),
                  node_mask=tf.constant(m[:, perm]))
  np.testing.assert_allclose(
      model.log_prob(x[:, perm], **permuted), model.log_prob(x, **kwargs),
      rtol=1e-10)
  np.testing.assert_allclose(
      model.bijector.forward(x[:, perm] + 0., **permuted).numpy(),
      model.bijector.forward(x + 0., **kwargs).numpy()[:, perm], atol=1e-10)


@pytest.mark.slow
@hypothesis.settings(max_examples=8, deadline=None)
@hypothesis.given(n=st.integers(1, 6), extra=st.integers(1, 4),
                  seed=st.integers(0, 2**16),
                  mixing=st.sampled_from(sorted(flows.GRAPH_MIXINGS)))
def test_padding_changes_neither_log_prob_nor_sample(n, extra, seed, mixing):
  """The same weights on N = n and on N = n + extra padded nodes."""
  rng = np.random.default_rng(seed)
  a = np.triu(rng.random((2, n, n)) < 0.5, 1).astype(np.float64)
  a = a + np.swapaxes(a, 1, 2)
  x = rng.standard_normal((2, n, 4))
  pad = lambda t, axes: np.pad(t, [(0, extra if i in axes else 0)
                                   for i in range(t.ndim)])
  small = flows.make_graph_flow(n, 4, mixing=mixing, n_subflows=2,
                                n_intermediate_channels=8, seed=seed % 5,
                                dtype=tf.float64)
  big = flows.make_graph_flow(n + extra, 4, mixing=mixing, n_subflows=2,
                              n_intermediate_channels=8, seed=seed % 5,
                              dtype=tf.float64)
  graph = dict(adjacency=flows.normalized_adjacency(a),
               node_mask=np.ones((2, n)))
  padded = dict(adjacency=flows.normalized_adjacency(pad(a, (1, 2))),
                node_mask=pad(np.ones((2, n)), (1,)))
  np.testing.assert_allclose(big.log_prob(pad(x, (1,)), **padded),
                             small.log_prob(x, **graph), rtol=1e-10)
  z = rng.standard_normal((2, n, 4))
  np.testing.assert_allclose(
      big.bijector.inverse(pad(z, (1,)), **padded).numpy(),
      pad(small.bijector.inverse(z, **graph).numpy(), (1,)), atol=1e-10)
  sample = big.sample(3, seed=[seed, 1], **padded).numpy()
  assert sample.shape == (3, 2, n + extra, 4)
  np.testing.assert_array_equal(sample[:, :, n:], 0.)


def test_bad_graphs_are_refused_with_what_came():
  model = flows.make_graph_flow(4, 2, n_subflows=1, n_intermediate_channels=4)
  x = tf.zeros([1, 4, 2])
  ring = np.roll(np.eye(4), 1, 0) + np.roll(np.eye(4), -1, 0)
  with pytest.raises(tf.errors.InvalidArgumentError, match=r'\|\|A\|\|_2'):
    model.log_prob(x, adjacency=ring[None].astype(np.float32))
  with pytest.raises(ValueError, match=r'node_mask of shape \[\.\.\., 4\].*'
                                       r'got \(1, 3\)'):
    model.log_prob(x, adjacency=flows.normalized_adjacency(ring[None]),
                   node_mask=tf.ones([1, 3]))
  with pytest.raises(ValueError, match=r'adjacency of shape \[\.\.\., 4, 4\]'):
    model.log_prob(x, adjacency=tf.zeros([1, 4, 3]))
  with pytest.raises(ValueError, match='pass the graph'):
    model.log_prob(x)
  with pytest.raises(tf.errors.InvalidArgumentError, match='symmetric'):
    flows.normalized_adjacency(np.triu(np.ones((4, 4)), 1))
  with pytest.raises(tf.errors.InvalidArgumentError, match='only 0 and 1'):
    model.log_prob(x, adjacency=flows.normalized_adjacency(ring[None]),
                   node_mask=tf.fill([1, 4], 0.5))
  with pytest.raises(ValueError, match='`mixing` must be one of'):
    flows.make_graph_flow(4, 2, mixing='convexp')
  with pytest.raises(ValueError, match='make_graph_flow: `num_nodes` must be'):
    flows.make_graph_flow(0, 2)


@pytest.mark.parametrize('name', [n for n, c in flows.CONFIGS.items()
                                  if c.task == 'graphs'])
def test_every_graph_config_builds_for_its_data(name):
  config = flows.CONFIGS[name]
  assert config.paper and config.notes
  assert config.event_shape == graphs.graph_shape(config.dataset)
  test = graphs.load(config.dataset, 'test')
  model = config.build(n_subflows=1, n_intermediate_channels=4)
  nll = flows.nats_per_node(
      model, test['features'][:4],
      flows.normalized_adjacency(test['adjacency'][:4]),
      test['node_mask'][:4])
  assert nll.shape == (4,) and np.all(np.isfinite(nll))
  with pytest.raises(AttributeError, match='has no image_shape'):
    config.image_shape  # pylint: disable=pointless-statement


def test_graph_data_is_deterministic_and_well_formed():
  for name in graphs.GRAPH_SETS:
    generate = graphs.GRAPH_SETS[name][0]
    one, two = generate(20, 0), generate(20, 0)
    for key in one:
      np.testing.assert_array_equal(one[key], two[key])
    other = generate(20, 1)
    assert not np.array_equal(one['features'], other['features'])
    a, m, x = one['adjacency'], one['node_mask'], one['features']
    np.testing.assert_array_equal(a, np.swapaxes(a, 1, 2))
    np.testing.assert_array_equal(np.diagonal(a, axis1=1, axis2=2), 0.)
    np.testing.assert_array_equal(a * (1 - m[:, :, None]), 0.)
    np.testing.assert_array_equal(x * (1 - m[..., None]), 0.)
    assert np.all(np.isfinite(x))
  sizes = graphs.springs(50, 0)['node_mask'].sum(1)
  assert sizes.min() >= 5 and sizes.max() <= 10
  positions = graphs.springs(50, 0)['features'][..., :2]
  assert np.abs(positions).max() <= graphs.SPRINGS['box_size']


def test_gmrf_log_density_is_the_dense_gaussian_change_of_variables():
  """Against an independent computation: the flattened features' Gaussian
  (covariance `Q^-1 (x) C C^T`) and the warp's log-derivative by finite
  differences."""
  data = graphs.community_gmrf(3, 7)
  c = graphs._mixing_matrix(4)  # pylint: disable=protected-access
  for g in range(3):
    n = int(data['node_mask'][g].sum())
    a = data['adjacency'][g, :n, :n].astype(np.float64)
    q = 0.5 * np.eye(n) + np.diag(a.sum(1)) - a
    y = data['features'][g, :n].astype(np.float64)
    h = y.copy()
    for _ in range(100):  # Newton's method for g^-1
      h -= (graphs._warp(h) - y) / np.exp(graphs._log_warp_slope(h))  # pylint: disable=protected-access
    eps = 1e-6
    slope = (graphs._warp(h + eps) - graphs._warp(h - eps)) / (2 * eps)  # pylint: disable=protected-access
    cov = np.kron(np.linalg.inv(q), c @ c.T)
    want = (scipy.stats.multivariate_normal(np.zeros(n * 4), cov).logpdf(
        h.reshape(-1)) - np.sum(np.log(slope)))
    np.testing.assert_allclose(data['log_density'][g], want, rtol=1e-4)


# A small graph run of `python -m train`: XLA for the loss (its default).
GRAPH_RUN = ['--model=graph_gmrf', '--n_subflows=1',
             '--n_intermediate_channels=16', '--batch_size=16',
             '--checkpoint_every=2', '--eval_every=1000',
             '--num_grid_samples=4', '--noprogress']


@pytest.mark.slow
def test_graph_runs_train_resume_evaluate_sample_and_export(tmp_path):
  """The programs on a graph run, as on images: a run under XLA, resumed
  without it; evaluate (XLA) agrees with the final evaluation; samples and
  the SavedModel agree with the restored model."""
  from train import run_config  # pylint: disable=g-import-not-at-top
  work = str(tmp_path / 'run')
  out = call('train', f'--workdir={work}', '--max_steps=2',
             *GRAPH_RUN).stdout
  assert 'community_gmrf: 2000 train / 500 test graphs' in out
  assert 'XLA loss: True' in out
  assert "(the data's true value: 5.2172)" in out
  out = call('train', f'--workdir={work}', '--max_steps=4',
             '--nojit_compile', *GRAPH_RUN).stdout
  assert 'at step 2' in out and 'done: 4 steps' in out
  final = json.load(open(os.path.join(work, 'final.json')))
  assert final['step'] == 4
  assert final['gap_nats_per_node'] == pytest.approx(
      final['test_nats_per_node'] - final['true_test_nats_per_node'])
  assert final['true_test_nats_per_node'] == pytest.approx(5.2172, abs=1e-4)
  assert {'nats_per_node.png', 'samples_0000002.png',
          'samples_0000004.png'} <= set(os.listdir(work))

  out = call('train.evaluate', f'--workdir={work}').stdout
  assert 'test nats/node at step 4' in out
  result = json.load(open(os.path.join(work, 'eval.json')))
  assert result['num_graphs'] == 500 and result['num_samples'] is None
  np.testing.assert_allclose(result['nats_per_node'],
                             final['test_nats_per_node'], rtol=1e-5)

  call('train.sample', f'--workdir={work}', '--num=3',
       f'--npy={tmp_path}/s.npy')
  test = graphs.load('community_gmrf', 'test')
  sample = np.load(tmp_path / 's.npy')
  assert sample.shape == (3, 20, 4) and np.all(np.isfinite(sample))
  np.testing.assert_array_equal(sample[test['node_mask'][:3] == 0], 0.)

  call('train.export', f'--workdir={work}', f'--export_dir={tmp_path}/e')
  loaded = tf.saved_model.load(str(tmp_path / 'e'))
  _, model, _ = run_config.restore(work)
  x, a, m = (test[k][:8] for k in ('features', 'adjacency', 'node_mask'))
  np.testing.assert_allclose(
      loaded.nats_per_node(x, a, m),
      flows.nats_per_node(model, x, flows.normalized_adjacency(a, m), m),
      rtol=1e-5)
  drawn = loaded.sample(a, m, 1., tf.constant([4, 2])).numpy()
  np.testing.assert_allclose(loaded.decode(loaded.encode(drawn, a, m), a, m),
                             drawn, atol=1e-4)
  np.testing.assert_array_equal(drawn[m == 0], 0.)
  with pytest.raises(tf.errors.InvalidArgumentError, match='symmetric'):
    loaded.log_prob(x, a + np.triu(np.ones_like(a), 1), m)


@pytest.mark.parametrize('args, message', [
    (['--dataset=digits'], '--model=graph_gmrf trains a graph flow, but '
                           '--dataset=digits is an image set'),
    (['--densenet_depth=2'], 'does not read --densenet_depth'),
    (['--mixing=convexp'], '--mixing=convexp is an image mixing layer'),
    (['--n_subflows=2,2'], 'a graph flow has one level'),
    (['--eval_num_samples=4'], "a graph flow's likelihood is exact"),
    (['--final_num_samples=100'], "a graph flow's likelihood is exact"),
])
def test_graph_run_flags_that_do_not_apply_exit_2(args, message, tmp_path):
  proc = call('train', '--model=graph_gmrf', f'--workdir={tmp_path}/w', *args,
              check=False)
  assert proc.returncode == 2 and message in proc.stderr, proc.stderr
