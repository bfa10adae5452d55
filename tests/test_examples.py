"""The examples under `examples/` run as a user runs them (smallest
settings), write their pictures, and their layer passes the oracle."""

import importlib
import os
import re
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfp_convexp import bijectors
from tfp_convexp import flows

import oracle
import programs

EXAMPLES = os.path.join(programs.ROOT, 'examples')


def _png_shape(path):
  return tuple(tf.io.decode_png(tf.io.read_file(path)).shape)


def _run(script, *args):
  return programs.python(os.path.join(EXAMPLES, script), *args).stdout


def test_the_example_layer_passes_the_oracle(monkeypatch):
  monkeypatch.syspath_prepend(EXAMPLES)
  importlib.import_module('my_layers')  # registers 'cayley_1x1'
  [layer] = flows.make_layers('mixing', 'cayley_1x1', [3, 5, 4],
                              dtype=tf.float64, seed=1)
  bijectors.perturb_variables(layer, 2, scale=0.3)
  x = tf.random.stateless_normal([6, 3, 5, 4], [1, 2], dtype=tf.float64)
  oracle.check_bijector(layer, x)
  oracle.check_contract(layer, x)
  assert sys.modules['my_layers'].__file__.startswith(EXAMPLES)


@pytest.mark.slow
def test_convexp_exactness(tmp_path):
  out = str(tmp_path / 'exact.png')
  text = _run('convexp_exactness.py', f'--out={out}')
  error = float(re.search(r'max \|exp\(M\) - expm\(M\)\| = (\S+)', text)[1])
  assert error < 1e-13
  layer, dense = map(float, re.search(
      r'log-det: layer (\S+), slogdet (\S+)', text).groups())
  assert abs(layer - dense) < 1e-9
  assert _png_shape(out)[2] in (3, 4)


@pytest.mark.slow
def test_convexp_by_hand(tmp_path):
  out = str(tmp_path / 'samples.png')
  text = _run('convexp_by_hand.py', '--train_steps=2', '--steps_per_flow=1',
              f'--out={out}')
  before = float(re.search(r'at initialisation: (\S+)', text)[1])
  after = float(re.search(r'after 2 steps: (\S+)', text)[1])
  assert np.isfinite(before) and np.isfinite(after)
  assert _png_shape(out)[2] in (3, 4)


@pytest.mark.slow
def test_own_layer(tmp_path):
  out, work = str(tmp_path / 'own.png'), str(tmp_path / 'run')
  text = _run('own_layer.py', '--max_steps=2', f'--workdir={work}',
              f'--out={out}')
  assert 'done: 2 steps' in text
  assert 'wrote' in text and _png_shape(out)[2] in (1, 3)


@pytest.mark.slow
def test_class_conditional_digits(tmp_path):
  out = str(tmp_path / 'digits.png')
  text = _run('class_conditional_digits.py', '--train_steps=2',
              '--n_subflows=1', '--width=8', '--samples_per_digit=1',
              f'--out={out}')
  assert np.isfinite(float(re.search(r'given the digit: (\S+)', text)[1]))
  right = int(re.search(r'accuracy \S+ \((\d+) right\)', text)[1])
  assert 0 <= right <= 297
  assert _png_shape(out)[2] in (3, 4)
