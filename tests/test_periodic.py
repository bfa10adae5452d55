import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

import tfp_convexp

from tfp_convexp.bijectors import PeriodicConv
import dense_conv
import oracle


def _layer(shape, seed, kernel_size=3, dtype=tf.float64):
  layer = PeriodicConv(shape, kernel_size=kernel_size, seed=seed, dtype=dtype)
  tfp_convexp.bijectors.perturb_variables(layer, seed, scale=0.1)
  return layer


def _closed_form(layer):
  h, w, _ = layer.event_shape
  m = dense_conv.conv_matrix(layer.kernel.numpy().astype(np.float64), h, w,
                             'CIRCULAR')
  return lambda x: dense_conv.apply_matrix(m, x)


# Many examples: the full suite's; the quick tier runs the fixed cases below.
@pytest.mark.slow
@hypothesis.settings(max_examples=12)
@hypothesis.given(h=st.integers(1, 5), w=st.integers(1, 6), c=st.integers(1, 3),
                  kernel_size=st.sampled_from([1, 3]),
                  dtype=st.sampled_from([tf.float32, tf.float64]),
                  seed=st.integers(0, 2**16))
def test_oracle(h, w, c, kernel_size, dtype, seed):
  hypothesis.assume(kernel_size <= min(h, w))
  layer = _layer([h, w, c], seed, kernel_size, dtype)
  x = np.random.default_rng(seed).standard_normal((2, h, w, c))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer),
                        check_xla=False)


@pytest.mark.parametrize('shape', [[3, 5, 2], [4, 6, 3]])
def test_oracle_xla(shape):
  layer = _layer(shape, seed=1)
  x = np.random.default_rng(0).standard_normal((2, *shape))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer))


def test_translation_equivariance():
  layer = _layer([5, 6, 2], seed=2)
  x = tf.constant(np.random.default_rng(0).standard_normal((1, 5, 6, 2)))
  np.testing.assert_allclose(layer.forward(tf.roll(x, [2, 3], [1, 2])),
                             tf.roll(layer.forward(x + 0.), [2, 3], [1, 2]),
                             atol=1e-12)


def test_validate_args_reports_a_singular_block():
  layer = PeriodicConv([3, 3, 2], validate_args=True)
  layer.forward(tf.zeros([1, 3, 3, 2]))
  layer.kernel.assign(tf.zeros([3, 3, 2, 2]))
  with pytest.raises(tf.errors.InvalidArgumentError, match='singular'):
    layer.inverse(tf.zeros([1, 3, 3, 2]))


@pytest.mark.parametrize('kwargs,match', [
    (dict(kernel_size=2), 'odd'),
    (dict(kernel_size=5), 'larger than the image'),
    (dict(event_shape=[4, 4, 2, 1]), 'event_shape'),
])
def test_bad_arguments(kwargs, match):
  args = dict(event_shape=[4, 4, 2])
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    PeriodicConv(**args)


@hypothesis.given(seed=st.integers(0, 2**31 - 1))
@hypothesis.settings(max_examples=10, deadline=None)
def test_kernel_starts_as_a_rotation_plus_small_noise(seed):
  # The reference's initialisation: a random rotation at the centre tap, so
  # the layer mixes the coupling halves from the first step.
  kernel = PeriodicConv([4, 4, 12], seed=seed, dtype=tf.float64).kernel.numpy()
  centre = kernel[1, 1]
  assert np.abs(centre @ centre.T - np.eye(12)).max() < 0.3
  noise = np.delete(kernel.reshape(9, 12, 12), 4, axis=0)
  assert 0.01 < noise.std() < 0.03
  assert np.sum(centre[:6, 6:] ** 2) > 0.6
  assert PeriodicConv([4, 4, 12], seed=seed).kernel.numpy().tolist() == (
      PeriodicConv([4, 4, 12], seed=seed).kernel.numpy().tolist())
