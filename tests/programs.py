"""Running the training programs as users run them, in a process of their
own, for the tests whose subject is the program: outputs, exit codes,
signals, locks and files. A test that only needs *a* finished run takes the
`finished_run` fixture (conftest.py) instead of training one."""

import os
import shutil
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The tiny model every program test trains: a few seconds a step on 2 cores.
TINY = ['--n_subflows=1', '--densenet_depth=1', '--densenet_growth=4',
        '--n_intermediate_channels=8', '--batch_size=16', '--nojit_compile',
        '--noprogress', '--eval_every=1000', '--num_grid_samples=4',
        '--seed=3']
# The tiny model with the programs' default XLA choice (digits + convexp:
# the loss and the evaluations are XLA-compiled).
TINY_DEFAULT_JIT = [a for a in TINY if a != '--nojit_compile']
# What `finished_run` trained: 4 steps, checkpoints at steps 2 and 4.
FINISHED_RUN_ARGS = ['--max_steps=4', '--checkpoint_every=2', *TINY]


def env(extra=None):
  out = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=ROOT)
  out.pop('TF_CONFIG', None)
  out.update(extra or {})
  return out


def python(*args, env_extra=None, check=True, timeout=600):
  """`python *args` in the checkout; fails the test on a non-zero exit."""
  proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env(env_extra),
                        capture_output=True, text=True, timeout=timeout)
  if check and proc.returncode:
    raise AssertionError(f'python {args} exited {proc.returncode}:\n'
                         f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
  return proc


def run(module, *args, **kwargs):
  """`python -m module *args`."""
  return python('-m', module, *args, **kwargs)


def copy_run(workdir, tmp_path):
  """A copy of a run's work directory that a test may change."""
  work = str(tmp_path / 'run')
  shutil.copytree(workdir, work)
  return work


def write_pngs(folder, shapes):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(0)
  for i, shape in enumerate(shapes):
    image = rng.integers(0, 256, shape).astype(np.uint8)
    tf.io.write_file(os.path.join(folder, f'{i:03d}.png'),
                     tf.io.encode_png(image))
