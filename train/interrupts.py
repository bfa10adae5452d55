"""Ctrl-C (SIGINT) that never leaves a run's state half-updated.

Inside `held()` a SIGINT is remembered and raised as `KeyboardInterrupt`
when the block ends, so that a training step, its bookkeeping and a
checkpoint save are either whole or not begun; elsewhere (evaluations,
sample grids) it is raised at once. A second SIGINT inside `held()` is
raised at once too, for a step that does not end, and marks the state
`torn`: the program must then not save it.
"""

import contextlib
import signal
import threading


class Interrupts(object):

  def __init__(self):
    self._holding = False
    self._pending = False
    self.torn = False

  def _handler(self, signum, frame):
    del signum, frame
    if self._holding and not self._pending:
      self._pending = True
      return
    if self._holding:
      self.torn = True
    raise KeyboardInterrupt

  @contextlib.contextmanager
  def installed(self):
    """Handles SIGINT within the block (signal handlers belong to the main
    thread; elsewhere the block runs with Python's default)."""
    if threading.current_thread() is not threading.main_thread():
      yield self
      return
    previous = signal.signal(signal.SIGINT, self._handler)
    try:
      yield self
    finally:
      signal.signal(signal.SIGINT, previous)

  @contextlib.contextmanager
  def held(self):
    self._holding = True
    try:
      yield
    finally:
      self._holding = False
    if self._pending:
      self._pending = False
      raise KeyboardInterrupt
