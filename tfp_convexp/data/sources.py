"""Image sets by name: the offline digits and photos, tensorflow-datasets
sets, folders.

`load_images(name, split)` returns `(images, num_bins)`: the offline sets
as `uint8 [N, H, W, C]` arrays (a few MB), tensorflow-datasets sets and
folders as `records.ImageRecords`, read by example index when used, so a
split of any size starts at once and is never held in memory.
"""

import contextlib
import logging
import os
import shutil
import socket

import numpy as np

from tfp_convexp.data import digits
from tfp_convexp.data import photos
from tfp_convexp.data import records

__all__ = ['TFDS_SETS', 'DATASETS', 'load_images', 'load_labels',
           'class_names', 'folder_images', 'image_shape_and_bins']

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
"""The tensorflow-datasets sets read, name -> (train split, test split)."""
DATASETS = ('digits', 'photos', 'folder', *TFDS_SETS)
"""Every set `load_images` reads by name."""
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


# PIL image modes -> channels of the decoded image (a palette becomes RGB).
_MODE_CHANNELS = {'1': 1, 'L': 1, 'LA': 2, 'RGB': 3, 'RGBA': 4, 'P': 3,
                  'PA': 4, 'CMYK': 4, 'YCbCr': 3}


def _image_paths(folder):
  """The image files under `folder`, sorted: the folder set's order."""
  if not folder or not os.path.isdir(folder):
    raise ValueError(f'image folder {folder!r} does not exist or is not a '
                     f'directory.')
  paths = sorted(
      os.path.join(root, f) for root, _, files in os.walk(folder)
      for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
  if not paths:
    raise ValueError(f'image folder {folder!r} holds no {"/".join(IMAGE_EXTENSIONS)} '
                     f'files.')
  return paths


def folder_images(folder):
  """All PNG/JPEG images under `folder` (sorted paths), as `ImageRecords`
  (`records.py`): read when used, not now.

  Every file's header is checked here (not its pixels): a ValueError names
  the first file that is not a readable 8-bit image or whose size or
  channel count differs from the first file's, or says that the folder is
  missing or empty.
  """
  from PIL import Image  # pylint: disable=g-import-not-at-top
  paths = _image_paths(folder)
  first = None
  for path in paths:
    with open(path, 'rb') as f:
      head = f.read(25)
    # PIL reads a 16-bit RGB PNG as 8 bits; its header says 16 (byte 24).
    if head[:8] == b'\x89PNG\r\n\x1a\n' and head[24:25] == b'\x10':
      raise ValueError(f'{path} is a 16-bit PNG; the image folder data set '
                       f'holds 8-bit images (256 levels): convert it to 8 '
                       f'bits per channel first.')
    try:
      with Image.open(path) as image:
        mode, (width, height) = image.mode, image.size
        transparent = 'transparency' in image.info
    except (OSError, SyntaxError, ValueError) as e:  # PIL's unreadable file
      raise ValueError(f'{path} is not a readable image ({e}); remove or '
                       f'replace it.') from e
    if mode.startswith('I') or mode == 'F':
      raise ValueError(f'{path} is a {mode} image (more than 8 bits); the '
                       f'image folder data set holds 8-bit images (256 '
                       f'levels): convert it to 8 bits per channel first.')
    channels = _MODE_CHANNELS.get(mode, 3) + (mode == 'P' and transparent)
    shape = (height, width, channels)
    if first is None:
      first = (path, shape)
    elif shape != first[1]:
      raise ValueError(f'images in {folder!r} have mixed sizes: {first[0]} is '
                       f'{first[1]} but {path} is {shape} (H, W, C); '
                       f'resize them to one size first.')
  return records.folder_records(paths, first[1])


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
    return images.every_tenth(split == 'test'), 256
  if name not in TFDS_SETS:
    raise ValueError(f'unknown dataset {name!r}; expected one of {DATASETS}.')
  tfds_split = TFDS_SETS[name][0 if split == 'train' else 1]
  return tfds_images(name, tfds_split, data_dir), 256


def class_names(name, data_dir=None, folder=None):
  """The classes of a named set's labels, without reading the labels: the
  digits' ten digits, a folder's subfolders, a tensorflow-datasets set's
  `label` names.

  Raises:
    ValueError: the set has no labels (the photos, tensorflow-datasets sets
      without a `label` feature, images directly in the folder).
  """
  if name == 'digits':
    return _DIGIT_NAMES
  if name == 'folder':
    return _folder_classes(folder)[0]
  return tuple(_tfds_label_feature(name, data_dir)[1].names)


def load_labels(name, split, data_dir=None, folder=None):
  """`(labels int64 [N], class_names)` of a named set's split, in the order
  of `load_images`' images (see `class_names`)."""
  split = _split_name(split)
  if name == 'digits':
    return digits.digits_split(split, labels=True)[1], _DIGIT_NAMES
  if name == 'folder':
    names, parts = _folder_classes(folder)
    labels = np.array([names.index(p[0]) for p in parts], np.int64)
    # The split of `folder_images(...).every_tenth`: the 10th, 20th, ... test.
    test = np.zeros(len(labels), bool)
    test[9::10] = True
    return labels[test if split == 'test' else ~test], names
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  builder, feature = _tfds_label_feature(name, data_dir)
  decoders = None if _mocked(builder) else {
      'image': tfds.decode.SkipDecoding()}  # the labels alone
  data = builder.as_dataset(
      split=TFDS_SETS[name][0 if split == 'train' else 1],
      shuffle_files=False, decoders=decoders)
  labels = np.concatenate([np.asarray(batch) for batch in tfds.as_numpy(
      data.map(lambda e: e['label']).batch(65536))] or [np.zeros([0])])
  return labels.astype(np.int64), tuple(feature.names)


_DIGIT_NAMES = tuple('0123456789')


def _folder_classes(folder):
  """`(class names, each image's path parts under folder)`: a folder's
  classes are the subfolders its images are in."""
  root = os.path.abspath(folder)
  parts = [os.path.relpath(p, root).split(os.sep) for p in _image_paths(folder)]
  loose = [os.path.join(folder, *p) for p in parts if len(p) == 1]
  if loose:
    raise ValueError(f'image folder {folder!r}: class labels come from one '
                     f'subfolder per class, but {loose[0]} (and '
                     f'{len(loose) - 1} more) lie in the folder itself.')
  names = tuple(sorted({p[0] for p in parts}))
  if len(names) < 2:
    raise ValueError(f'image folder {folder!r} holds one class ({names[0]}); '
                     f'a class-conditional model needs at least two '
                     f'subfolders.')
  return names, parts


def _tfds_label_feature(name, data_dir):
  """`(builder, label feature)` of a tensorflow-datasets set (its metadata:
  no example is read)."""
  if name not in TFDS_SETS:
    raise ValueError(f'--dataset={name} has no labels; class labels come '
                     f'with digits, folder (one subfolder per class) and '
                     f'the tensorflow-datasets sets that have a `label` '
                     f'feature.')
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with _quieter('absl', logging.ERROR):
    builder = tfds.builder(name, data_dir=data_dir)
  features = builder.info.features
  feature = features['label'] if 'label' in features.keys() else None
  if not hasattr(feature, 'names'):
    raise ValueError(f'tensorflow-datasets set {name!r} has no class label '
                     f'feature.')
  return builder, feature


def tfds_images(name, split, data_dir=None):
  """The `image` feature of a tensorflow-datasets split as `ImageRecords`,
  the set prepared first (downloaded, or read from its manual directory,
  as ArrayRecord files) if needed.

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
    if not prepared:  # (a prepared set keeps the format it has)
      builder = tfds.builder(name, data_dir=data_dir,
                             file_format='array_record')
  if not prepared:
    with _removed_on_failure(str(builder.data_dir_root), name):
      _prepare(builder, name)
  if _mocked(builder):  # tfds.testing.mock_data: random examples, no files
    data = builder.as_dataset(split=split)
    return np.stack([np.asarray(e['image'], np.uint8)
                     for e in tfds.as_numpy(data)])
  shape = _SIZED_BY_NAME.get(name) or tuple(builder.info.features['image'].shape)
  if None in shape:
    raise ValueError(f'tensorflow-datasets set {name!r} leaves its image size '
                     f'open ({shape}); this package reads sets of one size.')
  return records.tfds_records(builder, split, shape)


def _mocked(builder):
  return type(builder).download_and_prepare.__module__.startswith(
      'tensorflow_datasets.testing')


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
  try:
    # tfds.testing.mock_data replaces the download with nothing to fetch.
    if host and not _mocked(builder):
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
      f'tfds.builder({name!r}, data_dir=\'D\', file_format=\'array_record\')'
      f'.download_and_prepare()", then '
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
    return folder_images(folder).shape[1:], 256  # reads the headers only
  if name not in TFDS_SETS:
    raise ValueError(f'unknown dataset {name!r}; expected one of {DATASETS}.')
  if name in _SIZED_BY_NAME:
    return _SIZED_BY_NAME[name], 256
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with _quieter('absl', logging.ERROR):
    info = tfds.builder(name, data_dir=data_dir).info
  return tuple(info.features['image'].shape), 256
