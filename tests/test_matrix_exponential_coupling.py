import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

import tfp_convexp

from tfp_convexp import nets
from tfp_convexp.bijectors import AffineCoupling
from tfp_convexp.bijectors import MatrixExponentialCoupling
import oracle


def _layer(shape, seed, dtype, rank=None, num_masked=None, **kwargs):
  c = shape[-1]
  k = c - c // 2 if num_masked is None else num_masked
  c2 = c - k
  outputs = c2 + (c2 * c2 if rank is None else 2 * rank * c2)
  net = nets.ResidualConvNet(k + kwargs.get('context_channels', 0), outputs,
                             hidden_channels=6, num_blocks=1, seed=seed,
                             dtype=dtype)
  layer = MatrixExponentialCoupling(shape, conditioner=net, num_masked=k,
                                    rank=rank, dtype=dtype, **kwargs)
  tfp_convexp.bijectors.perturb_variables(layer, seed, scale=0.3)
  return layer


def _closed_form(layer, context=None):
  """scipy's expm of the matrix built from the conditioner's output."""
  k, rank = layer._num_masked, layer.rank  # pylint: disable=protected-access

  def apply(x):
    inputs = x[..., :k] if context is None else np.concatenate(
        [x[..., :k], context], -1)
    h = layer.conditioner(tf.constant(inputs, layer.dtype)).numpy()
    c2 = x.shape[-1] - k
    shift, raw = h[..., :c2], h[..., c2:]
    r, s, b, o = (float(v.numpy()) for v in (
        layer._out_scale, layer._in_scale, layer._in_shift, layer._out_shift))  # pylint: disable=protected-access
    raw = r * np.tanh(s * raw + b) + o
    out = np.array(x, np.float64)
    for idx in np.ndindex(*x.shape[:-1]):
      if rank is None:
        a = raw[idx].reshape(c2, c2)
      else:
        a = raw[idx][:rank * c2].reshape(c2, rank) @ raw[idx][rank * c2:].reshape(
            rank, c2)
      out[idx][k:] = scipy.linalg.expm(a) @ x[idx][k:] + shift[idx]
    return out
  return apply


# Many examples: the full suite's; the quick tier runs the fixed cases below.
@pytest.mark.slow
@hypothesis.settings(max_examples=6)
@hypothesis.given(h=st.integers(1, 3), w=st.integers(1, 4), c=st.integers(2, 5),
                  low_rank=st.booleans(),
                  dtype=st.sampled_from([tf.float32, tf.float64]),
                  seed=st.integers(0, 2**16))
def test_oracle(h, w, c, low_rank, dtype, seed):
  layer = _layer([h, w, c], seed, dtype, rank=2 if low_rank else None)
  x = np.random.default_rng(seed).standard_normal((2, h, w, c))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer),
                        check_xla=False)


@pytest.mark.parametrize('rank', [None, pytest.param(2, marks=pytest.mark.slow)])
def test_oracle_xla_non_square(rank):
  layer = _layer([3, 5, 5], 3, tf.float64, rank=rank, num_masked=2)
  x = np.random.default_rng(0).standard_normal((2, 3, 5, 5))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer))


def test_context_keyword():
  layer = _layer([2, 3, 4], 5, tf.float64, context_channels=3)
  rng = np.random.default_rng(1)
  x, context = rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((2, 2, 3, 3))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer, context),
                        check_xla=False, kwargs={'context': context})
  with pytest.raises(ValueError, match='needs a `context` keyword'):
    layer.forward(x)


def test_diagonal_matrix_is_affine_coupling():
  """With A diagonal the layer is affine coupling with log-scale diag A."""
  shape, k = [3, 4, 4], 2
  rng = np.random.default_rng(0)

  class Net(tf.Module):
    def __init__(self, shift, log_scale):
      super().__init__()
      self.shift, self.log_scale = shift, log_scale

    def __call__(self, x1):
      del x1
      return self.out

  shift = rng.standard_normal((2, 3, 4, 2))
  log_scale = 0.3 * rng.standard_normal((2, 3, 4, 2))
  # A = tanh(raw) with the scalars set to (1, 1, 0, 0): raw = artanh(log_s).
  raw = np.zeros((2, 3, 4, 2, 2))
  raw[..., 0, 0], raw[..., 1, 1] = np.arctanh(log_scale[..., 0]), np.arctanh(
      log_scale[..., 1])
  mef_net = Net(None, None)
  mef_net.out = tf.constant(np.concatenate([shift, raw.reshape(2, 3, 4, 4)], -1))
  mef = MatrixExponentialCoupling(shape, conditioner=mef_net, num_masked=k,
                                  dtype=tf.float64)
  for v, value in zip((mef._out_scale, mef._in_scale, mef._in_shift,  # pylint: disable=protected-access
                       mef._out_shift), (1., 1., 0., 0.)):  # pylint: disable=protected-access
    v.assign(value)
  affine_net = Net(None, None)
  affine_net.out = tf.constant(np.concatenate(
      [20. * np.arctanh(log_scale / 20.), shift], -1))
  affine = AffineCoupling(shape, conditioner=affine_net, num_masked=k,
                          log_scale_range=20., dtype=tf.float64)
  x = tf.constant(rng.standard_normal((2, 3, 4, 4)))
  np.testing.assert_allclose(mef.forward(x), affine.forward(x), atol=1e-12)
  np.testing.assert_allclose(
      mef.forward_log_det_jacobian(x, event_ndims=3),
      affine.forward_log_det_jacobian(x, event_ndims=3), atol=1e-12)


def test_default_starts_as_identity_with_mef_sizes():
  layer = MatrixExponentialCoupling([4, 4, 6], hidden_channels=8, num_blocks=2)
  assert layer.rank is None and layer.num_outputs == 3 + 9
  wide = MatrixExponentialCoupling([2, 2, 64], hidden_channels=8, num_blocks=1)
  assert wide.rank == 3 and wide.num_outputs == 32 + 2 * 3 * 32
  x = tf.random.stateless_normal([2, 4, 4, 6], seed=[1, 1])
  np.testing.assert_allclose(layer.forward(x), x, atol=1e-6)
  assert len(layer.trainable_variables) == 4 + 2 * (1 + 3 * 2 + 1)


def test_bad_arguments():
  with pytest.raises(ValueError, match='num_masked'):
    MatrixExponentialCoupling([2, 2, 4], num_masked=4)
  with pytest.raises(ValueError, match='rank'):
    MatrixExponentialCoupling([2, 2, 4], rank=0)
  with pytest.raises(ValueError, match=r'expected a tensor of shape \[\.\.\., 2, 2, 4\]'):
    MatrixExponentialCoupling([2, 2, 4], hidden_channels=4,
                              num_blocks=1).forward(tf.zeros([1, 2, 2, 3]))
