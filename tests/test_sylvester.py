import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

import tfp_convexp

from tfp_convexp.bijectors import ConvolutionalSylvester
from tfp_convexp.bijectors import GeneralizedSylvester
from tfp_convexp import nets
import dense_conv
import oracle


def _householder(reflections):
  q = np.eye(reflections.shape[1])
  for r in reflections:
    r = r / np.linalg.norm(r)
    q = q @ (np.eye(len(r)) - 2. * np.outer(r, r))
  return q


def _vector_closed_form(flow):
  w = scipy.linalg.expm(flow._generator.numpy()) @ _householder(  # pylint: disable=protected-access
      flow._reflections.numpy())  # pylint: disable=protected-access

  def apply(x):
    out, _ = flow.f_ar(tf.constant(x @ w.T, flow.dtype))
    return x + np.linalg.solve(w, out.numpy().T).T
  return apply


def _conv_closed_form(flow):
  h, w, c = flow._event_shape  # pylint: disable=protected-access
  q = _householder(flow._reflections.numpy())  # pylint: disable=protected-access
  kernel = flow.convolution_exponential.kernel.numpy().astype(np.float64)
  expm = scipy.linalg.expm(dense_conv.conv_matrix(kernel, h, w))
  basis = expm @ np.kron(np.eye(h * w), q)

  def apply(x):
    u = dense_conv.apply_matrix(basis, x)
    out, _ = flow.f_ar(tf.constant(u, flow.dtype))
    return x + dense_conv.apply_matrix(np.linalg.inv(basis), out.numpy())
  return apply


def _vector_flow(d, seed, dtype=tf.float64, **kwargs):
  flow = GeneralizedSylvester(d, seed=seed, dtype=dtype, **kwargs)
  # Large random off-diagonal weights make I + J ill-conditioned; float32
  # then cannot hold a 1e-5 round trip whatever the solver does (the
  # residual reaches 1.2e-7 in 5 steps, the error in x is 50x larger).
  tfp_convexp.bijectors.perturb_variables(flow, seed,
                             scale=0.5 if dtype == tf.float64 else 0.2)
  return flow


def _conv_flow(shape, seed, dtype=tf.float64, **kwargs):
  flow = ConvolutionalSylvester(shape, seed=seed, dtype=dtype, **kwargs)
  tfp_convexp.bijectors.perturb_variables(flow, seed, scale=0.3)
  return flow


@pytest.mark.slow
@hypothesis.settings(max_examples=4)
@hypothesis.given(d=st.integers(1, 6), dtype=st.sampled_from([tf.float32,
                                                               tf.float64]),
                  seed=st.integers(0, 2**16))
def test_vector_oracle(d, dtype, seed):
  flow = _vector_flow(d, seed, dtype)
  x = np.random.default_rng(seed).standard_normal((3, d))
  # With one dimension nothing precedes it: f_AR is its biases alone.
  oracle.check_bijector(flow, x, closed_form=_vector_closed_form(flow),
                        check_xla=False, nonzero_gradients=d > 1)


@pytest.mark.slow
@hypothesis.settings(max_examples=4)
@hypothesis.given(h=st.integers(1, 4), w=st.integers(1, 4), c=st.integers(1, 3),
                  dtype=st.sampled_from([tf.float32, tf.float64]),
                  seed=st.integers(0, 2**16))
def test_conv_oracle(h, w, c, dtype, seed):
  flow = _conv_flow([h, w, c], seed, dtype, hidden_channels=4 * c)
  x = np.random.default_rng(seed).standard_normal((6, h, w, c))
  # On a single pixel the few ReLUs of f_AR can all be dead for every
  # example, which rightly zeroes the gradients of the hidden layers.
  oracle.check_bijector(flow, x, closed_form=_conv_closed_form(flow),
                        check_xla=False, nonzero_gradients=h * w > 1)


@pytest.mark.parametrize('check_xla', [
    False, pytest.param(True, marks=pytest.mark.slow)])
def test_conv_oracle_fixed_case(check_xla):
  flow = _conv_flow([3, 5, 2], 2, hidden_channels=4)
  oracle.check_bijector(
      flow, np.random.default_rng(0).standard_normal((2, 3, 5, 2)),
      closed_form=_conv_closed_form(flow), check_xla=check_xla)


# 4x4x2 forms the series' matrix; 6x6x8 (288 values) convolves, and keeps
# its terms for autodiff: both run every term.
@pytest.mark.parametrize('event_shape,method', [([4, 4, 2], 'matrix'),
                                                ([6, 6, 8], 'series')])
def test_conv_basis_change_meets_its_tolerance(event_shape, method):
  flow = _conv_flow(event_shape, 3, hidden_channels=2 * event_shape[-1],
                    convexp_tolerance=1e-10)
  assert flow.convolution_exponential.method == method
  x = np.random.default_rng(1).standard_normal((3, *event_shape))
  with tfp_convexp.bijectors.recording_terms() as calls:
    got = flow.forward(tf.constant(x)).numpy()
  cap = flow.convolution_exponential.terms
  ran = [int(t) for _, t in calls]
  assert ran and all(t == cap for t in ran), (ran, cap)
  np.testing.assert_allclose(got, _conv_closed_form(flow)(x), rtol=0,
                             atol=1e-8)


@pytest.mark.slow
def test_vector_oracle_fixed_case_xla():
  flow = _vector_flow(5, 1)
  oracle.check_bijector(flow, np.random.default_rng(0).standard_normal((3, 5)),
                        closed_form=_vector_closed_form(flow))


def test_jacobian_of_f_ar_is_triangular_with_the_reported_diagonal():
  f = nets.AutoregressiveResidual(3, 6, conv=True, seed=0,
                                       dtype=tf.float64)
  tfp_convexp.bijectors.perturb_variables(f, 0, 0.5)
  u = tf.constant(np.random.default_rng(1).standard_normal((1, 3, 4, 3)))
  with tf.GradientTape() as tape:
    tape.watch(u)
    out, diag = f(u)
    flat = tf.reshape(out, [-1])
  jac = tape.jacobian(flat, u).numpy().reshape(36, 36)
  np.testing.assert_allclose(np.triu(jac, 1), 0., atol=1e-14)
  np.testing.assert_allclose(np.diag(jac), diag.numpy().reshape(-1), atol=1e-12)
  assert np.abs(diag.numpy()).max() <= 0.5


class _OriginalSylvester(tf.Module):
  """f(u) = R tanh(R~ u + b) with R, R~ upper triangular."""

  def __init__(self, rng, d):
    super().__init__()
    self.r = tf.constant(np.triu(rng.standard_normal((d, d))) * 0.5)
    self.r_tilde = tf.constant(np.triu(rng.standard_normal((d, d))) * 0.5)
    self.b = tf.constant(rng.standard_normal(d))

  def __call__(self, u):
    a = tf.matmul(u, self.r_tilde, transpose_b=True) + self.b
    out = tf.matmul(tf.tanh(a), self.r, transpose_b=True)
    diag = (tf.linalg.diag_part(self.r) * tf.linalg.diag_part(self.r_tilde) *
            (1. - tf.square(tf.tanh(a))))
    return out, diag


def test_original_sylvester_flow_is_a_special_case():
  rng = np.random.default_rng(3)
  d = 5
  f = _OriginalSylvester(rng, d)
  flow = GeneralizedSylvester(d, f_ar=f, dtype=tf.float64)
  flow._generator.assign(tf.zeros([d, d], tf.float64))  # W = Q  pylint: disable=protected-access
  q = _householder(flow._reflections.numpy())  # pylint: disable=protected-access
  x = rng.standard_normal((4, d))
  # van den Berg et al.: z = x + A h(B x + b), A = Q' R, B = R~ Q'^T, Q' = Q^T.
  a_mat, b_mat = q.T @ f.r.numpy(), f.r_tilde.numpy() @ q
  pre = x @ b_mat.T + f.b.numpy()
  want = x + np.tanh(pre) @ a_mat.T
  want_ldj = np.sum(np.log(np.abs(1. + np.diag(f.r.numpy()) *
                                  np.diag(f.r_tilde.numpy()) *
                                  (1. - np.tanh(pre) ** 2))), -1)
  np.testing.assert_allclose(flow.forward(tf.constant(x)), want, atol=1e-12)
  np.testing.assert_allclose(flow.forward_log_det_jacobian(
      tf.constant(x), event_ndims=1), want_ldj, atol=1e-12)
  x_back, _, _ = flow.inverse_with_diagnostics(tf.constant(want))
  np.testing.assert_allclose(x_back, x, atol=1e-10)


def test_newton_needs_fewer_iterations_than_the_plain_fixed_point():
  flow = _conv_flow([8, 8, 4], 5, hidden_channels=16)
  x = tf.constant(np.random.default_rng(0).standard_normal((4, 8, 8, 4)))
  z = flow.forward(x)
  _, newton, residual = flow.inverse_with_diagnostics(z + 0.)
  assert float(residual) <= 1e-12
  # The reference's iteration, u <- v - f_AR(u), to the same residual.
  v = flow._basis(z)  # pylint: disable=protected-access
  u, plain = v, 0
  while plain < 1000:
    out, _ = flow.f_ar(u)
    if np.abs((u + out - v).numpy()).max() <= 1e-12:
      break
    u, plain = v - out, plain + 1
  assert int(newton) < plain, (int(newton), plain)


def test_validate_args_reports_an_unconverged_inverse():
  flow = _conv_flow([4, 4, 2], 0, dtype=tf.float32, hidden_channels=4,
                    max_iterations=1, validate_args=True)
  z = flow.forward(tf.random.stateless_normal([2, 4, 4, 2], seed=[1, 1]))
  _, iterations, residual = flow.inverse_with_diagnostics(z + 0.)
  assert int(iterations) == 1 and float(residual) > 1e-6
  with pytest.raises(tf.errors.InvalidArgumentError, match='did not reach'):
    flow.inverse(z + 0.)


@pytest.mark.parametrize('make,match', [
    (lambda: ConvolutionalSylvester([4, 4, 3], hidden_channels=4),
     'cannot be split evenly into 3'),
    (lambda: GeneralizedSylvester(4, hidden_units=6), 'into 4'),
    (lambda: ConvolutionalSylvester([4, 4, 2], tolerance=2.), 'tolerance'),
    (lambda: GeneralizedSylvester(4, max_iterations=0), 'max_iterations'),
    (lambda: GeneralizedSylvester(4, scale_bound=1.), 'scale_bound'),
    (lambda: GeneralizedSylvester(0), 'event_size'),
])
def test_bad_arguments(make, match):
  with pytest.raises(ValueError, match=match):
    make()


def test_bad_inputs():
  with pytest.raises(ValueError, match=r'\[\.\.\., 4\]'):
    GeneralizedSylvester(4).forward(tf.zeros([2, 5]))
  with pytest.raises(ValueError, match=r'\[\.\.\., 4, 4, 2\]'):
    ConvolutionalSylvester([4, 4, 2]).forward(tf.zeros([2, 4, 4, 3]))


@pytest.mark.parametrize('make,event', [
    (lambda: _vector_flow(5, 3), [5]),
    (lambda: _conv_flow([3, 4, 2], 3, hidden_channels=4), [3, 4, 2])],
    ids=['generalized', 'convolutional'])
def test_tfp_bijector_contract(make, event):
  flow = make()
  x = np.random.default_rng(0).standard_normal((6, *event))
  oracle.check_contract(flow, x)
