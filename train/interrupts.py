"""Ctrl-C (SIGINT) and SIGTERM that never leave a run's state half-updated.

Inside `held()` a SIGINT is remembered and raised as `KeyboardInterrupt`
when the block ends, so that a training step, its bookkeeping and a
checkpoint save are either whole or not begun; elsewhere (evaluations,
sample grids) it is raised at once. A second signal inside `held()` is
raised at once too, for a step that does not end, and marks the state
`torn`: the program must then not save it. SIGTERM (what a scheduler or
`kill` sends before it preempts a job) is handled the same way and raised
as `Terminated`, a `KeyboardInterrupt`, so that the program can exit with
the shell's code for it.

On a worker of a multi-worker run (`deferred`) the first signal is only
recorded as `noticed`: the cluster stops at a step its workers agree on
(`train/preemption.py`), since a worker that left alone would leave the
others waiting in their next all-reduce.
"""

import contextlib
import signal
import threading


class Terminated(KeyboardInterrupt):
  """A SIGTERM, handled as Ctrl-C is."""


class PeerStopped(Terminated):
  """Another worker of the cluster received SIGTERM or Ctrl-C; this one
  saved the step they agreed on and stops as well."""


SIGNALS = {signal.SIGINT: KeyboardInterrupt, signal.SIGTERM: Terminated}


class Interrupts(object):

  def __init__(self, deferred=False):
    self._deferred = deferred
    self.noticed = None  # deferred: the exception class of the first signal
    self._holding = False
    self._pending = None  # the exception class of a held signal
    self.torn = False

  def _handler(self, signum, frame):
    del frame
    if self._deferred and self.noticed is None:
      self.noticed = SIGNALS[signum]
      return
    if self._holding and self._pending is None and not self._deferred:
      self._pending = SIGNALS[signum]
      return
    if self._holding:
      self.torn = True
    raise SIGNALS[signum]

  @contextlib.contextmanager
  def installed(self):
    """Handles SIGINT and SIGTERM within the block (signal handlers belong
    to the main thread; elsewhere the block runs with Python's default)."""
    if threading.current_thread() is not threading.main_thread():
      yield self
      return
    previous = {s: signal.signal(s, self._handler) for s in SIGNALS}
    try:
      yield self
    finally:
      for s, handler in previous.items():
        signal.signal(s, handler)

  @contextlib.contextmanager
  def held(self):
    self._holding = True
    try:
      yield
    finally:
      self._holding = False
    if self._pending is not None:
      pending, self._pending = self._pending, None
      raise pending
