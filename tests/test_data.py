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


def test_photos_are_split_by_photograph():
  from tfp_convexp.data import photos  # pylint: disable=g-import-not-at-top
  train, bins = data.load_images('photos', 'train')
  test, _ = data.load_images('photos', 'test')
  assert bins == 256 and data.image_shape_and_bins('photos') == ((16, 16, 3), 256)
  assert train.shape == (1491, 16, 16, 3) and test.shape == (386, 16, 16, 3)
  assert train.dtype == test.dtype == np.uint8
  # Each split is exactly the patches of its photographs.
  per_photo = {n: photos.photo_patches(photos.photo(n)) for n in photos.PHOTOS}
  np.testing.assert_array_equal(
      test, np.concatenate([per_photo[n] for n in photos.TEST_PHOTOS]))
  assert sum(len(p) for p in per_photo.values()) == len(train) + len(test)
  # Natural images: every patch has texture, and the set spans the range.
  assert train.reshape(len(train), -1).std(axis=1).min() >= 2.
  assert train.min() == 0 and train.max() == 255
  np.testing.assert_array_equal(train, photos.photos_split('train'))


def test_photo_patches_are_box_averages_without_flat_ones():
  from tfp_convexp.data import photos  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  # 800 x 400: averaged by 3 (800 / 3 <= 384), to 266 x 133: 16 x 8 patches.
  image = rng.integers(0, 256, (800, 400, 3)).astype(np.uint8)
  image[:48, :48] = 7  # the first patch (after averaging) is flat
  patches = photos.photo_patches(image)
  assert patches.shape == (16 * 8 - 1, 16, 16, 3)
  second = image[:48, 48:96].astype(float).reshape(16, 3, 16, 3, 3).mean((1, 3))
  np.testing.assert_array_equal(patches[0], np.floor(second + 0.5))


def test_photos_refuse_a_different_file(monkeypatch):
  from tfp_convexp.data import photos  # pylint: disable=g-import-not-at-top
  monkeypatch.setitem(photos.PHOTOS, 'chelsea', ('chelsea.png', '0' * 64))
  with pytest.raises(ValueError, match='not the file of scikit-image 0.26'):
    photos.photo('chelsea')
  with pytest.raises(ValueError, match="unknown photograph 'lena'"):
    photos.photo('lena')


def test_tfds_sets_load_through_mock_data():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  for name, shape in (('mnist', (28, 28, 1)), ('cifar10', (32, 32, 3)),
                      ('imagenet_resized/32x32', (32, 32, 3)),
                      ('imagenet_resized/64x64', (64, 64, 3))):
    with tfds.testing.mock_data(num_examples=3):
      images, bins = data.load_images(name, 'test')
      assert images.shape == (3, *shape) and images.dtype == np.uint8
      assert bins == 256
      assert data.image_shape_and_bins(name) == (shape, 256)
  # The papers' ImageNet: a feature of open size (mock images vary in size).
  for size in (32, 64):
    assert data.image_shape_and_bins(f'downsampled_imagenet/{size}x{size}') == (
        (size, size, 3), 256)


def test_a_tfds_set_prepared_from_local_files(tmp_path):
  """The real tensorflow-datasets path (builder, download_and_prepare, as
  dataset), with a builder whose 'download' is a local manual directory."""
  import importlib  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  # tfds finds a builder's files through its package: install the module
  # as a package for this test.
  package = tmp_path / 'packages' / 'local_tiny_images_builder'
  package.mkdir(parents=True)
  source = os.path.join(os.path.dirname(__file__), 'local_tfds.py')
  (package / '__init__.py').write_text(open(source).read())
  sys.path.insert(0, str(tmp_path / 'packages'))
  try:
    importlib.import_module('local_tiny_images_builder')
  finally:
    sys.path.pop(0)
  data_dir = tmp_path / 'tfds'
  with pytest.raises(ValueError, match=r"set 'local_tiny_images' is not in .* "
                                       r"could not be prepared .*Download it "
                                       r"first"):
    data.sources.tfds_images('local_tiny_images', 'train', str(data_dir))
  pictures = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), np.uint8)
  for split, chosen in (('train', pictures[:3]), ('test', pictures[3:])):
    folder = data_dir / 'downloads' / 'manual' / split
    folder.mkdir(parents=True)
    for i, picture in enumerate(chosen):
      tf.io.write_file(str(folder / f'{i}.png'), tf.io.encode_png(picture))
  def as_set(images):  # tfds orders examples by a hash of their keys
    return sorted(image.tobytes() for image in images)

  train = data.sources.tfds_images('local_tiny_images', 'train', str(data_dir))
  assert isinstance(train, data.ImageRecords)  # read by index, when used
  assert train.shape == (3, 8, 8, 3) and train.dtype == np.uint8
  assert as_set(train[:]) == as_set(pictures[:3])
  # Prepared as ArrayRecord files, read through tfds' own data source.
  assert any('array_record' in f for f in os.listdir(
      data_dir / 'local_tiny_images' / '1.0.0'))
  test = data.sources.tfds_images('local_tiny_images', 'test', str(data_dir))
  assert as_set(test[:]) == as_set(test[np.arange(2)]) == as_set(pictures[3:])
  np.testing.assert_array_equal(test[[1, 0]], test[:][::-1])
  # A set tensorflow-datasets prepared as TFRecord files is copied once, in
  # its own order, into an ArrayRecord file beside them, and read from it.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  old_dir = tmp_path / 'tfrecord'
  tfds.builder('local_tiny_images', data_dir=str(old_dir)).download_and_prepare(
      download_config=tfds.download.DownloadConfig(
          manual_dir=str(data_dir / 'downloads' / 'manual')))
  version = old_dir / 'local_tiny_images' / '1.0.0'
  in_order = [e['image'] for e in tfds.as_numpy(tfds.builder(
      'local_tiny_images', data_dir=str(old_dir)).as_dataset('train'))]
  copied = data.sources.tfds_images('local_tiny_images', 'train', str(old_dir))
  np.testing.assert_array_equal(copied[:], np.stack(in_order))
  assert sorted(f for f in os.listdir(version) if 'tfp_convexp' in f) == [
      'local_tiny_images-train.tfp_convexp.array_record']


def test_folder_images_and_their_errors(tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  pictures = rng.integers(0, 256, (12, 4, 6, 3)).astype(np.uint8)
  for i, picture in enumerate(pictures):
    tf.io.write_file(str(tmp_path / f'{i:02d}.png'), tf.io.encode_png(picture))
  (tmp_path / 'readme.txt').write_text('not an image')
  np.testing.assert_array_equal(data.folder_images(str(tmp_path))[:],
                                pictures)
  train, bins = data.load_images('folder', 'train', folder=str(tmp_path))
  test, _ = data.load_images('folder', 'test', folder=str(tmp_path))
  assert (len(train), len(test), bins) == (11, 1, 256)
  np.testing.assert_array_equal(test[:], pictures[9:10])
  np.testing.assert_array_equal(train[:], np.delete(pictures, 9, axis=0))
  np.testing.assert_array_equal(train.rows(8, 10)[:], pictures[[8, 10]])
  with pytest.raises(ValueError, match='does not exist'):
    data.folder_images(str(tmp_path / 'missing'))
  empty = tmp_path / 'empty'
  empty.mkdir()
  with pytest.raises(ValueError, match='holds no'):
    data.folder_images(str(empty))
  tf.io.write_file(str(tmp_path / '99.png'), tf.io.encode_png(pictures[0][:2]))
  with pytest.raises(ValueError, match=r'mixed sizes: .*00.png is \(4, 6, 3\) '
                                       r'but .*99.png is \(2, 6, 3\)'):
    data.folder_images(str(tmp_path))
  with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
    data.load_images('svhn', 'train')
