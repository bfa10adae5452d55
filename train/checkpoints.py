"""Checkpoints found from their files, written atomically, never reused.

A checkpoint is `ckpt-<step>.index` plus its data files. The store reads
what is on disk, not TensorFlow's `checkpoint` state file, so a lost or
corrupt state file loses nothing. A save writes into a scratch folder and
renames the files into place, index last, so a process killed mid-write
leaves no `.index` and hence no half checkpoint. A checkpoint that does not
read back whole (truncated, flipped bytes, missing data) is moved into
`corrupt/` with a message, and the next older one is used.
"""

import math
import os
import re
import shutil

import tensorflow as tf

_NAME = re.compile(r'^ckpt-(\d+)\.index$')
_DATA = re.compile(r'^ckpt-(\d+)\.data-')
CORRUPT_DIR = 'corrupt'


class CorruptCheckpoint(Exception):
  pass


def numbers(directory):
  """Step numbers of the checkpoints in `directory` that have an index."""
  if not tf.io.gfile.isdir(directory):
    return []
  found = [_NAME.match(name) for name in tf.io.gfile.listdir(directory)]
  return sorted(int(m.group(1)) for m in found if m)


def prefix(directory, number):
  return os.path.join(directory, f'ckpt-{number}')


def verify(path):
  """Reads every tensor of the checkpoint at `path` (checksums included);
  raises CorruptCheckpoint naming what failed."""
  try:
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except Exception as e:  # pylint: disable=broad-except
    # The reader raises OpErrors, but also IndexError for a truncated file.
    message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise CorruptCheckpoint(f'{path}: {message}') from e


def _files(path):
  directory, base = os.path.split(path)
  return [os.path.join(directory, name) for name in tf.io.gfile.listdir(directory)
          if name == base + '.index' or name.startswith(base + '.data-')]


def quarantine(path):
  """Moves a damaged checkpoint's files into `corrupt/` (never deletes)."""
  directory = os.path.join(os.path.dirname(path), CORRUPT_DIR)
  tf.io.gfile.makedirs(directory)
  for f in _files(path):
    target = os.path.join(directory, os.path.basename(f))
    copies = 0
    while tf.io.gfile.exists(target):  # set aside before under this name
      copies += 1
      target = os.path.join(directory, f'{os.path.basename(f)}.{copies}')
    tf.io.gfile.rename(f, target)


class Store(object):
  """The checkpoints of one run in `directory`.

  Args:
    checkpoint: the `tf.train.Checkpoint` that is saved and restored.
    directory: where the `ckpt-<step>` files live.
    keep: how many of the newest checkpoints `save` leaves on disk.
    log: `print`-like function for what the store did.
    restore_from: where `latest` and `restore_latest` look, if not in
      `directory`; it is only read (the other workers of a multi-worker run
      save into scratch folders and restore from the chief's checkpoints).
  """

  def __init__(self, checkpoint, directory, keep, log=print,
               restore_from=None):
    self._checkpoint = checkpoint
    self.directory = directory
    self._keep = keep
    self._log = log
    self._restore_from = restore_from

  @property
  def run_directory(self):
    """Where the run's checkpoints are: `restore_from`, else `directory`."""
    return self._restore_from or self.directory

  def latest(self):
    """Path of the newest intact checkpoint, or None."""
    if self._restore_from:
      return newest_intact(self._restore_from, self._log, set_aside=False)
    return newest_intact(self.directory, self._log, set_aside=True)

  def restore(self, path):
    self._checkpoint.read(path).assert_existing_objects_matched()

  def restore_latest(self):
    """Restores the newest intact checkpoint; returns its path or None."""
    path = self.latest()
    if path:
      self.restore(path)
    return path

  def save(self, number):
    """Writes `ckpt-<number>` atomically, then drops checkpoints it
    supersedes beyond the newest `keep`."""
    target = prefix(self.directory, number)
    if tf.io.gfile.exists(target + '.index'):
      raise RuntimeError(f'{target} exists already; refusing to overwrite a '
                         f'checkpoint.')
    scratch = os.path.join(self.directory, f'.partial-{number}')
    if tf.io.gfile.exists(scratch):
      tf.io.gfile.rmtree(scratch)
    try:
      written = self._checkpoint.write(os.path.join(scratch,
                                                    f'ckpt-{number}'))
      files = _files(written)
      for f in sorted(files, key=lambda f: f.endswith('.index')):  # index last
        tf.io.gfile.rename(f, os.path.join(self.directory,
                                           os.path.basename(f)),
                           overwrite=True)
    except BaseException:  # a full disk, Ctrl-C: no part of it is left
      _remove_unfinished(self.directory, number, scratch)
      raise
    tf.io.gfile.rmtree(scratch)
    kept = numbers(self.directory)
    for old in kept[:-self._keep]:
      if old < number:
        for f in _files(prefix(self.directory, old)):
          tf.io.gfile.remove(f)
    _write_state_file(self.directory)
    return target


class Best(object):
  """The model of the lowest validation metric so far, in `directory`.

  Each improvement is saved as the next `ckpt-<k>` by a `Store` (atomic,
  keeping one), holding the model, its training `step` (so the evaluation
  and sampling programs read it as any checkpoint) and its `validation`
  value. The value lives in the checkpoint it describes, so the kept model
  and the value a later session compares with never disagree, and a worse
  model never replaces a better one, across sessions too.
  """

  def __init__(self, model, directory, log=print):
    self.value = tf.Variable(math.inf, dtype=tf.float64, trainable=False)
    self.step = tf.Variable(-1, dtype=tf.int64, trainable=False)
    self._store = Store(tf.train.Checkpoint(model=model, step=self.step,
                                            validation=self.value),
                        directory, keep=1, log=log)
    self._record = tf.train.Checkpoint(step=self.step, validation=self.value)
    self.path = None

  @property
  def directory(self):
    return self._store.directory

  def load_record(self):
    """Reads the kept model's step and value (not its weights); returns
    its path or None."""
    self.path = self._store.latest()
    if self.path:
      self._record.read(self.path).expect_partial()
    return self.path

  def offer(self, value, step):
    """Saves the model if `value` is lower than the kept one's; returns
    whether it did."""
    if not value < self.value.numpy():
      return False
    kept = (self.value.numpy(), self.step.numpy())
    self.value.assign(value)
    self.step.assign(step)
    try:
      # Numbered by save, not by step: a session that resumes from an
      # older checkpoint may improve on a model of the same step.
      self.path = self._store.save((numbers(self.directory) or [0])[-1] + 1)
    except BaseException:
      self.value.assign(kept[0])
      self.step.assign(kept[1])
      raise
    return True

  def restore(self):
    """Loads the kept model's weights into the model."""
    self._store.restore(self.path)


def _remove_unfinished(directory, number, scratch):
  """Removes what a failed save of `ckpt-<number>` wrote (best effort: the
  failure may be a disk that takes no more writes)."""
  shutil.rmtree(scratch, ignore_errors=True)
  if not os.path.exists(os.path.join(directory, f'ckpt-{number}.index')):
    for name in os.listdir(directory):
      match = _DATA.match(name)
      if match and int(match.group(1)) == number:
        try:
          os.remove(os.path.join(directory, name))
        except OSError:
          pass


def _write_state_file(directory):
  """TensorFlow's `checkpoint` file, for tools that read it (TensorBoard,
  `tf.train.latest_checkpoint`); this store never relies on it."""
  names = [f'ckpt-{n}' for n in numbers(directory)]
  lines = [f'model_checkpoint_path: "{names[-1]}"'] + [
      f'all_model_checkpoint_paths: "{n}"' for n in names]
  path = os.path.join(directory, 'checkpoint')
  with tf.io.gfile.GFile(path + '.tmp', 'w') as f:
    f.write('\n'.join(lines) + '\n')
  tf.io.gfile.rename(path + '.tmp', path, overwrite=True)


def _without_index(directory, newest):
  """Step numbers that have data files but no `.index`, newer than the
  checkpoint `newest`: a save killed between its renames, or a lost file."""
  if not tf.io.gfile.isdir(directory):
    return []
  found = {int(m.group(1)) for m in map(_DATA.match,
                                        tf.io.gfile.listdir(directory)) if m}
  return sorted(n for n in found if n > newest)


def newest_intact(directory, log=print, set_aside=True):
  """The newest checkpoint in `directory` that reads back whole. Each damaged
  newer one, and each newer step with data files but no `.index`, gets a
  message and, with `set_aside`, is moved into `corrupt/` (so that its
  number is free, its files are never overwritten and it is never read)."""
  where = (f'; moved it to {os.path.join(directory, CORRUPT_DIR)}'
           if set_aside else '')
  indexed = numbers(directory)
  for number in reversed(_without_index(directory, max(indexed, default=-1))):
    path = prefix(directory, number)
    if set_aside:
      quarantine(path)
    log(f'checkpoint {path} has data files but no .index (a save that did '
        f'not finish, or a lost file){where}; using an older one')
  for number in reversed(indexed):
    path = prefix(directory, number)
    try:
      verify(path)
      return path
    except CorruptCheckpoint as e:
      if set_aside:
        quarantine(path)
      log(f'checkpoint {path} is damaged ({e}){where}; using the previous '
          f'one')
  return None


def remove_scratch(directory):
  """Removes folders of saves that a killed process did not finish."""
  if tf.io.gfile.isdir(directory):
    for name in tf.io.gfile.listdir(directory):
      if name.startswith('.partial-'):
        shutil.rmtree(os.path.join(directory, name.rstrip('/')),
                      ignore_errors=True)
