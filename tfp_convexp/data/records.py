"""Images read by example index from files, never held whole in memory.

An `ImageRecords` stands where a `uint8 [N, H, W, C]` array would: it has
`len`, `shape`, `dtype` and `ndim`, and `records[i:j]` or `records[index
array]` reads and decodes just those images. The training pipeline reads its
batches' encoded records in a `tf.numpy_function` (`records.read`) and
decodes them with TensorFlow ops (`records.decode`), in parallel and on
every worker for its own replicas' examples only. So start-up time and
memory do not grow with the set.

Sources:
  * a tensorflow-datasets split prepared as ArrayRecord files: read through
    `builder.as_data_source` (serialized `tf.train.Example`s);
  * a split prepared as TFRecord files: converted once, in the split's own
    order, into one ArrayRecord file beside it (written under a temporary
    name and renamed, so a killed conversion leaves nothing that is read,
    and workers converting at once each write a whole file);
  * an image folder: its PNG/JPEG files by sorted path.
"""

import hashlib
import os

import numpy as np

__all__ = ['ImageRecords', 'tfds_records', 'folder_records']

# Images fingerprinted from each end of a split (`ImageRecords.fingerprint`).
_FINGERPRINT_IMAGES = 16


class ImageRecords(object):
  """Random access to the encoded images of a source, or of a view of it.

  Args:
    read: `read(indices)`, a list of the encoded records at `indices` (ints
      into the whole source).
    size: the number of records of the whole source.
    shape: `(H, W, C)` of every image.
    parsed: whether a record is a serialized `tf.train.Example` holding the
      encoded image under `'image'` (tensorflow-datasets) rather than the
      image file's bytes.
    describe: `describe(index)`, a name of record `index` for error
      messages (a file path), or None.
  """

  dtype = np.dtype(np.uint8)
  """The images' dtype, as a NumPy array's."""
  ndim = 4
  """`[N, H, W, C]`, as a NumPy array's."""

  def __init__(self, read, size, shape, parsed, describe=None):
    self._read, self._size, self._parsed = read, size, parsed
    self._describe = describe
    self._image_shape = tuple(int(d) for d in shape)
    self._len = size
    self._source_index = lambda index: index  # these -> the source's
    self._decode_fn = None

  def __len__(self):
    return self._len

  @property
  def shape(self):
    """`(N, H, W, C)`, as a NumPy array's."""
    return (len(self),) + self._image_shape

  def _view(self, length, source_index):
    view = ImageRecords(self._read, self._size, self._image_shape,
                        self._parsed, self._describe)
    inner = self._source_index
    view._len = length  # pylint: disable=protected-access
    view._source_index = lambda index: inner(source_index(index))  # pylint: disable=protected-access
    return view

  def rows(self, start, stop):
    """Records `start:stop` of these, without reading them."""
    start, stop, _ = slice(start, stop).indices(len(self))
    return self._view(max(stop - start, 0), lambda index: index + start)

  def every_tenth(self, tenth):
    """The 10th, 20th, ... records (`tenth`), or all others, unread."""
    if tenth:
      return self._view(len(self) // 10, lambda index: index * 10 + 9)
    return self._view(len(self) - len(self) // 10,
                      lambda index: index // 9 * 10 + index % 9)

  def read(self, index):
    """The encoded records at `index` (ints into these), as an object array
    of bytes."""
    index = np.asarray(index, np.int64).reshape([-1])
    if index.size and (index.min() < 0 or index.max() >= len(self)):
      raise IndexError(f'record index out of range [0, {len(self)}).')
    out = np.empty(index.size, object)
    out[:] = self._read([int(i) for i in self._source_index(index)])
    return out

  def decode(self, encoded):
    """TensorFlow ops: `uint8 [B, H, W, C]` images of `encoded`, a string
    tensor `[B]` of records. An image of another size fails with an error
    naming the size expected."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if self._parsed:
      encoded = tf.io.parse_example(
          encoded, {'image': tf.io.FixedLenFeature([], tf.string)})['image']
    height, width, channels = self._image_shape

    def one(data):
      image = tf.io.decode_image(data, channels=channels,
                                 expand_animations=False, dtype=tf.uint8)
      tf.debugging.assert_equal(
          tf.shape(image), tf.constant([height, width, channels]),
          message=f'an image is not of the set\'s size {self._image_shape} '
                  f'(H, W, C)')
      return tf.ensure_shape(image, self._image_shape)

    return tf.map_fn(one, encoded, fn_output_signature=tf.TensorSpec(
        self._image_shape, tf.uint8))

  def __getitem__(self, key):
    """Images `key` (a slice, or ints into these) as `uint8 [B, H, W, C]`;
    one int: `[H, W, C]`."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if isinstance(key, (int, np.integer)):
      return self[[key]][0]
    if isinstance(key, slice):
      key = np.arange(*key.indices(len(self)))
    if self._decode_fn is None:
      self._decode_fn = tf.function(self.decode)
    encoded = self.read(key)
    if not len(encoded):
      return np.zeros((0,) + self._image_shape, np.uint8)
    try:
      return self._decode_fn(tf.constant(list(encoded))).numpy()
    except tf.errors.InvalidArgumentError as e:
      raise ValueError(self._explain(key, e)) from e

  def _explain(self, index, error):
    """Which of `index` failed to decode, and why, in a sentence."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    for i in np.asarray(index).reshape([-1]):
      try:
        self.decode(tf.constant(list(self.read([i]))))
      except tf.errors.InvalidArgumentError as e:
        at = int(self._source_index(np.int64(i)))
        name = (self._describe(at) if self._describe else f'record {at}')
        reason = e.message.splitlines()[0].split(' Condition')[0]
        return (f'{name} cannot be read as a {self._image_shape} image '
                f'({reason}).')
    return error.message.splitlines()[0]

  def fingerprint(self):
    """A digest of the source's size and of its first and last images'
    records: what a resume checks the data against, without reading the
    whole set."""
    digest = hashlib.sha256(repr((len(self), self._image_shape)).encode())
    ends = sorted(set(range(min(_FINGERPRINT_IMAGES, len(self)))) | set(
        range(max(len(self) - _FINGERPRINT_IMAGES, 0), len(self))))
    for record in self.read(ends):
      digest.update(record)
    return digest.hexdigest()


def tfds_records(builder, split, shape):
  """`ImageRecords` of a prepared tensorflow-datasets split, from its
  ArrayRecord files, or from a one-time ArrayRecord copy of its TFRecord
  files."""
  from tensorflow_datasets.core import file_adapters  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  size = builder.info.splits[split].num_examples
  if file_adapters.FileFormat.ARRAY_RECORD in (
      builder.info.available_file_formats()):
    source = builder.as_data_source(
        split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES,
        file_format=file_adapters.FileFormat.ARRAY_RECORD)
    return ImageRecords(source.__getitems__, size, shape, parsed=True)
  path = os.path.join(str(builder.data_dir),
                      f'{builder.name}-{split}.tfp_convexp.array_record')
  if not os.path.exists(path):
    _convert(builder, split, path)
  return _array_record_file(path, size, shape)


def _array_record_file(path, size, shape):
  from array_record.python import array_record_data_source  # pylint: disable=g-import-not-at-top
  source = array_record_data_source.ArrayRecordDataSource([path])
  if len(source) != size:
    raise ValueError(f'{path} holds {len(source)} records, not the split\'s '
                     f'{size}; remove it and run again to convert the split '
                     f'anew.')
  return ImageRecords(source.__getitems__, size, shape, parsed=True)


def _convert(builder, split, path):
  """Copies the split's serialized examples, in order, from its TFRecord
  shards into one ArrayRecord file at `path`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from array_record.python import array_record_module  # pylint: disable=g-import-not-at-top
  shards = [str(p) for p in builder.info.splits[split].filepaths]
  partial = f'{path}.partial-{os.getpid()}'
  try:
    # One record per chunk: a read decompresses only its own record.
    writer = array_record_module.ArrayRecordWriter(partial, 'group_size:1')
    for record in tf.data.TFRecordDataset(shards).as_numpy_iterator():
      writer.write(record)
    writer.close()
    os.replace(partial, path)
  except BaseException as e:
    if os.path.exists(partial):
      os.remove(partial)
    if isinstance(e, OSError):
      raise ValueError(
          f'cannot write the random-access copy of {builder.name}\'s {split} '
          f'split beside it ({path}: {e.strerror}); run once where its data '
          f'directory is writable.') from e
    raise


def folder_records(paths, shape):
  """`ImageRecords` of image files (their bytes, decoded when read)."""

  def read(indices):
    out = []
    for i in indices:
      with open(paths[i], 'rb') as f:
        out.append(f.read())
    return out

  return ImageRecords(read, len(paths), shape, parsed=False,
                      describe=lambda i: paths[i])
