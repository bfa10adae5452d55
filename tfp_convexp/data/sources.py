"""Image sets by name: the offline digits and photos, tensorflow-datasets
sets, folders.

`load_images(name, split)` returns `(uint8 [N, H, W, C], num_bins)`; the
whole split is held in memory (CIFAR-10: 150 MB; ImageNet 32x32: 3.9 GB;
ImageNet 64x64: 15.7 GB).
"""

import contextlib
import logging
import os
import re
import shutil
import socket

import numpy as np

from tfp_convexp.data import digits
from tfp_convexp.data import photos

__all__ = ['TFDS_SETS', 'DATASETS', 'load_images', 'folder_images',
           'image_shape_and_bins']

# tensorflow-datasets name -> (train split, test split). The papers'
# "ImageNet 32x32 / 64x64" are the downsampled ImageNet of van den Oord et
# al. (2016), `downsampled_imagenet`; `imagenet_resized` is another resize
# of ImageNet (Chrabaszcz et al., 2017), kept for users who have it.
TFDS_SETS = {
    'mnist': ('train', 'test'),
    'cifar10': ('train', 'test'),
    'downsampled_imagenet/32x32': ('train', 'validation'),
    'downsampled_imagenet/64x64': ('train', 'validation'),
    'imagenet_resized/32x32': ('train', 'validation'),
    'imagenet_resized/64x64': ('train', 'validation'),
}
DATASETS = ('digits', 'photos', 'folder', *TFDS_SETS)
# Where tensorflow-datasets downloads each set from (its builders' URLs).
TFDS_HOSTS = {
    'mnist': 'storage.googleapis.com',
    'cifar10': 'www.cs.toronto.edu',
    'downsampled_imagenet/32x32': 'image-net.org',
    'downsampled_imagenet/64x64': 'image-net.org',
    'imagenet_resized/32x32': 'www.image-net.org',
    'imagenet_resized/64x64': 'www.image-net.org',
}
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg')
# Sets whose tfds feature leaves the image size open (their builder stores
# the original files' bytes unchanged): the size their name says.
_SIZED_BY_NAME = {'downsampled_imagenet/32x32': (32, 32, 3),
                  'downsampled_imagenet/64x64': (64, 64, 3)}


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
      raw = tf.io.read_file(path)
      # decode_image would scale 16 bits to 8 (keep the high byte) unasked.
      if (raw.numpy()[:8] == b'\x89PNG\r\n\x1a\n' and
          raw.numpy()[24:25] == b'\x10'):
        raise ValueError(f'{path} is a 16-bit PNG; the image folder data set '
                         f'holds 8-bit images (256 levels): convert it to 8 '
                         f'bits per channel first.')
      image = tf.io.decode_image(raw, expand_animations=False)
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
    if split == 'test' and len(images) < 10:
      raise ValueError(f'image folder {folder!r} holds {len(images)} images; '
                       f'its test split is every tenth image (the 10th, '
                       f'20th, ... in sorted path order), so it needs at '
                       f'least 10.')
    test = np.arange(len(images)) % 10 == 9
    return images[test if split == 'test' else ~test], 256
  if name not in TFDS_SETS:
    raise ValueError(f'unknown dataset {name!r}; expected one of {DATASETS}.')
  tfds_split = TFDS_SETS[name][0 if split == 'train' else 1]
  return tfds_images(name, tfds_split, data_dir), 256


def tfds_images(name, split, data_dir=None):
  """`uint8 [N, H, W, C]`, the `image` feature of a tensorflow-datasets set,
  prepared first (downloaded, or read from its manual directory) if needed.

  Raises a ValueError saying how to get the set when it cannot be prepared:
  at once when its download host does not answer (tensorflow-datasets would
  retry for minutes), else when the download fails. Either way the folders
  the attempt created are removed.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  # Without tensorflow-datasets' warning that a set not yet prepared has no
  # dataset_info.json: the error below says what is missing.
  with _quieter('absl', logging.ERROR):
    builder = tfds.builder(name, data_dir=data_dir)
    prepared = builder.is_prepared()
  if not prepared:
    with _removed_on_failure(str(builder.data_dir_root), name):
      _prepare(builder, name)
  data = builder.as_dataset(split=split)
  images = [np.asarray(e['image'], np.uint8) for e in tfds.as_numpy(data)]
  return np.stack(images)


@contextlib.contextmanager
def _quieter(logger_name, level):
  logger = logging.getLogger(logger_name)
  saved = logger.level
  logger.setLevel(max(level, logger.getEffectiveLevel()))
  try:
    yield
  finally:
    logger.setLevel(saved)


def _prepare(builder, name):
  host = TFDS_HOSTS.get(name)  # None: a builder of local files
  # tfds.testing.mock_data replaces the download with nothing to fetch.
  mocked = type(builder).download_and_prepare.__module__.startswith(
      'tensorflow_datasets.testing')
  try:
    if host and not mocked:
      socket.create_connection((host, 443), timeout=5).close()
  except OSError as e:
    raise _not_prepared(builder, name, f'its download host {host} does not '
                        f'answer', e) from e
  try:
    builder.download_and_prepare()
  except Exception as e:  # pylint: disable=broad-except
    # Download errors come as many types (DNS, HTTP, checksums, a missing
    # manual directory); all mean the same to the user.
    raise _not_prepared(builder, name, 'could not be prepared', e) from e


def _not_prepared(builder, name, how, cause):
  reason = str(cause).strip().splitlines()[0][:300] if str(cause).strip() else (
      type(cause).__name__)
  return ValueError(
      f'tensorflow-datasets set {name!r} is not in {builder.data_dir} and '
      f'{how} ({type(cause).__name__}: {reason}). Download it first on a '
      f'machine with network: python -c "import tensorflow_datasets as tfds; '
      f'tfds.builder({name!r}, data_dir=\'D\').download_and_prepare()", then '
      f'copy D here and pass --data_dir=D.')


class _removed_on_failure(object):  # pylint: disable=invalid-name
  """Removes what a failed preparation left in tensorflow-datasets' data
  directory `root`: new entries of `root`, of its `downloads` folder and of
  the set's folder (the directory itself, when it did not exist)."""

  def __init__(self, root, name):
    self.folders = [root, os.path.join(root, 'downloads'),
                    os.path.join(root, name.split('/')[0])]
    self.root = root

  def __enter__(self):
    self.before = {f: set(os.listdir(f)) if os.path.isdir(f) else None
                   for f in self.folders}
    return self

  def __exit__(self, kind, value, traceback):
    if kind is None:
      return False
    if self.before[self.root] is None:
      shutil.rmtree(self.root, ignore_errors=True)
      return False
    for folder in reversed(self.folders):
      if self.before[folder] is None or not os.path.isdir(folder):
        continue
      for entry in set(os.listdir(folder)) - self.before[folder]:
        path = os.path.join(folder, entry)
        if os.path.isdir(path):
          shutil.rmtree(path, ignore_errors=True)
        else:
          os.remove(path)
    return False


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
  if name in _SIZED_BY_NAME:
    return _SIZED_BY_NAME[name], 256
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with _quieter('absl', logging.ERROR):
    info = tfds.builder(name, data_dir=data_dir).info
  return tuple(info.features['image'].shape), 256
