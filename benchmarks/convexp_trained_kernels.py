"""The convolution exponential's forward at trained kernels, against the
reference code's fixed 6-term series at equal accuracy.

    python benchmarks/convexp_trained_kernels.py --workdir=RUN [--repeats=50]

`RUN` is a finished `python -m train` run with convolution exponentials,
e.g. the study's photos convexp run (`python benchmarks/study.py
--runs=photos/mixing/convexp/s1 --seeds=2`, then
`--workdir=runs/study/photos/mixing/convexp/s1`). For each of its
`ConvolutionExponential` layers, at batch 64 of standard normal inputs of the
layer's shape (the scale a flow's activations are normalised to):

  * the error of the reference's training-time series, `exp(M) x` cut after
    6 terms (`n_terms_train` in `convexp_module.py`), and of this package's
    default stop (`tolerance` 1e-6, certified from `norm_bound`), as
    `max over x of ||y - exp(M) x|| / ||x||` against a float64 series of 30
    terms;
  * the terms this package's stop runs at its default tolerance and at the
    6-term series' error as the tolerance ("equal accuracy");
  * the forward's time in a `tf.function` (no XLA: under XLA every call runs
    the static cap), each timed alternately with the 6 unrolled terms.

Writes `convexp_trained_kernels.json` and `.md`.
"""

from absl import app
from absl import flags
import tensorflow as tf

import common
from tfp_convexp import bijectors
from tfp_convexp import ops
from train import run_config

flags.DEFINE_string('workdir', None, 'A finished training run.')
flags.DEFINE_integer('repeats', 50, 'Timed calls per measurement.',
                     lower_bound=1)
flags.DEFINE_string('out', 'benchmarks/results', 'Output folder.')
flags.mark_flag_as_required('workdir')
FLAGS = flags.FLAGS

REFERENCE_TERMS = 6


def _relative_error(y, exact, x):
  norm = lambda t: tf.sqrt(tf.reduce_sum(tf.square(t), axis=[1, 2, 3]))
  return float(tf.reduce_max(norm(tf.cast(y, tf.float64) - exact) /
                             norm(tf.cast(x, tf.float64))))


def measure(layer, x):
  kernel = tf.convert_to_tensor(layer.kernel)
  padding = layer.padding
  exact = ops.conv_exp(tf.cast(x, tf.float64), tf.cast(kernel, tf.float64),
                       30, padding)
  fixed = tf.function(lambda t: ops.conv_exp(t, kernel, REFERENCE_TERMS,
                                             padding))

  def stopping(tolerance):
    return tf.function(lambda t: ops.conv_exp_and_terms(
        t, kernel, layer.terms, padding, norm_bound=layer.norm_bound,
        tolerance=tolerance))

  row = dict(layer=layer.name, shape=list(layer.event_shape),
             certified_norm=float(layer.operator_norm_bound()),
             norm_bound=layer.norm_bound, cap=layer.terms)
  row['reference_error'] = _relative_error(fixed(x), exact, x)
  for key, tolerance in (('default', layer.tolerance),
                         ('equal', row['reference_error'])):
    run = stopping(tolerance)
    y, terms = run(x)
    row[f'{key}_terms'] = int(terms)
    row[f'{key}_error'] = _relative_error(y, exact, x)
    ms, reference_ms = common.paired_median_ms(run, fixed, x,
                                               repeats=FLAGS.repeats)
    row[f'{key}_ms'], row[f'{key}_reference_ms'] = ms, reference_ms
  return row


def main(argv):
  del argv
  _, model, step = run_config.restore(FLAGS.workdir)
  layers = [layer for layer in model.bijector.layers
            if isinstance(layer, bijectors.ConvolutionExponential)]
  if not layers:
    raise app.UsageError(f'{FLAGS.workdir} has no convolution exponential.')
  rows = []
  for i, layer in enumerate(layers):
    x = tf.random.stateless_normal([64, *layer.event_shape], seed=[i, 0])
    rows.append(measure(layer, x))
    print(rows[-1], flush=True)
  md = ['# The convolution exponential at trained kernels', '',
        f'`{FLAGS.workdir}` at step {step}; batch 64 of standard normal '
        f'inputs; errors `max ||y - exp(M) x|| / ||x||` against a float64 '
        f'series of 30 terms; forward in a `tf.function` without XLA, ms '
        f'(median of {FLAGS.repeats}, each timed alternately with the '
        f'reference\'s 6 unrolled terms); {common.machine()}.', '',
        common.markdown_table(
            ['layer', 'shape', 'certified norm', '6 terms: error',
             'stop at 1e-6: terms', 'error', 'time / 6 terms',
             'stop at the 6 terms\' error: terms', 'error',
             'time / 6 terms'],
            [[r['layer'], 'x'.join(map(str, r['shape'])),
              f"{r['certified_norm']:.3f}", f"{r['reference_error']:.1e}",
              r['default_terms'], f"{r['default_error']:.1e}",
              f"{r['default_ms'] / r['default_reference_ms']:.2f}",
              r['equal_terms'], f"{r['equal_error']:.1e}",
              f"{r['equal_ms'] / r['equal_reference_ms']:.2f}"] for r in rows]),
        '']
  common.write_results(FLAGS.out, 'convexp_trained_kernels',
                       dict(machine=common.machine(), workdir=FLAGS.workdir,
                            step=step, rows=rows), '\n'.join(md))
  print('\n'.join(md))


if __name__ == '__main__':
  app.run(main)
