import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

import tfp_convexp

from tfp_convexp.bijectors import GraphConvolutionExponential
import oracle


def _normalised_adjacency(rng, batch, n, mask=None):
  """Random undirected graphs with self-loops, `D^-1/2 (A + I) D^-1/2`."""
  a = (rng.random((batch, n, n)) < 0.4).astype(np.float64)
  a = np.maximum(a, np.swapaxes(a, 1, 2)) + np.eye(n)
  if mask is not None:
    a = a * mask[:, :, None] * mask[:, None, :]
  d = 1. / np.sqrt(np.maximum(a.sum(-1), 1.))
  return a * d[:, :, None] * d[:, None, :]


def _closed_form(layer, adjacency, mask=None):
  w0, w1 = layer.weights.numpy().astype(np.float64)
  n, f = adjacency.shape[-1], w0.shape[0]

  def apply(x):
    out = []
    for b in range(len(x)):
      a = adjacency[b]
      m = np.ones(n) if mask is None else mask[b]
      a = a * m[:, None] * m[None, :]
      dense = np.kron(np.eye(n), w0.T) + np.kron(a, w1.T)
      dense = np.repeat(m, f)[:, None] * dense
      out.append((scipy.linalg.expm(dense) @ x[b].reshape(-1)).reshape(n, f))
    return np.stack(out)
  return apply


def _layer(n, f, seed, dtype=tf.float64):
  layer = GraphConvolutionExponential(n, f, seed=seed, dtype=dtype)
  tfp_convexp.bijectors.perturb_variables(layer, seed, scale=1.)
  return layer


# Many examples: the full suite's; the quick tier runs the fixed cases below.
@pytest.mark.slow
@hypothesis.settings(max_examples=10)
@hypothesis.given(n=st.integers(1, 6), f=st.integers(1, 4),
                  dtype=st.sampled_from([tf.float32, tf.float64]),
                  masked=st.booleans(), seed=st.integers(0, 2**16))
def test_oracle(n, f, dtype, masked, seed):
  rng = np.random.default_rng(seed)
  mask = None
  if masked:
    mask = (np.arange(n)[None] < rng.integers(1, n + 1, size=(2, 1))).astype(
        np.float64)
  adjacency = _normalised_adjacency(rng, 2, n, mask)
  layer = _layer(n, f, seed, dtype)
  kwargs = dict(adjacency=tf.constant(adjacency, dtype))
  if masked:
    kwargs['node_mask'] = tf.constant(mask, dtype)
  x = rng.standard_normal((2, n, f))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer, adjacency,
                                                           mask),
                        check_xla=False, kwargs=kwargs)


def test_oracle_xla():
  rng = np.random.default_rng(0)
  adjacency = tf.constant(_normalised_adjacency(rng, 2, 5))
  layer = _layer(5, 3, seed=0)
  x = rng.standard_normal((2, 5, 3))
  oracle.check_bijector(layer, x, closed_form=_closed_form(
      layer, adjacency.numpy()), kwargs=dict(adjacency=adjacency))


def test_tfp_bijector_contract():
  rng = np.random.default_rng(0)
  adjacency = _normalised_adjacency(rng, 1, 5, None)[0]
  oracle.check_contract(_layer(5, 3, 0), rng.standard_normal((6, 5, 3)),
                        kwargs=dict(adjacency=tf.constant(adjacency)))


def test_permutation_equivariance():
  rng = np.random.default_rng(1)
  adjacency = _normalised_adjacency(rng, 3, 7)
  layer = _layer(7, 4, seed=1)
  x = rng.standard_normal((3, 7, 4))
  perm = rng.permutation(7)
  z = layer.forward(tf.constant(x), adjacency=tf.constant(adjacency)).numpy()
  z_perm = layer.forward(tf.constant(x[:, perm]),
                         adjacency=tf.constant(adjacency[:, perm][:, :, perm]))
  np.testing.assert_allclose(z_perm, z[:, perm], atol=1e-12)
  ldj = layer.forward_log_det_jacobian(tf.constant(x), event_ndims=2,
                                       adjacency=tf.constant(adjacency))
  ldj_perm = layer.forward_log_det_jacobian(
      tf.constant(x[:, perm]), event_ndims=2,
      adjacency=tf.constant(adjacency[:, perm][:, :, perm]))
  np.testing.assert_allclose(ldj, ldj_perm, atol=1e-12)


def test_padded_graphs_match_unpadded():
  rng = np.random.default_rng(2)
  layer = _layer(6, 3, seed=2)
  small = _normalised_adjacency(rng, 1, 4)
  padded = np.zeros((1, 6, 6))
  padded[:, :4, :4] = small
  padded[:, 4:, :] = rng.random((1, 2, 6))  # garbage that the mask must hide
  mask = np.array([[1., 1., 1., 1., 0., 0.]])
  x = rng.standard_normal((1, 6, 3))
  z = layer.forward(tf.constant(x), adjacency=tf.constant(padded),
                    node_mask=tf.constant(mask)).numpy()
  small_layer = GraphConvolutionExponential(4, 3, dtype=tf.float64)
  small_layer.weights.assign(layer.weights)
  z_small = small_layer.forward(tf.constant(x[:, :4]),
                                adjacency=tf.constant(small)).numpy()
  np.testing.assert_allclose(z[:, :4], z_small, atol=1e-12)
  np.testing.assert_allclose(z[:, 4:], x[:, 4:], atol=0)  # identity there
  ldj = layer.forward_log_det_jacobian(tf.constant(x), event_ndims=2,
                                       adjacency=tf.constant(padded),
                                       node_mask=tf.constant(mask))
  ldj_small = small_layer.forward_log_det_jacobian(
      tf.constant(x[:, :4]), event_ndims=2, adjacency=tf.constant(small))
  np.testing.assert_allclose(ldj, ldj_small, atol=1e-12)


def test_weights_are_certified_after_projection():
  layer = GraphConvolutionExponential(4, 5, seed=0, dtype=tf.float64)
  layer.weights.assign(10. * layer.weights)
  layer.project()
  w0, w1 = layer.weights.numpy()
  assert np.linalg.norm(w0, 2) + np.linalg.norm(w1, 2) <= 0.95


def test_validate_args_rejects_unnormalised_adjacency():
  layer = GraphConvolutionExponential(3, 2, validate_args=True)
  with pytest.raises(tf.errors.InvalidArgumentError, match='normalise'):
    layer.forward(tf.zeros([1, 3, 2]), adjacency=3. * tf.ones([1, 3, 3]))


def test_validate_args_names_a_non_finite_adjacency():
  layer = GraphConvolutionExponential(3, 2, validate_args=True)
  adjacency = np.eye(3, dtype=np.float32)[None] / 2.
  adjacency[0, 1, 2] = np.nan
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='the adjacency has non-finite values'):
    layer.forward(tf.zeros([1, 3, 2]), adjacency=adjacency)


def test_validate_args_rejects_weights_outside_the_bound():
  layer = GraphConvolutionExponential(4, 3, validate_args=True)
  adjacency = tf.eye(4)[None] / 2.
  layer.forward(tf.ones([1, 4, 3]), adjacency=adjacency)
  layer.weights.assign(100. * layer.weights)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='weights left the certified region'):
    layer.forward(tf.ones([1, 4, 3]) + 0., adjacency=adjacency)
  layer.project()
  layer.forward(tf.ones([1, 4, 3]) + 0., adjacency=adjacency)


@pytest.mark.parametrize('dtype', [tf.float32, tf.float64])
def test_validate_args_accepts_adjacencies_of_norm_exactly_one(dtype):
  """The identity, and a normalised path graph with self-loops, have
  ||A||_2 = 1, which the certified (Gram) bound overestimates."""
  layer = GraphConvolutionExponential(4, 3, validate_args=True, dtype=dtype)
  path = np.eye(4) + np.eye(4, k=1) + np.eye(4, k=-1)
  degree = path.sum(1)
  normalised = path / np.sqrt(degree[:, None] * degree[None])
  for adjacency in (np.eye(4), normalised):
    assert abs(np.linalg.norm(adjacency, 2) - 1.) < 1e-12
    layer.forward(tf.ones([2, 4, 3], dtype),
                  adjacency=tf.constant(adjacency[None], dtype))
  with pytest.raises(tf.errors.InvalidArgumentError, match='normalise'):
    layer.forward(tf.ones([1, 4, 3], dtype),
                  adjacency=tf.constant(1.001 * np.eye(4)[None], dtype))


def test_bad_inputs():
  layer = GraphConvolutionExponential(3, 2)
  with pytest.raises(ValueError, match='pass the adjacency'):
    layer.forward(tf.zeros([1, 3, 2]))
  with pytest.raises(ValueError, match=r'adjacency of shape \[\.\.\., 3, 3\]'):
    layer.forward(tf.zeros([1, 3, 2]), adjacency=tf.zeros([1, 3, 4]))
  with pytest.raises(ValueError, match=r'node features of shape \[\.\.\., 3, 2\]'):
    layer.forward(tf.zeros([1, 4, 2]), adjacency=tf.zeros([1, 3, 3]))
  with pytest.raises(ValueError, match=r'node_mask of shape \[\.\.\., 3\]'):
    layer.forward(tf.zeros([1, 3, 2]), adjacency=tf.zeros([1, 3, 3]),
                  node_mask=tf.ones([1, 2]))
  with pytest.raises(ValueError, match='num_nodes'):
    GraphConvolutionExponential(0, 2)
  with pytest.raises(ValueError, match='adjacency_norm_bound'):
    GraphConvolutionExponential(3, 2, adjacency_norm_bound=0.)
