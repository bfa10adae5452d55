import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

from tfp_convexp.bijectors import Squeeze
import oracle


def _numpy_squeeze(x, f):
  b, h, w, c = x.shape
  x = x.reshape(b, h // f, f, w // f, f, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, h // f, w // f, f * f * c)


@pytest.mark.slow
@hypothesis.settings(max_examples=6)
@hypothesis.given(f=st.sampled_from([2, 3]), h=st.integers(1, 2),
                  w=st.integers(1, 3), c=st.integers(1, 3),
                  dtype=st.sampled_from([tf.float32, tf.float64]))
def test_oracle(f, h, w, c, dtype):
  x = tf.constant(np.random.default_rng(0).standard_normal(
      (2, h * f, w * f, c)), dtype)
  squeeze = Squeeze(f)
  oracle.check_bijector(squeeze, x, closed_form=lambda v: _numpy_squeeze(v, f),
                        has_variables=False)


def test_oracle_fixed_case():
  x = tf.constant(np.random.default_rng(0).standard_normal((2, 4, 6, 2)))
  oracle.check_bijector(Squeeze(2), x, closed_form=lambda v: _numpy_squeeze(v, 2),
                        has_variables=False)


def test_event_shapes():
  squeeze = Squeeze(2)
  assert squeeze.forward_event_shape([6, 4, 3]) == [3, 2, 12]
  assert squeeze.inverse_event_shape([3, 2, 12]) == [6, 4, 3]
  assert squeeze.forward_event_shape([None, 4, 3]).as_list() == [None, 2, 12]
  np.testing.assert_array_equal(
      squeeze.forward_event_shape_tensor(tf.constant([6, 4, 3])), [3, 2, 12])
  assert squeeze.forward(tf.zeros([2, 3, 6, 4, 3])).shape == [2, 3, 3, 2, 12]


def test_bad_input():
  with pytest.raises(ValueError, match='int >= 2'):
    Squeeze(1)
  with pytest.raises(ValueError, match='height must be divisible by 2'):
    Squeeze(2).forward(tf.zeros([1, 3, 4, 1]))
  with pytest.raises(ValueError, match='channel count divisible by 4'):
    Squeeze(2).inverse(tf.zeros([1, 2, 2, 3]))
  with pytest.raises(ValueError, match=r'\[\.\.\., H, W, C\]'):
    Squeeze(2).forward(tf.zeros([4, 4]))
