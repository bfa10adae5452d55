"""Convolution gradients inside XLA control flow, and the residual block.

    python benchmarks/xla_control_flow_bench.py [--repeats=10]

XLA:CPU compiles a `tf.while_loop` body or a `tf.cond` branch as a nested
computation. This times, at batch 64 on an [8, 8, 48] event with 192
hidden channels (the residual block's net `g` at that shape):

  * five vector-Jacobian products `w <- J_g(x)^T w` in a `tf.while_loop`,
    against the same five unrolled, with TensorFlow's convolution gradients
    (`tf.nn.conv2d`) and with `ops.conv2d`, whose gradients inside XLA
    control flow are forward convolutions;
  * the residual block's training pass (Gaussian loss plus its
    Russian-roulette log-det, gradients of input and weights), whose log-det
    takes such products in a loop, as a `tf.function` and under XLA.

Each pair is timed alternately (`common.paired_median_ms`). Writes
`xla_control_flow.json` and `.md`.
"""

from absl import app
from absl import flags
import tensorflow as tf

import common
import tfp_convexp
from tfp_convexp import ops

flags.DEFINE_integer('repeats', 10, 'Timed calls per measurement.')
flags.DEFINE_string('out', 'benchmarks/results', 'Output folder.')
FLAGS = flags.FLAGS

SHAPE = [8, 8, 48]
ITERATIONS = 5


def _vjps(block, conv, loop):
  """`x -> J^T ... J^T x` (ITERATIONS products) of the block's net `g`,
  with `conv` for its convolutions."""
  net = block._g  # pylint: disable=protected-access

  def g(x):
    h = net.activations[0](conv(x, net.convs[0].kernel) + net.convs[0].bias)
    h = net.activations[1](conv(h, net.convs[1].kernel) + net.convs[1].bias)
    return conv(h, net.convs[2].kernel) + net.convs[2].bias

  def vjp(x, w):
    with tf.GradientTape() as tape:
      tape.watch(x)
      gx = g(x)
    return tape.gradient(gx, x, output_gradients=w)

  def run(x):
    if loop:
      return tf.while_loop(lambda i, w: i < ITERATIONS,
                           lambda i, w: (i + 1, vjp(x, w)), (0, x))[1]
    w = x
    for _ in range(ITERATIONS):
      w = vjp(x, w)
    return w

  return tf.function(run, jit_compile=True, autograph=False)


def _training_pass(block, jit):
  def run(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      loss = 0.5 * tf.reduce_sum(tf.square(block.forward(x)))
      loss -= tf.reduce_sum(block.forward_log_det_jacobian(
          x, event_ndims=3, seed=[1, 2]))
    return tape.gradient(loss, [x, *block.trainable_variables])
  return tf.function(run, jit_compile=jit, autograph=False)


def main(argv):
  del argv
  block = tfp_convexp.bijectors.ResidualFlowBlock(
      SHAPE, hidden_channels=4 * SHAPE[-1], seed=0)
  tfp_convexp.bijectors.perturb_variables(block, 0, scale=0.05)
  x = tf.random.stateless_normal([64, *SHAPE], seed=[1, 2])
  tf_conv = lambda t, k: tf.nn.conv2d(t, k, 1, 'SAME')
  rows = []
  for name, conv in (('tf.nn.conv2d', tf_conv), ('ops.conv2d', ops.conv2d)):
    loop_ms, unrolled_ms = common.paired_median_ms(
        _vjps(block, conv, True), _vjps(block, conv, False), x,
        repeats=FLAGS.repeats)
    rows.append(dict(what=f'{ITERATIONS} vjps of g, {name}', a='while_loop',
                     a_ms=loop_ms, b='unrolled', b_ms=unrolled_ms))
  xla_ms, graph_ms = common.paired_median_ms(
      _training_pass(block, True), _training_pass(block, False), x,
      repeats=FLAGS.repeats)
  rows.append(dict(what='ResidualFlowBlock loss + gradients', a='XLA',
                   a_ms=xla_ms, b='tf.function', b_ms=graph_ms))
  md = ['# Convolution gradients inside XLA control flow', '',
        f'Batch 64, event {SHAPE}, 192 hidden channels, float32, ms (median '
        f'of {FLAGS.repeats}, the two columns timed alternately); '
        f'{common.machine()}.', '',
        common.markdown_table(
            ['what', 'A', 'A ms', 'B', 'B ms', 'A / B'],
            [[r['what'], r['a'], f"{r['a_ms']:.1f}", r['b'],
              f"{r['b_ms']:.1f}", f"{r['a_ms'] / r['b_ms']:.2f}"]
             for r in rows]), '']
  common.write_results(FLAGS.out, 'xla_control_flow',
                       dict(machine=common.machine(), rows=rows),
                       '\n'.join(md))
  print('\n'.join(md))


if __name__ == '__main__':
  app.run(main)
