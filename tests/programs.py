"""Running the training programs for tests: `call` runs a program's `main`
in this process (for tests about its logic: its messages, exit codes and
files); `run` starts it as users do, in a process of its own, where the
process is the subject (terminal output, signals, kills, locks held by
another process, several workers). A test that only needs *a* finished run
takes the `finished_run` fixture (conftest.py) instead of training one."""

import contextlib
import importlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import flags
from absl import logging as absl_logging
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The tiny model every program test trains: a few seconds a step on 2 cores.
TINY = ['--n_subflows=1', '--densenet_depth=1', '--densenet_growth=4',
        '--n_intermediate_channels=8', '--batch_size=16', '--nojit_compile',
        '--noprogress', '--eval_every=1000', '--num_grid_samples=4',
        '--seed=3']
# The tiny model with the loss and the evaluations XLA-compiled.
TINY_JIT = ['--jit_compile' if a == '--nojit_compile' else a for a in TINY]
# What `finished_run` trained: 4 steps, checkpoints at steps 2 and 4.
FINISHED_RUN_ARGS = ['--max_steps=4', '--checkpoint_every=2', *TINY]


# The xdist group of the tests that keep TensorFlow processes busy beside
# the test process (two devices, two workers, the study's trainings, repeated
# kills): one test process runs them one after another, so that two of them
# never share the 2 cores' thread pools. (In a fresh-clone CI run of 1,043 s
# the mirrored run and the study took 166 s each; 56 s and 88 s in the run
# of 778 s before it.)
SEVERAL_PROCESSES = 'several_processes'


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


def run_timed(module, *args, timeout=600):
  """`run`, also timing how long the process outlives its last line:
  `.seconds` for the whole run, `.exit_seconds` after the last line."""
  start = time.monotonic()
  with tempfile.TemporaryFile('w+') as err:
    proc = subprocess.Popen([sys.executable, '-m', module, *args], cwd=ROOT,
                            env=env(), stdout=subprocess.PIPE, stderr=err,
                            text=True)
    lines, last = [], start
    for line in proc.stdout:
      lines.append(line)
      last = time.monotonic()
    proc.wait(timeout=timeout)
    end = time.monotonic()
    err.seek(0)
    done = subprocess.CompletedProcess([module, *args], proc.returncode,
                                       ''.join(lines), err.read())
  if done.returncode:
    raise AssertionError(f'{module} {args} exited {done.returncode}:\n'
                         f'{done.stdout[-3000:]}\n{done.stderr[-3000:]}')
  done.seconds, done.exit_seconds = end - start, end - last
  return done


# `python -m <program>` -> the module that defines its flags and `main`.
_ENTRY = {'train': 'train.trainer', 'train.evaluate': 'train.evaluate',
          'train.sample': 'train.sample', 'train.export': 'train.export'}
# Each program's flags, {name: (flag, defining module)}: the programs define
# flags of the same names (`--workdir`) in absl's process-wide registry, so
# only the running program's flags are registered at a time.
_FLAGS_OF = {}


def program(module):
  """The module of `python -m module`, with its flags registered (and no
  other program's); tests take program modules from here only."""
  entry = _ENTRY[module]
  registry = flags.FLAGS
  for own in _FLAGS_OF.values():
    for name, (flag, _) in own.items():
      if registry._flags().get(name) is flag:  # pylint: disable=protected-access
        delattr(registry, name)
  if entry in _FLAGS_OF:
    for name, (flag, defined_in) in _FLAGS_OF[entry].items():
      registry[name] = flag
      registry.register_flag_by_module(defined_in, flag)
    return sys.modules[entry]
  before = dict(registry._flags())  # pylint: disable=protected-access
  loaded = importlib.import_module(entry)
  _FLAGS_OF[entry] = {
      name: (flag, registry.find_module_defining_flag(name))
      for name, flag in registry._flags().items()  # pylint: disable=protected-access
      if before.get(name) is not flag}
  return loaded


def call(module, *args, check=True):
  """`python -m module *args`, run in this process: its parser and `main`,
  with stdout, stderr and the exit code captured as `run` returns them."""
  loaded = program(module)
  flags.FLAGS.unparse_flags()
  out, err = io.StringIO(), io.StringIO()
  root = logging.getLogger()
  handlers, level = list(root.handlers), root.level
  verbosity = absl_logging.get_verbosity()
  code = 0
  try:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
      loaded.main(loaded.flags_parser([module, *args]))
  except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (e.code is not None)
  finally:
    sys.modules['train.run_config'].release_kept()
    # The programs send logging to their work directory's log file.
    for handler in set(root.handlers) - set(handlers):
      handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    absl_logging.set_verbosity(verbosity)
    logging.captureWarnings(False)
  proc = subprocess.CompletedProcess([module, *args], code, out.getvalue(),
                                     err.getvalue())
  if check and code:
    raise AssertionError(f'{module} {args} exited {code}:\n'
                         f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
  return proc


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
