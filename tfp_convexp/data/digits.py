"""The offline default data set: 1,797 real 8x8 handwritten digits.

The images are the UCI "Optical Recognition of Handwritten Digits" test set
(E. Alpaydin and C. Kaynak, 1998; CC BY 4.0) as redistributed by scikit-learn
(`sklearn.datasets.load_digits`). Each pixel counts the "on" pixels of a 4x4
block of a 32x32 bitmap, so it takes one of 17 values, 0..16. See
`DIGITS_LICENSE.md` beside this file.
"""

import importlib.resources

import numpy as np

__all__ = ['NUM_BINS', 'IMAGE_SHAPE', 'load_digits', 'digits_split']

NUM_BINS = 17
"""Pixel levels of the digits, 0 to 16."""
IMAGE_SHAPE = (8, 8, 1)
"""`(H, W, C)` of a digit."""
_TEST_SIZE = 297  # 1,500 training images


def load_digits():
  """All 1,797 images, `uint8 [N, 8, 8, 1]` in [0, 16], and `int [N]` labels."""
  with importlib.resources.files(__package__).joinpath('digits.npz').open('rb') as f:
    data = np.load(f)
    return data['images'][..., None], data['labels'].astype(np.int64)


def digits_split(split, labels=False):
  """A fixed split: `'train'` (1,500 images) or `'test'` (297 images); with
  `labels`, `(images, labels)`, the digit each image shows."""
  if split not in ('train', 'test'):
    raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
  images, digit = load_digits()
  order = np.random.default_rng(0).permutation(len(images))
  index = np.sort(order[-_TEST_SIZE:] if split == 'test' else
                  order[:-_TEST_SIZE])
  return (images[index], digit[index]) if labels else images[index]
