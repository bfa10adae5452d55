import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

import tfp_convexp

from tfp_convexp import nets
from tfp_convexp.bijectors import AffineCoupling
import oracle


def _closed_form(layer):
  """The coupling formula, applied with the layer's conditioner directly."""
  k = layer._num_masked  # pylint: disable=protected-access

  def apply(x):
    x1, x2 = x[..., :k], x[..., k:]
    h = layer.conditioner(tf.constant(x1, layer.dtype)).numpy()
    raw, shift = np.split(h.astype(np.float64), 2, axis=-1)
    if layer._scale_fn == 'tanh':  # pylint: disable=protected-access
      log_s = 2. * np.tanh(raw / 2.)
    else:
      log_s = -np.logaddexp(0., -(raw + 2.))
    return np.concatenate([x1, x2 * np.exp(log_s) + shift], -1)
  return apply


def _layer(shape, seed, dtype, **kwargs):
  c = shape[-1]
  k = kwargs.pop('num_masked', c // 2)
  net = nets.DenseInResidualNet(k, 2 * (c - k), intermediate_channels=6,
                                depth=2, growth=3, seed=seed, dtype=dtype)
  layer = AffineCoupling(shape, conditioner=net, num_masked=k, dtype=dtype,
                         **kwargs)
  tfp_convexp.bijectors.perturb_variables(layer, seed, scale=0.1)
  return layer


# Many examples: the full suite's; the quick tier runs the fixed cases below.
@pytest.mark.slow
@hypothesis.settings(max_examples=8)
@hypothesis.given(h=st.integers(1, 4), w=st.integers(1, 4), c=st.integers(2, 4),
                  scale_fn=st.sampled_from(['tanh', 'sigmoid']),
                  dtype=st.sampled_from([tf.float32, tf.float64]),
                  seed=st.integers(0, 2**16))
def test_oracle(h, w, c, scale_fn, dtype, seed):
  layer = _layer([h, w, c], seed, dtype, scale_fn=scale_fn)
  x = np.random.default_rng(seed).standard_normal((2, h, w, c))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer),
                        check_xla=False)


def test_oracle_xla_non_square():
  layer = _layer([3, 5, 4], 1, tf.float64, num_masked=1)
  x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer))


def test_default_conditioner_starts_as_identity_and_is_tracked():
  layer = AffineCoupling([4, 4, 6])
  x = tf.random.stateless_normal([2, 4, 4, 6], seed=[1, 1])
  np.testing.assert_allclose(layer.forward(x), x, atol=1e-6)
  assert len(layer.trainable_variables) > 10


def test_one_network_pass_for_output_and_log_det():
  calls = []

  class Counting(tf.Module):
    def __init__(self):
      super().__init__()
      self.w = tf.Variable(tf.zeros([1, 1, 1, 2]))

    def __call__(self, x):
      calls.append(1)
      return tf.nn.conv2d(x, self.w, 1, 'SAME')

  layer = AffineCoupling([2, 2, 2], conditioner=Counting())
  x = tf.ones([3, 2, 2, 2])
  layer.forward(x)
  layer.forward_log_det_jacobian(x, event_ndims=3)
  assert len(calls) == 1


@pytest.mark.parametrize('kwargs,match', [
    (dict(num_masked=0), r'num_masked.*\[1, 2\]'),
    (dict(num_masked=3), r'num_masked.*\[1, 2\]'),
    (dict(scale_fn='exp'), 'scale_fn'),
    (dict(conditioner=3), 'callable'),
])
def test_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    AffineCoupling([2, 2, 3], **kwargs)


def test_conditioner_with_wrong_width():
  net = nets.Conv2D(1, 3, 1)
  layer = AffineCoupling([2, 2, 2], conditioner=net)
  with pytest.raises(ValueError, match=r'must return 2 channels \(a shift and a scale for 1 channels\); it returned 3'):
    layer.forward(tf.zeros([1, 2, 2, 2]))
