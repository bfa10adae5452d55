"""Side-by-side speed of every layer of tfp_convexp.

    python benchmarks/layers_bench.py [--repeats=10] [--out=benchmarks/results]

Forward, inverse and forward+gradient (Gaussian loss plus log-det, gradients
of input and weights) in ms at batch 64 for events [32, 32, 3],
[16, 16, 12] and [8, 8, 48], eager and XLA, with weights moved away from
their initialisation, plus each layer's parameter count. For the layers
with an iterative inverse (Sylvester, residual flow), also the iterations
it took and the float32 round-trip error `max|inverse(forward(x)) - x|`.
Writes `layers.json` and `layers.md`.
"""

import statistics
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

import common
import tfp_convexp

flags.DEFINE_integer('repeats', 10, 'Timed calls per measurement.')
flags.DEFINE_integer('batch', 64, 'Batch size.')
flags.DEFINE_string('out', 'benchmarks/results', 'Output folder.')
FLAGS = flags.FLAGS

SHAPES = ([32, 32, 3], [16, 16, 12], [8, 8, 48])
B = tfp_convexp.bijectors
LAYERS = {
    'ConvolutionExponential': lambda s: B.ConvolutionExponential(s, seed=0),
    'Conv1x1 plain': lambda s: B.Conv1x1(s, 'plain', seed=0),
    'Conv1x1 lu': lambda s: B.Conv1x1(s, 'lu', seed=0),
    'Conv1x1 qr': lambda s: B.Conv1x1(s, 'qr', seed=0),
    'MatrixExponential1x1': lambda s: B.MatrixExponential1x1(s, seed=0),
    'EmergingConv': lambda s: B.EmergingConv(s, seed=0),
    'PeriodicConv': lambda s: B.PeriodicConv(s, seed=0),
    'Woodbury': lambda s: B.Woodbury(s, rank=(min(8, s[-1]), 16), seed=0),
    'AffineCoupling': lambda s: B.AffineCoupling(s, seed=0),
    'ConvolutionalSylvester': lambda s: B.ConvolutionalSylvester(
        s, hidden_channels=4 * s[-1], seed=0),
    # Russian roulette: the training-time estimator (an exact log-det of a
    # 3072-dimensional Jacobian is not a per-step option).
    'ResidualFlowBlock': lambda s: B.ResidualFlowBlock(
        s, hidden_channels=4 * s[-1], seed=0),
}
# The stochastic log-det needs its seed.
LOG_DET_KWARGS = {'ResidualFlowBlock': dict(seed=[1, 2])}


def _moved(layer):
  """Weights moved off their initialisation, as after some training."""
  B.perturb_variables(layer, 0, scale=0.05)
  return layer


def _median_ms(fn, x):
  for _ in range(2):
    tf.nest.map_structure(lambda t: t.numpy(), fn(x))
  times = []
  for _ in range(FLAGS.repeats):
    start = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy(), fn(x))
    times.append(time.perf_counter() - start)
  return 1e3 * statistics.median(times)


def measure(name, shape):
  layer = _moved(LAYERS[name](shape))
  x = tf.random.stateless_normal([FLAGS.batch, *shape], seed=[1, 2])

  def grad(v):
    with tf.GradientTape() as tape:
      tape.watch(v)
      loss = 0.5 * tf.reduce_sum(tf.square(layer.forward(v)))
      loss -= tf.reduce_sum(layer.forward_log_det_jacobian(
          v, event_ndims=3, **LOG_DET_KWARGS.get(name, {})))
    return tape.gradient(loss, [v, *layer.trainable_variables])

  ops = {'forward': lambda v: layer.forward(v + 0.),
         'inverse': lambda v: layer.inverse(v + 0.),
         'forward+grad': lambda v: grad(v + 0.)}
  row = dict(layer=name, shape=shape,
             params=int(sum(np.prod(v.shape) for v in layer.trainable_variables)))
  for mode in ('eager', 'xla'):
    for op, fn in ops.items():
      if mode == 'xla':
        fn = tf.function(fn, jit_compile=True, autograph=False)
      row[f'{mode} {op}'] = _median_ms(fn, x)
  if hasattr(layer, 'inverse_with_diagnostics'):
    z = layer.forward(x)
    back, iterations, _ = tf.function(layer.inverse_with_diagnostics,
                                      jit_compile=True)(z + 0.)
    row['iterations'] = int(iterations)
    row['round trip'] = float(tf.reduce_max(tf.abs(back - x)))
  return row


def main(argv):
  del argv
  rows = []
  for shape in SHAPES:
    for name in LAYERS:
      rows.append(measure(name, shape))
      print(f'done {name} {shape}', flush=True)
  columns = [f'{m} {o}' for m in ('xla', 'eager')
             for o in ('forward', 'inverse', 'forward+grad')]
  md = ['# Layers side by side', '',
        f'Batch {FLAGS.batch}, float32, CPU, ms (median of {FLAGS.repeats}); '
        f'{common.machine()}.', '']
  for shape in SHAPES:
    md += [f'## Event {shape}', '',
           common.markdown_table(
               ['layer', 'params', *columns, 'inverse iterations',
                'round trip'],
               [[r['layer'], r['params'], *(f'{r[c]:.2f}' for c in columns),
                 r.get('iterations', ''),
                 f"{r['round trip']:.1e}" if 'round trip' in r else '']
                for r in sorted((r for r in rows if r['shape'] == shape),
                                key=lambda r: r['xla forward+grad'])]), '']
  common.write_results(FLAGS.out, 'layers',
                       dict(machine=common.machine(), rows=rows), '\n'.join(md))
  print('\n'.join(md))


if __name__ == '__main__':
  app.run(main)
