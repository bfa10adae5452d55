"""The best-validation model's store: only a lower value replaces the kept
model, across sessions, and a save that fails keeps the earlier one."""

import os

import numpy as np
import pytest
import tensorflow as tf

from train import checkpoints


class _Model(tf.Module):

  def __init__(self):
    super().__init__()
    self.w = tf.Variable(np.zeros(3, np.float32))


def _best(directory):
  model = _Model()
  return model, checkpoints.Best(model, str(directory), log=lambda _: None)


def test_only_a_lower_value_replaces_the_best_model_across_sessions(tmp_path):
  model, best = _best(tmp_path)
  assert best.load_record() is None
  model.w.assign([1., 1., 1.])
  assert best.offer(3.0, 10)
  model.w.assign([2., 2., 2.])
  assert not best.offer(3.5, 20) and not best.offer(3.0, 20)
  assert checkpoints.numbers(tmp_path) == [1]

  # A later session compares with the value saved in the kept checkpoint.
  model, best = _best(tmp_path)
  assert best.load_record().endswith('ckpt-1')
  assert float(best.value.numpy()) == 3.0
  assert int(best.step.numpy()) == 10
  model.w.assign([5., 5., 5.])
  assert not best.offer(3.25, 30)
  model.w.assign([4., 4., 4.])
  assert best.offer(2.5, 10)  # a step of the same number improves too
  assert checkpoints.numbers(tmp_path) == [2]  # one kept

  model, best = _best(tmp_path)
  best.load_record()
  best.restore()
  np.testing.assert_array_equal(model.w.numpy(), [4., 4., 4.])
  assert float(best.value.numpy()) == 2.5


def test_a_failed_save_keeps_the_earlier_best_and_its_value(tmp_path,
                                                            monkeypatch):
  model, best = _best(tmp_path)
  model.w.assign([1., 1., 1.])
  best.offer(3.0, 1)

  def full_disk(*args, **kwargs):
    raise OSError(28, 'No space left on device')
  monkeypatch.setattr(tf.train.Checkpoint, 'write', full_disk)
  with pytest.raises(OSError):
    best.offer(2.0, 2)
  monkeypatch.undo()
  assert float(best.value.numpy()) == 3.0 and int(best.step.numpy()) == 1
  assert checkpoints.numbers(tmp_path) == [1]
  assert not [n for n in os.listdir(tmp_path) if n.startswith('.partial')]
  assert best.offer(2.5, 3)
