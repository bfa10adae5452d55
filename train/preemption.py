"""A stop signal on one worker of a multi-worker run, acted on by every worker.

A scheduler's preemption notice (SIGTERM) or a Ctrl-C reaches one worker. If
that worker saved and left alone, the others would wait in their next
all-reduce until the coordination service declared it dead, and end with a
traceback and nothing saved. tf.distribute's `PreemptionCheckpointHandler`
shares the notice through the coordination service instead: the workers
agree on the training-loop iteration after the one the noticing worker has
reached, each saves there (the chief into the run's checkpoints, the others
into their scratch folders), and each stops.
"""

import time

import tensorflow as tf

from train import interrupts as interrupts_lib

# The handler polls for the notice once a second and then needs one more
# iteration. If the loop has gone on this long after it first met the
# notice, the handler is inactive on this platform (TensorFlow's does
# nothing on GCP CPU machines, and says so in the log): the worker then
# stops on its own, as a single worker does.
FALLBACK_SECONDS = 60.


class Notice(object):
  """Stops every worker at one agreed iteration when one is signalled.

  Args:
    strategy: the run's `tf.distribute.MultiWorkerMirroredStrategy`.
    interrupts: the `Interrupts(deferred=True)` whose `noticed` is the
      signal this worker received.
    scratch: a folder of this worker's own that the handler may create and
      delete (it restores nothing from it: the run's store restores).
    save: saves the training state at the current step; called on every
      worker at the agreed iteration.
  """

  def __init__(self, strategy, interrupts, scratch, save):
    self._interrupts = interrupts
    self._met_at = None  # when `check` first met this worker's notice
    self._handler = tf.distribute.experimental.PreemptionCheckpointHandler(
        strategy.cluster_resolver, tf.train.Checkpoint(), scratch,
        tf.distribute.experimental.TerminationConfig(
            termination_watcher_fn=lambda: interrupts.noticed is not None,
            exit_fn=self._stop, grace_period=0, save_fn=save))

  def _stop(self):
    """After the agreed save: the signal this worker received, or the
    cluster's."""
    raise (self._interrupts.noticed or interrupts_lib.PeerStopped)()

  def check(self):
    """Once per training-loop iteration on every worker (the handler counts
    calls to agree on the iteration): saves and raises there once any
    worker has been signalled."""
    self._handler.save_checkpoint_if_preempted()
    if self._interrupts.noticed is None:
      return
    if self._met_at is None:
      self._met_at = time.monotonic()
    elif time.monotonic() - self._met_at > FALLBACK_SECONDS:
      raise self._interrupts.noticed()
