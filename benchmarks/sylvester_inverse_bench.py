"""What sets the convolutional Sylvester inverse's cost: the coupling's gain.

    python benchmarks/sylvester_inverse_bench.py [--repeats=10]
        [--out=benchmarks/results]

`layers_bench.py` moves every weight by `0.05 * N(0, 1)` and finds the
inverse at 2.3x, 4.1x and 8.6x its forward at [32, 32, 3], [16, 16, 12] and
[8, 8, 48]. That perturbation is absolute, while the masked head of `f_AR`
(a 3x3 convolution from `4 C` channels, zero at initialisation) sums
`9 * 4 C` inputs: its gain `scale * sqrt(fan-in)` grows with `sqrt(C)`, and
so does the coupling that the diagonal Newton steps of
`ops.solve_autoregressive` must propagate. This benchmark moves the weights
by several scales at each shape and reports, under XLA at batch 64: the
head's gain, the inverse's iterations, its final residual, the round-trip
error and the inverse's time over the forward's (medians of `--repeats`
interleaved calls). Writes `sylvester_inverse.json` and `.md`.
"""

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

import common
import tfp_convexp

flags.DEFINE_integer('repeats', 10, 'Timed calls per measurement.',
                     lower_bound=1)
flags.DEFINE_string('out', 'benchmarks/results', 'Output folder.')
FLAGS = flags.FLAGS

BATCH_SIZE = 64
SHAPES = ([32, 32, 3], [16, 16, 12], [8, 8, 48])  # layers_bench.py's
SCALES = (0.0125, 0.025, 0.05)  # 0.05: layers_bench.py's
B = tfp_convexp.bijectors


def _head_gain(layer, scale):
  kernel = layer.f_ar.head.kernel
  fan_in = int(np.prod(kernel.shape[:3]))
  return scale * np.sqrt(fan_in)


def measure(shape, scale):
  layer = B.ConvolutionalSylvester(shape, hidden_channels=4 * shape[-1],
                                   seed=0)
  B.perturb_variables(layer, 0, scale=scale)
  x = tf.random.stateless_normal([BATCH_SIZE, *shape], seed=[1, 2])
  forward = tf.function(lambda v: layer.forward(v + 0.), jit_compile=True)
  inverse = tf.function(lambda v: layer.inverse_with_diagnostics(v + 0.),
                        jit_compile=True)
  y = forward(x)
  back, iterations, residual = inverse(y)
  inv, fwd = common.paired_median_ms(lambda: inverse(y), lambda: forward(x),
                                     repeats=FLAGS.repeats, warmup=2)
  return dict(shape=shape, scale=scale, head_gain=_head_gain(layer, scale),
              iterations=int(iterations), residual=float(residual),
              round_trip=float(tf.reduce_max(tf.abs(back - x))),
              forward_ms=fwd, inverse_ms=inv, ratio=inv / fwd)


def main(argv):
  del argv
  rows = []
  for shape in SHAPES:
    for scale in SCALES:
      rows.append(measure(shape, scale))
      print(rows[-1], flush=True)
  table = common.markdown_table(
      ['event', 'weights moved by', 'head gain', 'iterations', 'residual',
       'round trip', 'forward ms', 'inverse ms', 'inverse / forward'],
      [['x'.join(map(str, r['shape'])), r['scale'], f"{r['head_gain']:.2f}",
        r['iterations'], f"{r['residual']:.1e}", f"{r['round_trip']:.1e}",
        f"{r['forward_ms']:.2f}", f"{r['inverse_ms']:.2f}",
        f"{r['ratio']:.2f}"] for r in rows])
  markdown = (
      '# The convolutional Sylvester inverse against the coupling\'s gain\n\n'
      f'`python benchmarks/sylvester_inverse_bench.py '
      f'--repeats={FLAGS.repeats}`, one run on {common.machine()}.\n\n'
      f'`ConvolutionalSylvester(shape, hidden_channels=4 C, seed=0)` with '
      f'every weight moved by `scale * N(0, 1)` (`perturb_variables`; '
      f'`layers_bench.py` uses 0.05), batch {BATCH_SIZE}, XLA, median of '
      f'{FLAGS.repeats} interleaved calls. Head gain: the scale times the '
      f'square root of the masked head\'s fan-in (`9 * 4 C`), the size of '
      f'its output per unit of hidden activation.\n\n{table}\n')
  common.write_results(FLAGS.out, 'sylvester_inverse',
                       dict(machine=common.machine(), rows=rows), markdown)
  print(markdown)


if __name__ == '__main__':
  app.run(main)
