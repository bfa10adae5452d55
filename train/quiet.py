"""Keeps the programs' terminal output to what a user needs.

TensorFlow's native start-up lines (the CUDA probe on a CPU machine, the
"before absl::InitializeLog" notices) are written to file descriptor 2 before
any Python setting can reach them, so `tensorflow_startup` captures that
descriptor while TensorFlow loads and finds its devices, and `log_to_file`
later sends that text, and every Python log record (absl, TensorFlow,
warnings), to a log file in the work directory.
"""

import contextlib
import logging
import os
import sys
import tempfile

from absl import logging as absl_logging

# C++ INFO and WARNING lines ("Ignoring Assert operator", ...) of later ops.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

_captured = []


@contextlib.contextmanager
def tensorflow_startup():
  """Captures native stderr while TensorFlow loads; shows it on failure."""
  sys.stderr.flush()
  try:
    saved = os.dup(2)
  except OSError:  # no standard error to capture
    yield
    return
  with tempfile.TemporaryFile() as capture:
    os.dup2(capture.fileno(), 2)
    failed = True
    try:
      yield
      failed = False
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      capture.seek(0)
      text = capture.read().decode(errors='replace')
      if failed:
        sys.stderr.write(text)
      else:
        _captured.append(text)


def log_to_file(path):
  """Sends Python logging (absl, TensorFlow, warnings) to `path`, after the
  native start-up text, instead of the terminal."""
  handler = logging.FileHandler(path)
  handler.setFormatter(logging.Formatter(
      '%(asctime)s %(levelname)s %(name)s: %(message)s'))
  root = logging.getLogger()
  for old in list(root.handlers):
    root.removeHandler(old)
  root.addHandler(handler)
  root.setLevel(logging.INFO)
  absl_logging.set_verbosity(absl_logging.INFO)
  logging.getLogger('tensorflow').handlers = []
  logging.getLogger('tensorflow').propagate = True
  logging.captureWarnings(True)
  with open(path, 'a') as f:
    f.write(''.join(_captured))
  _captured.clear()
