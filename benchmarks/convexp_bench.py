"""Speed and memory of ConvolutionExponential against plain convolutions.

    python benchmarks/convexp_bench.py [--repeats=20] [--out=benchmarks/results]

Speed: forward, inverse and forward+gradient of the layer at batch 64,
eager and XLA, next to a chain of T plain `tf.nn.conv2d` calls of the same
shape in the same run, T being the layer's term count; and the projection of
the kernel onto the certified norm bound, which the optimizer applies once
per update. Ratios are the numbers to read; absolute times are this
machine's.

Memory: the peak CPU allocator bytes of one training step (forward, Gaussian
loss, gradient of the kernels) with the recomputing custom gradient and with
plain autodiff, for one layer and for a chain of four, in eager and
`tf.function` mode. The step of the same loss without any layer is
subtracted, so what remains is the layers' activation memory, reported in
units of one activation (one `[64, H, W, C]` float32 tensor).
"""

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

import common
from tfp_convexp import ops
from tfp_convexp.bijectors import ConvolutionExponential

flags.DEFINE_integer('repeats', 20, 'Timed calls per measurement.')
flags.DEFINE_integer('batch', 64, 'Batch size.')
flags.DEFINE_string('out', 'benchmarks/results', 'Output folder.')
FLAGS = flags.FLAGS

SHAPES = ([16, 16, 12], [8, 8, 48], [32, 32, 3])


def _trained_layer(shape, **kwargs):
  """A layer whose kernel sits on the norm bound, as after training."""
  layer = ConvolutionExponential(shape, seed=1, **kwargs)
  rng = np.random.default_rng(1)
  layer.kernel.assign(rng.standard_normal(layer.kernel.shape).astype(
      np.float32))
  layer.project()
  return layer


def _plain_chain(kernel, terms):
  def run(x):
    for _ in range(terms):
      x = tf.nn.conv2d(x, kernel, 1, 'SAME')
    return x
  return run


def _with_grad(fn, variables):
  def run(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      loss = 0.5 * tf.reduce_sum(tf.square(fn(x)))
    return tape.gradient(loss, [x, *variables])
  return run


def speed(shape):
  layer = _trained_layer(shape)
  terms = layer.terms
  x = tf.random.stateless_normal([FLAGS.batch, *shape], seed=[1, 2])
  kernel = tf.Variable(layer.kernel)
  plain = _plain_chain(kernel, terms)
  cases = {
      # The functional op alone: the difference to 'forward' is the cost of
      # TFP's bijector call machinery (cache, name scopes, checks).
      'ops.conv_exp': (lambda v: ops.conv_exp(v + 0., kernel, terms),
                       lambda v: plain(v + 0.)),
      'forward': (lambda v: layer.forward(v + 0.), lambda v: plain(v + 0.)),
      'inverse': (lambda v: layer.inverse(v + 0.), lambda v: plain(v + 0.)),
      'forward+grad': (_with_grad(lambda v: layer.forward(v + 0.),
                                  layer.trainable_variables),
                       _with_grad(plain, [kernel])),
  }
  rows = []
  for mode in ('eager', 'xla'):
    # Once per optimizer step (the kernel's constraint), not per call.
    project = lambda v: layer.kernel.constraint(layer.kernel)
    for name, (ours, base) in [*cases.items(), ('project', (project, plain))]:
      if mode == 'xla':
        ours = tf.function(ours, jit_compile=True, autograph=False)
        base = tf.function(base, jit_compile=True, autograph=False)
      t_ours, t_base = common.paired_median_ms(ours, base, x,
                                               repeats=FLAGS.repeats)
      rows.append(dict(shape=shape, mode=mode, op=name, terms=terms,
                       ms=t_ours, plain_ms=t_base, ratio=t_ours / t_base))
  return rows


def memory(shape):
  x = tf.random.stateless_normal([FLAGS.batch, *shape], seed=[3, 4])
  activation = x.numpy().nbytes
  rows = []
  for num_layers in (1, 4):
    for terms in (8, None, 16):
      for mode in ('eager', 'tf.function'):
        peaks = {}
        for label, recompute in (('identity', None), ('custom', True),
                                 ('autodiff', False)):
          layers = [] if recompute is None else [
              ConvolutionExponential(shape, terms=terms, seed=i,
                                     recompute_gradient=recompute)
              for i in range(num_layers)]
          variables = [v for l in layers for v in l.trainable_variables]

          def step(v, layers=layers, variables=variables):
            with tf.GradientTape() as tape:
              tape.watch(v)
              for layer in layers:
                v = layer.forward(v)
              loss = 0.5 * tf.reduce_sum(tf.square(v))
            return tape.gradient(loss, variables or [v])

          fn = (tf.function(step, autograph=False) if mode == "tf.function"
                else step)
          peaks[label] = common.peak_bytes(fn, x + 0.)
          used_terms = layers[0].terms if layers else None
        custom = (peaks['custom'] - peaks['identity']) / activation
        autodiff = (peaks['autodiff'] - peaks['identity']) / activation
        rows.append(dict(shape=shape, layers=num_layers, terms=used_terms,
                         mode=mode, custom_activations=custom,
                         autodiff_activations=autodiff,
                         ratio=custom / autodiff))
  return rows


def main(argv):
  del argv
  speed_rows, memory_rows = [], []
  for shape in SHAPES:
    speed_rows += speed(shape)
    memory_rows += memory(shape)
    print(f'done {shape}', flush=True)
  md = ['# ConvolutionExponential benchmark', '',
        f'Batch {FLAGS.batch}, float32, CPU; {common.machine()}.', '',
        '## Time against T plain convolutions (same run)', '',
        common.markdown_table(
            ['event', 'mode', 'op', 'T', 'ms', 'T plain convs ms', 'ratio'],
            [[r['shape'], r['mode'], r['op'], r['terms'], f"{r['ms']:.2f}",
              f"{r['plain_ms']:.2f}", f"{r['ratio']:.2f}"]
             for r in speed_rows]), '',
        '## Training-step activation memory (units of one activation)', '',
        common.markdown_table(
            ['event', 'layers', 'T', 'mode', 'custom gradient', 'autodiff',
             'ratio'],
            [[r['shape'], r['layers'], r['terms'], r['mode'],
              f"{r['custom_activations']:.1f}",
              f"{r['autodiff_activations']:.1f}", f"{r['ratio']:.2f}"]
             for r in memory_rows]), '']
  common.write_results(FLAGS.out, 'convexp',
                       dict(machine=common.machine(), speed=speed_rows,
                            memory=memory_rows), '\n'.join(md))
  print('\n'.join(md))


if __name__ == '__main__':
  app.run(main)
