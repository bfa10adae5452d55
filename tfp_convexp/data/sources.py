"""Image sets by name: the offline digits and photos, tensorflow-datasets
sets, folders.

`load_images(name, split)` returns `(uint8 [N, H, W, C], num_bins)`; the
whole split is held in memory (CIFAR-10: 150 MB; ImageNet 32x32: 3.9 GB;
ImageNet 64x64: 15.7 GB).
"""

import os
import re

import numpy as np

from tfp_convexp.data import digits
from tfp_convexp.data import photos

__all__ = ['TFDS_SETS', 'DATASETS', 'load_images', 'folder_images',
           'image_shape_and_bins']

# tensorflow-datasets name -> (train split, test split).
TFDS_SETS = {
    'mnist': ('train', 'test'),
    'cifar10': ('train', 'test'),
    'imagenet_resized/32x32': ('train', 'validation'),
    'imagenet_resized/64x64': ('train', 'validation'),
}
DATASETS = ('digits', 'photos', 'folder', *TFDS_SETS)
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg')


def _split_name(split):
  if split not in ('train', 'test'):
    raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
  return split


def folder_images(folder):
  """All PNG/JPEG images under `folder` (sorted paths), as `uint8 [N, H, W, C]`.

  Raises a ValueError when the folder is missing or empty, or when the images
  do not all have the same size and channel count.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not folder or not os.path.isdir(folder):
    raise ValueError(f'image folder {folder!r} does not exist or is not a '
                     f'directory.')
  paths = sorted(
      os.path.join(root, f) for root, _, files in os.walk(folder)
      for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
  if not paths:
    raise ValueError(f'image folder {folder!r} holds no {"/".join(IMAGE_EXTENSIONS)} '
                     f'files.')
  images, first = [], None
  for path in paths:
    try:
      image = tf.io.decode_image(tf.io.read_file(path),
                                 expand_animations=False)
    except tf.errors.OpError as e:
      reason = re.sub(r'\{\{.*?\}\}\s*|\s*\[Op:.*$', '',
                      e.message.splitlines()[0])
      raise ValueError(f'{path} is not a readable image ({reason}); remove '
                       f'or replace it.') from e
    image = image.numpy()
    if first is None:
      first = (path, image.shape)
    elif image.shape != first[1]:
      raise ValueError(f'images in {folder!r} have mixed sizes: {first[0]} is '
                       f'{first[1]} but {path} is {image.shape} (H, W, C); '
                       f'resize them to one size first.')
    images.append(image)
  return np.stack(images).astype(np.uint8)


def load_images(name, split, data_dir=None, folder=None):
  """`(images uint8 [N, H, W, C], num_bins)` of a named set.

  Args:
    name: one of `DATASETS`: `'digits'` (offline, 17 levels), `'photos'`
      (offline 16x16 colour patches, needs scikit-image), `'folder'`
      (every tenth image of `folder` is the test split), or a
      tensorflow-datasets name in `TFDS_SETS`.
    split: `'train'` or `'test'`.
    data_dir: tensorflow-datasets' data directory.
    folder: the image folder, for `name='folder'`.
  """
  split = _split_name(split)
  if name == 'digits':
    return digits.digits_split(split), digits.NUM_BINS
  if name == 'photos':
    return photos.photos_split(split), photos.NUM_BINS
  if name == 'folder':
    images = folder_images(folder)
    test = np.arange(len(images)) % 10 == 9
    return images[test if split == 'test' else ~test], 256
  if name not in TFDS_SETS:
    raise ValueError(f'unknown dataset {name!r}; expected one of {DATASETS}.')
  tfds_split = TFDS_SETS[name][0 if split == 'train' else 1]
  return tfds_images(name, tfds_split, data_dir), 256


def tfds_images(name, split, data_dir=None):
  """`uint8 [N, H, W, C]`, the `image` feature of a tensorflow-datasets set,
  prepared first (downloaded, or read from its manual directory) if needed.

  Raises a ValueError saying how to get the set when it cannot be prepared
  (no network, no manual download).
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  builder = tfds.builder(name, data_dir=data_dir)
  if not builder.is_prepared():
    try:
      builder.download_and_prepare()
    except Exception as e:  # pylint: disable=broad-except
      # Download errors come as many types (DNS, HTTP, checksums, a missing
      # manual directory); all mean the same to the user.
      reason = str(e).strip().splitlines()[0][:300] if str(e).strip() else (
          type(e).__name__)
      raise ValueError(
          f'tensorflow-datasets set {name!r} is not in {builder.data_dir} and '
          f'could not be prepared ({type(e).__name__}: {reason}). Download '
          f'it first on a machine with network: python -c "import '
          f'tensorflow_datasets as tfds; tfds.builder({name!r}, '
          f'data_dir=\'D\').download_and_prepare()", then copy D here and '
          f'pass --data_dir=D.') from e
  data = builder.as_dataset(split=split)
  images = [np.asarray(e['image'], np.uint8) for e in tfds.as_numpy(data)]
  return np.stack(images)


def image_shape_and_bins(name, data_dir=None, folder=None):
  """`(H, W, C)` and the number of levels of a named set, without loading
  the tensorflow-datasets sets' images."""
  if name == 'digits':
    return digits.IMAGE_SHAPE, digits.NUM_BINS
  if name == 'photos':
    return photos.IMAGE_SHAPE, photos.NUM_BINS
  if name == 'folder':
    return folder_images(folder).shape[1:], 256
  if name not in TFDS_SETS:
    raise ValueError(f'unknown dataset {name!r}; expected one of {DATASETS}.')
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  info = tfds.builder(name, data_dir=data_dir).info
  return tuple(info.features['image'].shape), 256
