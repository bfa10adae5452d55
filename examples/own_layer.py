"""A layer of one's own, in `make_flow` and in the training program.

    .venv/bin/python examples/own_layer.py   # about a minute and a half on 2 cores

`examples/my_layers.py` defines `CayleyConv1x1` and registers it as the
mixing layer `cayley_1x1`. This script imports it, builds the default
digits model with it in place of the convolution exponential
(`flows.CONFIGS['digits_convexp'].build(mixing='cayley_1x1')`, a
`make_flow` model), checks the layer's inverse
and log-determinant on one step's events, then trains the same model with
the training program, as a user types it from the repository root:

    PYTHONPATH=examples .venv/bin/python -m train --import=my_layers \\
        --mixing=cayley_1x1 --workdir=examples/out/own_layer_run

and copies the program's last sample grid to `--out`.
"""

import os
import shutil
import subprocess
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from tfp_convexp import bijectors
from tfp_convexp import flows
import my_layers  # registers 'cayley_1x1'

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

flags.DEFINE_integer('max_steps', 400, 'Training steps of the program.',
                     lower_bound=1)
flags.DEFINE_string('workdir', os.path.join('examples', 'out',
                                            'own_layer_run'),
                    'The program\'s work directory (replaced).')
flags.DEFINE_string('out', os.path.join('examples', 'out', 'own_layer.png'),
                    'Where the sample grid goes.')
FLAGS = flags.FLAGS


def check_layer():
  """One `cayley_1x1` layer as `make_flow` builds it: inverse and log-det."""
  [layer] = flows.make_layers('mixing', 'cayley_1x1', [4, 4, 4],
                              dtype=tf.float64, seed=1)
  assert isinstance(layer, my_layers.CayleyConv1x1)
  bijectors.perturb_variables(layer, 2, scale=0.3)  # a non-zero log-det
  x = tf.random.stateless_normal([3, 4, 4, 4], [0, 1], dtype=tf.float64)
  # `+ 0.` makes new tensors, so TFP's cache cannot hand `x` back.
  round_trip = np.abs(layer.inverse(layer.forward(x) + 0.) - x).max()
  jacobian = tf.reshape(tf.vectorized_map(
      lambda e: layer.forward(tf.reshape(e, [4, 4, 4]) + 0.),
      tf.eye(64, dtype=tf.float64)), [64, 64])
  _, dense = np.linalg.slogdet(jacobian.numpy())
  log_det = float(layer.forward_log_det_jacobian(x[0], event_ndims=3))
  print(f'cayley_1x1 on [4, 4, 4]: |inverse(forward(x)) - x| <= '
        f'{round_trip:.1e}; log-det {log_det:.10f}, dense slogdet '
        f'{dense:.10f}')


def main(argv):
  del argv
  # The program's default run (`flows.CONFIGS`), with the new mixing layer.
  model = flows.CONFIGS['digits_convexp'].build(mixing='cayley_1x1')
  print(f'digits_convexp with mixing=\'cayley_1x1\': '
        f'{flows.count_parameters(model):,} parameters')
  check_layer()

  workdir = os.path.abspath(FLAGS.workdir)
  command = [sys.executable, '-m', 'train', '--import=my_layers',
             '--mixing=cayley_1x1', f'--max_steps={FLAGS.max_steps}',
             f'--workdir={workdir}', '--overwrite', '--noprogress']
  print('running:', 'PYTHONPATH=examples', ' '.join(command[1:]), flush=True)
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, ROOT]))
  subprocess.run(command, cwd=ROOT, env=env, check=True)
  grids = sorted(n for n in os.listdir(workdir) if n.startswith('samples_'))
  os.makedirs(os.path.dirname(FLAGS.out) or '.', exist_ok=True)
  shutil.copy(os.path.join(workdir, grids[-1]), FLAGS.out)
  print(f'wrote {FLAGS.out} (the program\'s {grids[-1]})')


if __name__ == '__main__':
  app.run(main)
