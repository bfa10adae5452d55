"""The quick tier's one pass through every program, as a user goes: train a
few steps, resume, evaluate, export, and reload the export."""

import json
import os

import numpy as np
import tensorflow as tf

from programs import call
from programs import TINY


def test_train_resume_evaluate_export_reload(tmp_path):
  work, export_dir = str(tmp_path / 'run'), str(tmp_path / 'export')
  out = call('train', f'--workdir={work}', '--max_steps=1', *TINY).stdout
  assert 'done: 1 steps' in out
  out = call('train', f'--workdir={work}', '--max_steps=2', *TINY).stdout
  assert 'at step 1' in out and 'done: 2 steps' in out
  final = json.load(open(os.path.join(work, 'final.json')))
  assert final['step'] == 2 and final['started_at_step'] == 1

  out = call('train.evaluate', f'--workdir={work}', '--num_samples=1',
             '--nojit_compile').stdout
  assert 'test bits/dim at step 2' in out
  evaluated = json.load(open(os.path.join(work, 'eval.json')))
  assert evaluated['step'] == 2 and np.isfinite(evaluated['bits_per_dim'])

  out = call('train.export', f'--workdir={work}',
             f'--export_dir={export_dir}').stdout
  assert 'exporting step 2: tracing log_prob' in out
  assert f'exported step 2 to {export_dir}' in out
  loaded = tf.saved_model.load(export_dir)
  from train import run_config  # pylint: disable=g-import-not-at-top
  _, model, step = run_config.restore(work)
  assert step == 2
  x = np.random.default_rng(0).integers(0, 17, (3, 8, 8, 1)).astype(np.int32)
  np.testing.assert_allclose(loaded.log_prob(x).numpy(),
                             model.log_prob(x, seed=tf.constant([0, 0])).numpy(),
                             rtol=1e-5)
  np.testing.assert_array_equal(loaded.decode(loaded.encode(x)).numpy(), x)
  samples = loaded.sample(tf.constant(2), tf.constant(0.5),
                          tf.constant([1, 2])).numpy()
  assert samples.shape == (2, 8, 8, 1)
  assert samples.min() >= 0 and samples.max() < 17
