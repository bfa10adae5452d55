"""The work directory of a run: one holder at a time, atomic files, and
`--overwrite` that loses nothing before the new run has saved something."""

import datetime
import fcntl
import json
import os
import shutil
import socket

from absl import app

LOCK_FILE = 'LOCK'
LOG_FILE = 'log.txt'  # TensorFlow's and absl's messages, not for the terminal
# What the programs write into a work directory; `--overwrite` moves only
# these aside, so unrelated files a user keeps there survive.
RUN_FILES = ('config.json', 'final.json', 'eval.json', 'bits_per_dim.png',
             'nats_per_node.png', 'checkpoints', 'best', 'tb', 'tmp',
             LOG_FILE)
RUN_FILE_PREFIXES = ('samples_', 'sample_T')
REPLACED_DIR = 'replaced_run'


class UsageError(app.UsageError):
  """Something the user must change (flags, data, work directory, settings):
  the programs print it as one `error:` line and exit with code 2."""

  def __init__(self, message):
    super().__init__(message, exitcode=2)


def check_directory(path, flag='--workdir'):
  """Refuses a path that is a file, or a directory this process cannot write."""
  if os.path.exists(path) and not os.path.isdir(path):
    raise UsageError(f'{flag}={path!r} is a file, not a directory.')
  parent = path
  while not os.path.exists(parent):
    parent = os.path.dirname(os.path.abspath(parent))
  if not os.access(parent, os.W_OK | os.X_OK):
    raise UsageError(f'{flag}={path!r}: {parent!r} is not writable.')


class Lock(object):
  """An exclusive `flock` on `<workdir>/LOCK`, naming its holder.

  The kernel drops the lock when its process dies, so a lock file left by a
  killed run is never mistaken for a live holder: the next program takes it
  over and says so.
  """

  def __init__(self, directory, program, create=False):
    self.path = os.path.join(directory, LOCK_FILE)
    self.program = program
    self._create = create
    self._file = None

  def acquire(self):
    directory = os.path.dirname(self.path)
    if self._create:  # the caller has run check_directory
      try:
        os.makedirs(directory, exist_ok=True)
      except OSError as e:
        raise UsageError(f'--workdir={directory!r}: cannot create it '
                         f'({e.strerror}).') from e
    elif not os.path.isdir(directory):
      raise UsageError(f'--workdir={directory!r} is not a directory.')
    try:
      f = open(self.path, 'a+')
    except OSError as e:
      raise UsageError(f'--workdir={directory!r}: cannot create '
                       f'{LOCK_FILE} ({e.strerror}).') from e
    f.seek(0)
    previous = f.read().strip()
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      f.close()
      raise UsageError(
          f'{os.path.dirname(self.path)!r} is in use by {previous or "another process"}; '
          f'wait for it to finish or choose another directory.') from e
    if previous:
      print(f'took over the lock of a process that is no longer running '
            f'({previous})', flush=True)
    f.seek(0)
    f.truncate()
    f.write(f'{self.program} (pid {os.getpid()} on {socket.gethostname()}, '
            f'since {datetime.datetime.now().isoformat(timespec="seconds")})')
    f.flush()
    self._file = f
    return self

  def release(self):
    if self._file is not None:
      self._file.seek(0)
      self._file.truncate()
      self._file.flush()
      fcntl.flock(self._file, fcntl.LOCK_UN)
      self._file.close()
      self._file = None

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *unused):
    self.release()


def write_json(path, value):
  """Writes JSON atomically: readers see the old file or the whole new one."""
  tmp = f'{path}.tmp{os.getpid()}'
  try:
    with open(tmp, 'w') as f:
      json.dump(value, f, indent=1, sort_keys=True)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:  # a full disk: no partial file is left behind
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def read_json(path):
  """The JSON at `path`; a truncated or corrupt file is a usage error."""
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    raise UsageError(f'cannot read {path!r} ({e}); restore it or start '
                      f'the run again with --overwrite.') from e


def run_files(directory):
  """The entries of `directory` that a run wrote."""
  if not os.path.isdir(directory):
    return []
  return sorted(name for name in os.listdir(directory)
                if name in RUN_FILES or name.startswith(RUN_FILE_PREFIXES))


def set_aside(directory):
  """Moves the previous run's files into `directory/replaced_run/` (kept
  until `discard_set_aside`); returns what was moved.

  If `replaced_run/` exists beside run files without a checkpoint, an
  earlier `--overwrite` stopped before its first checkpoint: those files
  are that attempt's (nothing to keep) and the run it replaced stays put.
  """
  names = run_files(directory)
  target = os.path.join(directory, REPLACED_DIR)
  checkpoints_dir = os.path.join(directory, 'checkpoints')
  if os.path.isdir(checkpoints_dir) and any(
      n.endswith('.index') for n in os.listdir(checkpoints_dir)):
    discard_set_aside(directory)  # superseded by a run that saved
  if os.path.isdir(target):
    for name in names:
      path = os.path.join(directory, name)
      if os.path.isdir(path):
        shutil.rmtree(path)
      else:
        os.remove(path)
    return []
  if not names:
    return []
  os.makedirs(target)
  for name in names:
    os.replace(os.path.join(directory, name), os.path.join(target, name))
  return names


def discard_set_aside(directory):
  shutil.rmtree(os.path.join(directory, REPLACED_DIR), ignore_errors=True)
