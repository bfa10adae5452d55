"""Signals while training: whole steps, and a worker's notice to its cluster."""

import os
import signal
import threading

import pytest

from train import interrupts as interrupts_lib

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason='signal handlers are installed from the main thread only')


def _signal(signum):
  os.kill(os.getpid(), signum)  # the handler runs before os.kill returns


def test_a_signal_inside_a_step_is_raised_when_the_step_ends():
  interrupts = interrupts_lib.Interrupts()
  finished = []
  with interrupts.installed():
    with pytest.raises(interrupts_lib.Terminated):
      with interrupts.held():
        _signal(signal.SIGTERM)
        finished.append(True)
  assert finished and not interrupts.torn


def test_a_second_signal_inside_a_step_stops_it_at_once_and_tears_it():
  interrupts = interrupts_lib.Interrupts()
  finished = []
  with interrupts.installed():
    with pytest.raises(KeyboardInterrupt):
      with interrupts.held():
        _signal(signal.SIGINT)
        _signal(signal.SIGINT)
        finished.append(True)
  assert not finished and interrupts.torn


def test_a_workers_first_signal_is_a_notice_and_a_second_one_stops_it():
  """On a worker of a cluster (deferred) the first signal only becomes the
  notice the cluster stops on; a second one stops at once."""
  before = {s: signal.getsignal(s) for s in interrupts_lib.SIGNALS}
  interrupts = interrupts_lib.Interrupts(deferred=True)
  finished = []
  with interrupts.installed():
    with interrupts.held():
      _signal(signal.SIGTERM)
      finished.append(True)
    assert finished and interrupts.noticed is interrupts_lib.Terminated
    with pytest.raises(KeyboardInterrupt):
      with interrupts.held():
        _signal(signal.SIGINT)
  assert interrupts.torn
  assert {s: signal.getsignal(s) for s in interrupts_lib.SIGNALS} == before
