"""Conv1x1 (plain, LU, QR, Householder) and MatrixExponential1x1 through the
oracle."""

import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

import tfp_convexp

from tfp_convexp import ops
from tfp_convexp.bijectors import Conv1x1
from tfp_convexp.bijectors import MatrixExponential1x1
import oracle


def _per_pixel(matrix):
  return lambda x: np.einsum('...i,oi->...o', x, matrix)


def _make(kind, event_shape, dtype, seed):
  if kind == 'matrix_exp':
    layer = MatrixExponential1x1(event_shape, seed=seed, dtype=dtype)
  else:
    layer = Conv1x1(event_shape, parameterization=kind, seed=seed, dtype=dtype)
  tfp_convexp.bijectors.perturb_variables(layer, seed, scale=0.3)
  return layer


def _closed_form(layer):
  """W from the variables, independently of the layer's own matrix()."""
  if isinstance(layer, MatrixExponential1x1):
    return _per_pixel(scipy.linalg.expm(layer.generator.numpy()))
  v = {var.name.split('/')[-1].split(':')[0]: var.numpy()
       for var in layer.variables}
  if layer.parameterization == 'plain':
    return _per_pixel(v['matrix'])
  if layer.parameterization in ('qr', 'householder'):
    q = np.eye(layer.channels)
    for r in v['reflections']:
      r = r / np.linalg.norm(r)
      q = q @ (np.eye(len(r)) - 2 * np.outer(r, r))
    if layer.parameterization == 'householder':
      return _per_pixel(q)
  upper = np.triu(v['upper'], 1) + np.diag(
      np.exp(v['log_scale']) * v.get('sign', 1.))
  if layer.parameterization == 'lu':
    w = v['permutation'] @ (np.tril(v['lower'], -1) + np.eye(len(upper))) @ upper
  else:
    w = q @ upper
  return _per_pixel(w)


KINDS = ['plain', 'lu', 'qr', 'householder', 'matrix_exp']


# Many examples: the full suite's; the quick tier runs the fixed cases below.
@pytest.mark.slow
@hypothesis.settings(max_examples=12)
@hypothesis.given(kind=st.sampled_from(KINDS), h=st.integers(1, 4),
                  w=st.integers(1, 5), c=st.integers(1, 5),
                  dtype=st.sampled_from([tf.float32, tf.float64]),
                  seed=st.integers(0, 2**16))
def test_oracle(kind, h, w, c, dtype, seed):
  layer = _make(kind, [h, w, c], dtype, seed)
  x = np.random.default_rng(seed).standard_normal((2, h, w, c))
  # With one channel the triangular factors have no free entries.
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer),
                        check_xla=False, nonzero_gradients=c > 1)


@pytest.mark.parametrize('kind', KINDS)
def test_oracle_xla(kind):
  layer = _make(kind, [3, 5, 4], tf.float64, seed=3)
  x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer))


@pytest.mark.parametrize('kind', ['plain', 'lu', 'qr', 'householder'])
def test_starts_from_a_rotation(kind):
  layer = Conv1x1([2, 2, 6], parameterization=kind, seed=1, dtype=tf.float64)
  w = layer.matrix().numpy()
  np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-12)
  assert abs(float(layer.forward_log_det_jacobian(tf.zeros([2, 2, 6],
                                                           tf.float64),
                                                  event_ndims=3))) < 1e-12


def test_householder_is_orthogonal_with_few_reflections():
  layer = Conv1x1([2, 3, 8], parameterization='householder',
                  num_reflections=3, seed=2, dtype=tf.float64)
  tfp_convexp.bijectors.perturb_variables(layer, 2, scale=0.5)
  assert [v.shape for v in layer.trainable_variables] == [(3, 8)]
  w = layer.matrix().numpy()
  np.testing.assert_allclose(w @ w.T, np.eye(8), atol=1e-12)
  # Three reflections fix the 5-dimensional orthogonal complement of their
  # vectors, so W is no general rotation.
  assert np.linalg.matrix_rank(w - np.eye(8), tol=1e-9) == 3
  x = np.random.default_rng(0).standard_normal((2, 2, 3, 8))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer))


def test_qr_with_few_reflections():
  layer = Conv1x1([2, 3, 8], parameterization='qr', num_reflections=2,
                  seed=0, dtype=tf.float64)
  tfp_convexp.bijectors.perturb_variables(layer, 0, 0.3)
  x = np.random.default_rng(0).standard_normal((2, 2, 3, 8))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer),
                        check_xla=False)


def test_householder_product_is_orthogonal():
  v = tf.constant(np.random.default_rng(0).standard_normal((5, 5)))
  q = ops.householder_product(v).numpy()
  np.testing.assert_allclose(q @ q.T, np.eye(5), atol=1e-12)
  assert np.isclose(np.linalg.det(q), -1.)  # an odd number of reflections


def test_matrix_exponential_matches_scipy_to_1e12():
  layer = MatrixExponential1x1([1, 1, 6], init_scale=1., seed=0,
                               dtype=tf.float64)
  want = scipy.linalg.expm(layer.generator.numpy())
  np.testing.assert_allclose(layer.matrix().numpy(), want, rtol=0,
                             atol=1e-12 * np.abs(want).max())


def test_matrix_exponential_inverse_undoes_its_float32_forward():
  """At the generator norms training reaches (`||A||_2` about 9, nearly
  skew: a well-conditioned `W`), float32 `expm(-A)` alone is the inverse of
  float32 `expm(A)` only to a few 1e-6; the layer's inverse matrix is that
  of its forward matrix to about 1e-7."""
  rng = np.random.default_rng(0)
  b = rng.standard_normal((12, 12))
  a = 1.2 * (b - b.T) + 0.05 * rng.standard_normal((12, 12))
  layer = MatrixExponential1x1([4, 4, 12], seed=0)
  layer.generator.assign(a.astype(np.float32))
  assert np.linalg.norm(a, 2) > 8.
  w = layer.matrix().numpy().astype(np.float64)
  plain = ops.expm(-layer.generator).numpy().astype(np.float64)
  refined = layer.inverse_matrix().numpy().astype(np.float64)
  before = np.abs(plain @ w - np.eye(12)).max()  # 2.7e-6 measured
  after = np.abs(refined @ w - np.eye(12)).max()  # 8.4e-8 measured
  assert after < 3e-7 and after < before / 10, (before, after)
  x = tf.random.stateless_normal([3, 4, 4, 12], [1, 2]) * 100.
  back = layer.inverse(layer.forward(x) + 0.)
  assert float(tf.reduce_max(tf.abs(back - x))) < 1e-3


def test_plain_validate_args_reports_singular_matrix():
  layer = Conv1x1([2, 2, 3], parameterization='plain', validate_args=True)
  layer.forward(tf.zeros([1, 2, 2, 3]))
  layer._w.assign(tf.zeros([3, 3]))  # pylint: disable=protected-access
  with pytest.raises(tf.errors.InvalidArgumentError, match='singular'):
    layer.forward(tf.zeros([1, 2, 2, 3]))


@pytest.mark.parametrize('kwargs,match', [
    (dict(parameterization='svd'), 'parameterization'),
    (dict(parameterization='qr', num_reflections=0), 'num_reflections'),
    (dict(event_shape=[2, 2]), 'event_shape'),
    (dict(dtype=tf.int32), 'float32 or float64; got int32'),
])
def test_bad_arguments(kwargs, match):
  args = dict(event_shape=[2, 2, 3])
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    Conv1x1(**args)


@pytest.mark.parametrize('make', [lambda: Conv1x1([2, 2, 3]),
                                  lambda: MatrixExponential1x1([2, 2, 3])])
def test_bad_inputs(make):
  layer = make()
  with pytest.raises(ValueError, match=r'\[\.\.\., 2, 2, 3\]'):
    layer.forward(tf.zeros([1, 2, 2, 4]))
  with pytest.raises(ValueError, match='float32.*int32'):
    layer.inverse(tf.zeros([1, 2, 2, 3], tf.int32))


@hypothesis.given(seed=st.integers(0, 2**31 - 1), channels=st.integers(1, 16))
@hypothesis.settings(max_examples=20, deadline=None)
def test_matrix_exponential_starts_as_a_random_rotation(seed, channels):
  # The reference's initialisation: expm(A) mixes every channel from the
  # first step, with log|det W| = trace(A) = 0.
  layer = MatrixExponential1x1([1, 1, channels], seed=seed, dtype=tf.float64)
  a, w = layer.generator.numpy(), layer.matrix().numpy()
  np.testing.assert_allclose(a, -a.T, atol=0)
  np.testing.assert_allclose(w @ w.T, np.eye(channels), atol=1e-10)
  np.testing.assert_allclose(w, scipy.linalg.expm(a), atol=1e-10)
  assert np.isclose(np.linalg.det(w), 1.)
  if channels >= 8:  # far from the identity: the halves are mixed
    half = channels // 2
    assert np.sum(w[:half, half:] ** 2) > 0.1 * half
