import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

import tfp_convexp

from tfp_convexp.bijectors import EmergingConv
from tfp_convexp.ops import autoregressive_conv as ar
import dense_conv
import oracle


def _as_same_kernel(kernel):
  """An m x m autoregressive kernel as a (2m-1)^2 'SAME' kernel (centre = its
  bottom-right tap), so tests can build its matrix independently."""
  m = kernel.shape[0]
  big = np.zeros((2 * m - 1, 2 * m - 1) + kernel.shape[2:])
  big[:m, :m] = kernel
  return big


def _closed_form(layer):
  h, w, _ = layer.event_shape
  k1, k2 = (k.numpy().astype(np.float64) for k in layer.kernels())
  b1, b2 = (v.numpy() for v in layer._biases)  # pylint: disable=protected-access
  m1 = dense_conv.conv_matrix(_as_same_kernel(k1), h, w)
  # F A_2 F is the convolution with the spatially flipped kernel.
  m2 = dense_conv.conv_matrix(_as_same_kernel(k2)[::-1, ::-1], h, w)
  return lambda x: dense_conv.apply_matrix(m2, dense_conv.apply_matrix(
      m1, x) + b1) + b2


def _layer(shape, seed, kernel_size=3, dtype=tf.float64):
  layer = EmergingConv(shape, kernel_size=kernel_size, seed=seed, dtype=dtype)
  tfp_convexp.bijectors.perturb_variables(layer, seed, scale=0.2)
  return layer


# Many examples: the full suite's; the quick tier runs the fixed cases below.
@pytest.mark.slow
@hypothesis.settings(max_examples=10)
@hypothesis.given(h=st.integers(1, 5), w=st.integers(1, 5), c=st.integers(1, 3),
                  kernel_size=st.sampled_from([1, 3, 5]),
                  dtype=st.sampled_from([tf.float32, tf.float64]),
                  seed=st.integers(0, 2**16))
def test_oracle(h, w, c, kernel_size, dtype, seed):
  layer = _layer([h, w, c], seed, kernel_size, dtype)
  x = np.random.default_rng(seed).standard_normal((2, h, w, c))
  # A 1x1 kernel on one channel has no free off-diagonal weight.
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer),
                        check_xla=False,
                        nonzero_gradients=kernel_size > 1 or c > 1)


@pytest.mark.parametrize('dtype', [tf.float32, tf.float64])
def test_oracle_xla_non_square(dtype):
  layer = _layer([3, 5, 2], seed=1, dtype=dtype)
  x = np.random.default_rng(0).standard_normal((2, 3, 5, 2))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer))


def test_receptive_field_is_k_by_k():
  layer = _layer([7, 7, 1], seed=2, kernel_size=3)
  x = np.zeros((1, 7, 7, 1))
  x[0, 3, 3, 0] = 1.
  response = layer.forward(tf.constant(x)).numpy()[0, :, :, 0]
  response -= layer.forward(tf.zeros([1, 7, 7, 1], tf.float64)).numpy()[0, :, :, 0]
  rows, cols = np.nonzero(np.abs(response) > 1e-12)
  assert rows.min() == 2 and rows.max() == 4 and cols.min() == 2 and cols.max() == 4


@pytest.mark.parametrize('h,w', [(4, 6), (1, 1), (1, 4), (4, 1), (2, 2)])
def test_inverse_of_one_autoregressive_conv_against_dense_solve(h, w):
  rng = np.random.default_rng(0)
  kernel = rng.standard_normal((3, 3, 2, 2)) * ar.ar_kernel_mask(3, 2)
  kernel[2, 2] += 2. * np.eye(2)
  z = rng.standard_normal((2, h, w, 2))
  m = dense_conv.conv_matrix(_as_same_kernel(kernel), h, w)
  want = np.linalg.solve(m, z.reshape(2, -1).T).T.reshape(z.shape)
  got = ar.ar_conv_inverse(tf.constant(z), tf.constant(kernel)).numpy()
  np.testing.assert_allclose(got, want, atol=1e-12)
  # The Jacobian is triangular in raster order with the centre diagonal.
  np.testing.assert_allclose(np.triu(m, 1), 0.)


@pytest.mark.parametrize('init_scale', [0.02, 0.5])
def test_initial_taps_have_the_init_scale(init_scale):
  """Free taps (off the centre, and below the centre's diagonal) are drawn
  with standard deviation `init_scale`; the centre diagonal starts at 1."""
  c = 16
  layer = EmergingConv([4, 4, c], init_scale=init_scale, seed=0)
  mask = ar.ar_kernel_mask(2, c).astype(bool)
  np.fill_diagonal(mask[1, 1], False)
  for kernel in layer.kernels():
    free = kernel.numpy()[mask]
    assert free.size == 3 * c * c + c * (c - 1) // 2
    assert abs(free.std() / init_scale - 1.) < 0.05
    np.testing.assert_array_equal(np.diag(kernel.numpy()[1, 1]), 1.)
  zero = EmergingConv([4, 4, c], init_scale=0., seed=0)
  np.testing.assert_array_equal(zero.forward(tf.ones([1, 4, 4, c])), 1.)


@pytest.mark.parametrize('init_scale', [-0.1, float('inf'), float('nan'),
                                        True, '0.1'])
def test_bad_init_scale(init_scale):
  with pytest.raises(ValueError, match='`init_scale` must be a finite'):
    EmergingConv([4, 4, 2], init_scale=init_scale)


@pytest.mark.parametrize('kernel_size', [0, 2, 4, 3.])
def test_bad_kernel_size(kernel_size):
  with pytest.raises(ValueError, match='odd positive int'):
    EmergingConv([4, 4, 2], kernel_size=kernel_size)


def test_bad_inputs():
  layer = EmergingConv([4, 4, 2])
  with pytest.raises(ValueError, match=r'\[\.\.\., 4, 4, 2\]'):
    layer.inverse(tf.zeros([1, 4, 5, 2]))
  layer = EmergingConv([2, 2, 1], validate_args=True)
  with pytest.raises(tf.errors.InvalidArgumentError, match='non-finite'):
    layer.forward(tf.fill([1, 2, 2, 1], np.inf))
