"""The functional ops behind the bijectors, against dense references."""

import math

import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from tfp_convexp import ops
import dense_conv


@hypothesis.given(b=st.floats(0.01, 3.), tol=st.floats(1e-15, 0.5))
def test_series_terms_is_smallest_certified(b, tol):
  terms = ops.exp_series_terms(b, tol)
  assert ops.exp_series_tail_bound(b, terms) <= tol
  if terms > 0:
    assert ops.exp_series_tail_bound(b, terms - 1) > tol


@hypothesis.given(b=st.floats(0.01, 3.), terms=st.integers(0, 30))
def test_tail_bound_bounds_the_tail(b, terms):
  tail = math.fsum(math.exp(k * math.log(b) - math.lgamma(k + 1))
                   for k in range(terms + 1, 150))
  assert tail <= ops.exp_series_tail_bound(b, terms) * (1 + 1e-12)


@pytest.mark.parametrize('b,tol', [(0., 1e-3), (1., 0.), (1., 1.), (50., 1e-30)])
def test_series_terms_rejects(b, tol):
  with pytest.raises(ValueError):
    ops.exp_series_terms(b, tol)


@hypothesis.settings(max_examples=30)
@hypothesis.given(h=st.integers(1, 5), w=st.integers(1, 5), c=st.integers(1, 3),
                  k=st.sampled_from([1, 3, 5]),
                  padding=st.sampled_from(['SAME', 'CIRCULAR']),
                  seed=st.integers(0, 2**16))
def test_operator_norm_bound_is_an_upper_bound(h, w, c, k, padding, seed):
  if padding == 'CIRCULAR':
    hypothesis.assume(k <= min(h, w))
  kernel = np.random.default_rng(seed).standard_normal((k, k, c, c))
  true_norm = np.linalg.norm(dense_conv.conv_matrix(kernel, h, w, padding), 2)
  bound = float(ops.conv_operator_norm_bound(tf.constant(kernel), (h, w),
                                             padding, iterations=8))
  assert bound >= true_norm * (1 - 1e-12)
  if padding == 'CIRCULAR':  # exact but for the Gram slack c^(1/512)
    assert bound <= true_norm * c**(1 / 512) * (1 + 1e-12)


@hypothesis.given(n=st.integers(1, 6), iterations=st.integers(0, 8),
                  complex_=st.booleans(), seed=st.integers(0, 2**16))
def test_gram_bound_and_its_slack(n, iterations, complex_, seed):
  rng = np.random.default_rng(seed)
  a = rng.standard_normal((3, n, n))
  if complex_:
    a = a + 1j * rng.standard_normal((3, n, n))
  sigma = np.linalg.norm(a, 2, axis=(-2, -1))
  bound = ops.gram_spectral_norm_bound(tf.constant(a), iterations).numpy()
  assert np.all(bound >= sigma * (1 - 1e-12))
  assert np.all(bound <= sigma * n**(1 / 2**(iterations + 1)) * (1 + 1e-12))


def test_conv_symbol_diagonalises_circular_convolution():
  rng = np.random.default_rng(0)
  kernel = rng.standard_normal((3, 5, 2, 3))
  x = rng.standard_normal((1, 4, 6, 2))
  m = dense_conv.conv_matrix(kernel, 4, 6, 'CIRCULAR')
  y = (x.reshape(1, -1) @ m.T).reshape(1, 4, 6, 3)  # C_out != C_in here
  symbol = ops.conv_symbol(tf.constant(kernel), (4, 6)).numpy()
  spec_x = np.fft.rfft2(x, axes=(1, 2))
  spec_y = np.fft.rfft2(y, axes=(1, 2))
  np.testing.assert_allclose(np.einsum('uvoi,buvi->buvo', symbol, spec_x),
                             spec_y, atol=1e-12)


@hypothesis.settings(max_examples=15)
@hypothesis.given(h=st.integers(1, 4), w=st.integers(1, 5), c=st.integers(1, 3),
                  k=st.sampled_from([1, 3]),
                  padding=st.sampled_from(['SAME', 'CIRCULAR']),
                  seed=st.integers(0, 2**16))
def test_conv_exp_equals_dense_expm(h, w, c, k, padding, seed):
  if padding == 'CIRCULAR':
    hypothesis.assume(k <= min(h, w))
  rng = np.random.default_rng(seed)
  kernel = 0.3 * rng.standard_normal((k, k, c, c))
  x = rng.standard_normal((2, h, w, c))
  m = dense_conv.conv_matrix(kernel, h, w, padding)
  want = dense_conv.apply_matrix(scipy.linalg.expm(m), x)
  got = ops.conv_exp(tf.constant(x), tf.constant(kernel), 40, padding).numpy()
  np.testing.assert_allclose(got, want, atol=1e-12)
  back = ops.inverse_conv_exp(tf.constant(got), tf.constant(kernel), 40,
                              padding).numpy()
  np.testing.assert_allclose(back, x, atol=1e-12)
  np.testing.assert_allclose(ops.conv_exp_log_det(kernel, (h, w)).numpy(),
                             np.trace(m), atol=1e-12)
  if padding == 'CIRCULAR':
    fourier = ops.conv_exp_fourier(tf.constant(x), tf.constant(kernel)).numpy()
    np.testing.assert_allclose(fourier, want, atol=1e-12)
  matrix = ops.conv_exp_matrix(tf.constant(x), tf.constant(kernel), 40,
                               padding).numpy()
  np.testing.assert_allclose(matrix, want, atol=1e-12)
  np.testing.assert_allclose(
      ops.inverse_conv_exp_matrix(tf.constant(matrix), tf.constant(kernel), 40,
                                  padding), x, atol=1e-12)


@hypothesis.settings(max_examples=15)
@hypothesis.given(h=st.integers(1, 4), w=st.integers(1, 5),
                  c_in=st.integers(1, 3), c_out=st.integers(1, 3),
                  k=st.sampled_from([1, 3, 5]),
                  padding=st.sampled_from(['SAME', 'CIRCULAR']),
                  seed=st.integers(0, 2**16))
def test_conv_matrix_is_the_convolution(h, w, c_in, c_out, k, padding, seed):
  rng = np.random.default_rng(seed)
  kernel = rng.standard_normal((k, k, c_in, c_out))
  # Checked against the test's own entry-by-entry matrix, wrapping taps too.
  want = dense_conv.conv_matrix(kernel, h, w, padding).T
  np.testing.assert_allclose(
      ops.conv_matrix(tf.constant(kernel), (h, w), padding), want, atol=1e-14)


@hypothesis.settings(max_examples=20)
@hypothesis.given(size=st.integers(1, 6), terms=st.integers(0, 20),
                  scale=st.sampled_from([0.1, 1., 3.]),
                  seed=st.integers(0, 2**16))
def test_exp_series_matrix_is_the_truncated_series(size, terms, scale, seed):
  a = scale * np.random.default_rng(seed).standard_normal((size, size))
  want, power = np.zeros_like(a), np.eye(size)
  for k in range(terms + 1):
    want += power / math.factorial(k)
    power = power @ a
  np.testing.assert_allclose(ops.exp_series_matrix(tf.constant(a), terms),
                             want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def _kernel_of_norm(rng, k, c, h, w, padding, norm):
  """A random `[k, k, c, c]` kernel whose certified norm bound is `norm`."""
  kernel = rng.standard_normal((k, k, c, c))
  bound = ops.conv_operator_norm_bound(tf.constant(kernel), (h, w), padding)
  return kernel * norm / bound.numpy()


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(h=st.integers(1, 4), w=st.integers(1, 5), c=st.integers(1, 3),
                  k=st.sampled_from([1, 3]),
                  padding=st.sampled_from(['SAME', 'CIRCULAR']),
                  fraction=st.floats(0.01, 1.), tolerance=st.sampled_from(
                      [1e-2, 1e-4, 1e-6, 1e-9, 1e-12]),
                  seed=st.integers(0, 2**16))
def test_stopping_series_certifies_its_tolerance(h, w, c, k, padding,
                                                 fraction, tolerance, seed):
  if padding == 'CIRCULAR':
    hypothesis.assume(k <= min(h, w))
  rng = np.random.default_rng(seed)
  norm_bound = 0.95
  kernel = _kernel_of_norm(rng, k, c, h, w, padding, fraction * norm_bound)
  # Examples of very different sizes: the stop must hold for each.
  x = rng.standard_normal((3, h, w, c)) * np.array([1e-3, 1., 1e3])[
      :, None, None, None]
  cap = ops.exp_series_terms(norm_bound, tolerance)
  got, ran = ops.conv_exp_and_terms(tf.constant(x), tf.constant(kernel), cap,
                                    padding, norm_bound=norm_bound,
                                    tolerance=tolerance)
  expm = scipy.linalg.expm(dense_conv.conv_matrix(kernel, h, w, padding))
  want = dense_conv.apply_matrix(expm, x)
  # The matrix form runs the cap's whole series: certified as well.
  matrix = ops.conv_exp_matrix(tf.constant(x), tf.constant(kernel), cap,
                               padding).numpy()
  for g, m, e, xi in zip(got.numpy(), matrix, want, x):
    assert np.linalg.norm(g - e) <= tolerance * np.linalg.norm(xi)
    assert np.linalg.norm(m - e) <= tolerance * np.linalg.norm(xi)
  assert 0 <= int(ran) <= cap
  # The stopped series is the fixed series of the length that ran.
  np.testing.assert_allclose(
      got, ops.conv_exp(tf.constant(x), tf.constant(kernel), int(ran),
                        padding), rtol=1e-14, atol=0)
  back, back_ran = ops.inverse_conv_exp_and_terms(
      got, tf.constant(kernel), cap, padding, norm_bound=norm_bound,
      tolerance=tolerance)
  assert 0 <= int(back_ran) <= cap
  np.testing.assert_allclose(back, x, rtol=0,
                             atol=3 * tolerance * np.abs(x).max())


def test_stopping_series_stops_early_and_at_the_cap():
  rng = np.random.default_rng(0)
  x = tf.constant(rng.standard_normal((2, 4, 4, 3)))
  small = tf.constant(_kernel_of_norm(rng, 3, 3, 4, 4, 'SAME', 0.05))
  _, ran = ops.conv_exp_and_terms(x, small, 16, norm_bound=0.95,
                                  tolerance=1e-14)
  assert int(ran) < 16
  # A kernel past the norm bound it claims: the cap still ends the loop.
  large = 200. * small
  _, ran = ops.conv_exp_and_terms(x, large, 16, norm_bound=0.95,
                                  tolerance=1e-14)
  assert int(ran) == 16
  # A zero input needs no terms at all.
  _, ran = ops.conv_exp_and_terms(tf.zeros_like(x), small, 16,
                                  norm_bound=0.95, tolerance=1e-14)
  assert int(ran) == 0


@pytest.mark.parametrize('padding', ['SAME', 'CIRCULAR'])
@pytest.mark.parametrize('scale', [1., 0.])
def test_stopping_series_gradient_is_the_full_series_gradient(padding, scale):
  """The stop certifies the value at this input; the derivative needs the
  whole operator (at a zero input no term runs, yet the derivative must
  be exp(M)'s, not the identity)."""
  rng = np.random.default_rng(3)
  kernel = tf.constant(_kernel_of_norm(rng, 3, 2, 4, 3, padding, 0.4))
  x = tf.constant(scale * rng.standard_normal((2, 4, 3, 2)))
  cotangent = tf.constant(rng.standard_normal((2, 4, 3, 2)))
  grads = []
  for kwargs in [dict(norm_bound=0.95, tolerance=1e-8), {},
                 dict(norm_bound=0.95, tolerance=1e-8,
                      recompute_gradient=False)]:
    with tf.GradientTape() as tape:
      tape.watch([x, kernel])
      y, ran = ops.conv_exp_and_terms(x, kernel, 12, padding, **kwargs)
    grads.append(tape.gradient(y, [x, kernel], output_gradients=cotangent))
    if kwargs.get('tolerance') and kwargs.get('recompute_gradient', True):
      assert int(ran) < 12
    else:  # without the custom gradient there is no stop
      assert int(ran) == 12
  for other in grads[1:]:
    for a, b in zip(grads[0], other):
      np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_stopping_series_unrolls_under_xla():
  rng = np.random.default_rng(4)
  kernel = tf.constant(_kernel_of_norm(rng, 3, 2, 4, 4, 'SAME', 0.1))
  x = tf.constant(rng.standard_normal((2, 4, 4, 2)))

  def loss_and_grads(x, kernel):
    with tf.GradientTape() as tape:
      tape.watch([x, kernel])
      y, ran = ops.conv_exp_and_terms(x, kernel, 9, norm_bound=0.95,
                                      tolerance=1e-6)
      loss = tf.reduce_sum(tf.sin(y))
    return ran, tape.gradient(loss, [x, kernel])

  eager_ran, eager = loss_and_grads(x, kernel)
  xla_ran, xla = tf.function(loss_and_grads, jit_compile=True)(x, kernel)
  assert int(eager_ran) < 9 and int(xla_ran) == 9
  for a, b in zip(eager, xla):  # both within the tolerance of exp(M)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('kwargs,match', [
    (dict(tolerance=1e-6), 'needs `norm_bound`'),
    (dict(norm_bound=0.9, tolerance=1.5), 'must lie in'),
    (dict(norm_bound=-1., tolerance=1e-6), 'needs `norm_bound`')])
def test_stopping_series_rejects(kwargs, match):
  with pytest.raises(ValueError, match=match):
    ops.conv_exp(tf.zeros([1, 2, 2, 1]), tf.zeros([1, 1, 1, 1]), 3, **kwargs)


@pytest.mark.slow
@hypothesis.settings(max_examples=15)
@hypothesis.given(terms=st.integers(0, 12),
                  padding=st.sampled_from(['SAME', 'CIRCULAR']),
                  seed=st.integers(0, 2**16))
def test_recomputed_gradient_equals_autodiff(terms, padding, seed):
  rng = np.random.default_rng(seed)
  kernel = tf.constant(0.4 * rng.standard_normal((3, 3, 2, 2)))
  x = tf.constant(rng.standard_normal((2, 4, 3, 2)))
  cotangent = tf.constant(rng.standard_normal((2, 4, 3, 2)))
  grads = []
  for recompute in (True, False):
    with tf.GradientTape() as tape:
      tape.watch([x, kernel])
      y = ops.conv_exp(x, kernel, terms, padding, recompute_gradient=recompute)
    grads.append(tape.gradient(y, [x, kernel], output_gradients=cotangent,
                               unconnected_gradients="zero"))
  for a, b in zip(*grads):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_recomputed_gradient_compiles_under_xla():
  kernel = tf.random.stateless_normal([3, 3, 3, 3], seed=[1, 1]) * 0.1
  x = tf.random.stateless_normal([2, 5, 4, 3], seed=[2, 2])

  def loss_and_grads(x, kernel):
    with tf.GradientTape() as tape:
      tape.watch([x, kernel])
      loss = tf.reduce_sum(tf.sin(ops.conv_exp(x, kernel, 7)))
    return tape.gradient(loss, [x, kernel])

  eager = loss_and_grads(x, kernel)
  xla = tf.function(loss_and_grads, jit_compile=True)(x, kernel)
  for a, b in zip(eager, xla):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@hypothesis.given(n=st.integers(1, 6), scale=st.sampled_from([1e-3, 0.3, 3., 30.]),
                  complex_=st.booleans(), seed=st.integers(0, 2**16))
def test_expm_matches_scipy(n, scale, complex_, seed):
  rng = np.random.default_rng(seed)
  a = scale * rng.standard_normal((2, n, n))
  if complex_:
    a = a + 1j * scale * rng.standard_normal((2, n, n))
  want = np.stack([scipy.linalg.expm(m) for m in a])
  got = ops.expm(tf.constant(a)).numpy()
  np.testing.assert_allclose(got, want, rtol=1e-12 * max(1., scale * n),
                             atol=1e-12 * np.abs(want).max())


def test_expm_gradient_compiles_under_xla():
  a = tf.constant(np.random.default_rng(0).standard_normal((3, 4, 4)))

  def grad(a):
    with tf.GradientTape() as tape:
      tape.watch(a)
      loss = tf.reduce_sum(ops.expm(a) ** 2)
    return tape.gradient(loss, a)

  eager = grad(a)
  np.testing.assert_allclose(tf.function(grad, jit_compile=True)(a), eager,
                             rtol=1e-10)
  # Against tf.linalg.expm's own (non-XLA) gradient.
  with tf.GradientTape() as tape:
    tape.watch(a)
    loss = tf.reduce_sum(tf.linalg.expm(a) ** 2)
  np.testing.assert_allclose(eager, tape.gradient(loss, a), rtol=1e-8)


@pytest.mark.parametrize('complex_', [False, True])
def test_expm_frechet_gradient_matches_tf_and_crosses_the_xla_boundary(complex_):
  """The gradient equals tf.linalg.expm's, also for complex matrices (the
  Fourier path), and a jit-compiled forward can be differentiated by a tape
  outside XLA (what a training step with an XLA loss does)."""
  rng = np.random.default_rng(1)
  a = 2. * rng.standard_normal((3, 5, 5))
  w = rng.standard_normal((3, 5, 5))
  if complex_:
    a, w = a + 1j * rng.standard_normal(a.shape), w - 1j * w
  a, w = tf.constant(a), tf.constant(w)

  def loss(fn, m):
    return tf.math.real(tf.reduce_sum(w * fn(m)))

  grads = []
  for fn in (ops.expm, tf.linalg.expm, tf.function(ops.expm, jit_compile=True)):
    with tf.GradientTape() as tape:
      tape.watch(a)
      value = loss(fn, a)
    grads.append(tape.gradient(value, a).numpy())
  np.testing.assert_allclose(grads[0], grads[1], rtol=1e-9, atol=1e-9)
  np.testing.assert_allclose(grads[2], grads[1], rtol=1e-9, atol=1e-9)


def test_norm_bound_is_cheap_and_exact_enough_for_wide_and_1x1_kernels():
  """The Gram iteration squares on the smaller side and a 1x1 kernel is
  certified at one frequency; both still bound the dense norm from above."""
  rng = np.random.default_rng(2)
  for shape in [(3, 3, 2, 7), (3, 3, 7, 2), (1, 1, 5, 5), (1, 1, 3, 6)]:
    kernel = rng.standard_normal(shape)
    bound = float(ops.conv_operator_norm_bound(tf.constant(kernel), (4, 5)))
    dense = dense_conv.conv_matrix(kernel, 4, 5, 'SAME')
    sigma = np.linalg.norm(dense, 2)
    assert sigma <= bound <= sigma * 1.05, (shape, sigma, bound)
    if shape[:2] == (1, 1):  # real Gram steps, the complex symbol's value
      np.testing.assert_allclose(bound, float(tf.reduce_max(
          ops.gram_spectral_norm_bound(ops.conv_symbol(kernel, (1, 1))))),
                                 rtol=1e-13)
  wide = rng.standard_normal((3, 3, 40, 4))
  np.testing.assert_allclose(
      ops.gram_spectral_norm_bound(tf.constant(ops.conv_symbol(wide, (6, 6)))),
      ops.gram_spectral_norm_bound(tf.linalg.adjoint(ops.conv_symbol(wide, (6, 6)))),
      rtol=1e-10)


@pytest.mark.parametrize('padding, out_hw', [('SAME', (4, 6)),
                                             ('CIRCULAR', (4, 6)),
                                             ('VALID', (2, 4))])
@pytest.mark.parametrize('dtype', [tf.float32, tf.float64])
def test_conv2d_keeps_its_shape_for_an_empty_batch(padding, out_hw, dtype):
  """oneDNN's float32 convolution (TF 2.21 on AVX-512 CPUs) returns an empty
  batch in the input's shape; `ops.conv2d` returns the convolution's, eagerly
  and in a graph traced for the empty batch."""
  kernel = tf.ones([3, 3, 3, 5], dtype)
  traced = tf.function(lambda t: ops.conv2d(t, kernel, padding))
  for batch in (0, 2):
    x = tf.ones([batch, 4, 6, 3], dtype)
    assert ops.conv2d(x, kernel, padding).shape == (batch, *out_hw, 5)
    assert traced(x).shape == (batch, *out_hw, 5)


@pytest.mark.parametrize('padding', ['SAME', 'CIRCULAR'])
def test_conv2d_gradients_in_xla_control_flow(padding):
  """In an XLA loop body or branch `conv2d` differentiates by forward
  convolutions; its first and second derivatives are TensorFlow's."""
  rng = np.random.default_rng(5)
  x = tf.constant(rng.standard_normal([2, 4, 5, 3]))
  w = tf.constant(rng.standard_normal([2, 4, 5, 2]))
  kernel = tf.Variable(rng.standard_normal([3, 3, 3, 2]))

  def derivatives(conv):
    with tf.GradientTape() as outer:
      with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        inner = tf.reduce_sum(w * tf.sin(conv(x, kernel)))
      dx, dk = tape.gradient(inner, [x, kernel])
      second = tf.reduce_sum(dx * x)
    return dx, dk, outer.gradient(second, kernel)

  def reference(t, k):
    t = ops.circular_pad(t, 1, 1) if padding == 'CIRCULAR' else t
    return tf.nn.conv2d(t, k, 1, 'VALID' if padding == 'CIRCULAR' else 'SAME')

  def in_branch():
    return tf.cond(tf.reduce_sum(x) < np.inf,
                   lambda: derivatives(lambda t, k: ops.conv2d(t, k, padding)),
                   lambda: (x, tf.zeros_like(kernel), tf.zeros_like(kernel)))

  expected = derivatives(reference)
  for got in (tf.function(in_branch, jit_compile=True)(),
              tf.function(lambda: tf.while_loop(
                  lambda i, *_: i < 1, lambda i, *_: (i + 1, *in_branch()),
                  (0, x, tf.zeros_like(kernel), tf.zeros_like(kernel))
              )[1:], jit_compile=True)()):
    for a, b in zip(got, expected):
      np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
