import numpy as np
import pytest

from tfp_convexp import data


def test_digits_are_the_real_images():
  images, labels = data.load_digits()
  assert images.shape == (1797, 8, 8, 1) and images.dtype == np.uint8
  assert images.min() == 0 and images.max() == 16
  assert np.bincount(labels).min() >= 170  # ten balanced classes
  # The mean image is a blurred digit: dark border columns, bright centre.
  mean = images[..., 0].mean(axis=0)
  assert mean[:, 0].max() < 1. and mean[2:6, 3:5].min() > 5.


def test_digits_split_is_fixed_and_disjoint():
  train, test = data.digits_split('train'), data.digits_split('test')
  assert len(train) == 1500 and len(test) == 297
  np.testing.assert_array_equal(train, data.digits_split('train'))
  rows = {t.tobytes() for t in train}
  assert sum(t.tobytes() in rows for t in test) < 10  # only exact duplicates
  with pytest.raises(ValueError, match="'train' or 'test'"):
    data.digits_split('validation')
