"""The offline natural-image set: 16x16 colour patches of public-domain photos.

The photographs are the colour ones that scikit-image 0.26 ships inside its
wheel (`skimage/data/`), each released into the public domain or under CC0
(`PHOTOS_LICENSE.md` beside this file names source and licence of each).
They are read from the installed package, so nothing is downloaded:
`pip install 'tfp_convexp[photos]'` (or the test extra) installs it.

How the patches are cut, per photograph:
  1. box-average by the smallest integer factor that brings its longer side
     to at most 384 pixels (so a patch spans a region as large, relative to
     the photo, as a CIFAR image's object does);
  2. cut the largest grid of non-overlapping 16x16 patches from the top-left;
  3. drop nearly flat patches (pixel standard deviation below 2 levels: the
     black surround of the retina, the studio background of the astronaut).

Train and test are split by photograph, so no test patch neighbours a
training patch: `chelsea` (a cat) and `rocket` (a launch scene) are the
test photographs.
"""

import hashlib
import importlib.util
import os

import numpy as np

__all__ = ['NUM_BINS', 'IMAGE_SHAPE', 'PHOTOS', 'TEST_PHOTOS', 'photo',
           'photo_patches', 'photos_split']

NUM_BINS = 256
IMAGE_SHAPE = (16, 16, 3)
_PATCH = 16
_LONGER_SIDE = 384
_FLAT_STD = 2.

# File in skimage/data -> sha256 of the file in scikit-image 0.26.0.
PHOTOS = {
    'astronaut': ('astronaut.png',
        '88431cd9653ccd539741b555fb0a46b6'
        '1558b301d4110412b5bc28b5e3ea6cb5'),
    'chelsea': ('chelsea.png',
        '596aa1e7cb875eb79f437e310381d26b'
        '338a81c2da23439704a73c4651e8c4bb'),
    'coffee': ('coffee.png',
        'cc02f8ca188b167c775a7101b5d767d1'
        'e71792cf762c33d6fa15a4599b5a8de7'),
    'hubble_deep_field': ('hubble_deep_field.jpg',
        '3a19c5dd8a927a9334bb1229a6d63711'
        'b1c0c767fb27e2286e7c84a3e2c2f5f4'),
    'ihc': ('ihc.png',
        'f8dd1aa387ddd1f49d8ad13b50921b23'
        '7df8e9b262606d258770687b0ef93cef'),
    'retina': ('retina.jpg',
        '38a07f36f27f095e818aea7b96d34202'
        'c05176d30253c66733f2e00379e9e0e6'),
    'rocket': ('rocket.jpg',
        'c2dd0de7c538df8d111e479619b12946'
        '4d0269d0ae5fd18ca91d33a7fdfea95c'),
}
TEST_PHOTOS = ('chelsea', 'rocket')


def _skimage_data_dir():
  spec = importlib.util.find_spec('skimage')
  if spec is None or not spec.submodule_search_locations:
    raise ValueError(
        "--dataset=photos reads the photographs that scikit-image ships; "
        "install it with `pip install 'tfp_convexp[photos]'` (scikit-image "
        "0.26).")
  return os.path.join(list(spec.submodule_search_locations)[0], 'data')


def photo(name):
  """One photograph, `uint8 [H, W, 3]`, checked against its sha256."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if name not in PHOTOS:
    raise ValueError(f'unknown photograph {name!r}; expected one of '
                     f'{tuple(PHOTOS)}.')
  filename, digest = PHOTOS[name]
  path = os.path.join(_skimage_data_dir(), filename)
  try:
    with open(path, 'rb') as f:
      raw = f.read()
  except OSError as e:
    raise ValueError(f'{path} cannot be read ({e.strerror}); the photos set '
                     f'needs scikit-image 0.26, whose wheel holds it.') from e
  if hashlib.sha256(raw).hexdigest() != digest:
    raise ValueError(f'{path} is not the file of scikit-image 0.26 (sha256 '
                     f'differs); install scikit-image 0.26 for the photos '
                     f'set.')
  image = tf.io.decode_image(raw, channels=3, expand_animations=False)
  return image.numpy()


def photo_patches(image):
  """The non-flat 16x16 patches of one photograph, `uint8 [N, 16, 16, 3]`."""
  factor = -(-max(image.shape[:2]) // _LONGER_SIDE)
  h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
  small = image[:h, :w].astype(np.float64).reshape(
      h // factor, factor, w // factor, factor, 3).mean(axis=(1, 3))
  small = np.floor(small + 0.5)
  rows, cols = small.shape[0] // _PATCH, small.shape[1] // _PATCH
  patches = small[:rows * _PATCH, :cols * _PATCH].reshape(
      rows, _PATCH, cols, _PATCH, 3).transpose(0, 2, 1, 3, 4).reshape(
          -1, _PATCH, _PATCH, 3)
  keep = patches.reshape(len(patches), -1).std(axis=1) >= _FLAT_STD
  return patches[keep].astype(np.uint8)


def photos_split(split):
  """`'train'` (patches of every photograph but `TEST_PHOTOS`) or `'test'`,
  `uint8 [N, 16, 16, 3]`, photographs in `PHOTOS` order, patches row-major."""
  if split not in ('train', 'test'):
    raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
  names = [n for n in PHOTOS if (n in TEST_PHOTOS) == (split == 'test')]
  return np.concatenate([photo_patches(photo(n)) for n in names])
