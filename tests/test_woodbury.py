import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

import tfp_convexp

from tfp_convexp.bijectors import Woodbury
import oracle


def _closed_form(layer):
  """W_s x W_c^T with dense N x N and C x C matrices."""
  h, w, c = layer.event_shape
  mats = {}
  for axis, size in (('channel', c), ('spatial', h * w)):
    found = {var.name.split('/')[-1].split(':')[0]: var.numpy()
             for var in layer.variables}
    u, v = found.get(f'{axis}_u'), found.get(f'{axis}_v')
    mats[axis] = np.eye(size) if u is None else np.eye(size) + u @ v
  return lambda x: np.einsum('nm,bmc,dc->bnd', mats['spatial'],
                             x.reshape(len(x), h * w, c),
                             mats['channel']).reshape(x.shape)


# Many examples: the full suite's; the quick tier runs the fixed cases below.
@pytest.mark.slow
@hypothesis.settings(max_examples=12)
@hypothesis.given(h=st.integers(1, 4), w=st.integers(1, 4), c=st.integers(1, 4),
                  channel_rank=st.integers(0, 4), spatial_rank=st.integers(0, 6),
                  dtype=st.sampled_from([tf.float32, tf.float64]),
                  seed=st.integers(0, 2**16))
def test_oracle(h, w, c, channel_rank, spatial_rank, dtype, seed):
  channel_rank, spatial_rank = min(channel_rank, c), min(spatial_rank, h * w)
  hypothesis.assume(channel_rank or spatial_rank)
  layer = Woodbury([h, w, c], rank=(channel_rank, spatial_rank), seed=seed,
                   dtype=dtype)
  tfp_convexp.bijectors.perturb_variables(layer, seed, scale=0.3)
  x = np.random.default_rng(seed).standard_normal((2, h, w, c))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer),
                        check_xla=False)


def test_oracle_xla_non_square():
  layer = Woodbury([3, 5, 4], rank=(2, 6), seed=1, dtype=tf.float64)
  tfp_convexp.bijectors.perturb_variables(layer, 1, scale=0.3)
  x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer))


def test_validate_args_reports_a_singular_update():
  layer = Woodbury([2, 2, 2], rank=(1, 0), validate_args=True)
  layer.forward(tf.zeros([1, 2, 2, 2]))
  u, v = layer.trainable_variables[:2]
  u.assign([[1.], [0.]])
  v.assign([[-1., 0.]])  # I + V U = 0
  with pytest.raises(tf.errors.InvalidArgumentError, match='singular'):
    layer.inverse(tf.zeros([1, 2, 2, 2]))


@pytest.mark.parametrize('rank,match', [
    ((5, 2), r'channel rank must lie in \[0, 4\]'),
    ((1, 10), r'spatial rank must lie in \[0, 9\]'),
    ((0, 0), 'at least one positive'),
    ('8', 'int or a pair'),
])
def test_bad_rank(rank, match):
  with pytest.raises(ValueError, match=match):
    Woodbury([3, 3, 4], rank=rank)
