"""The convolution exponential's series length chosen per call, in training.

    python benchmarks/convexp_terms_bench.py [--steps=30] [--out=benchmarks/results]

Training steps: the study's mixing models (`benchmarks/study.py`: 2 levels
of 4 steps, the plain coupling net of width 64, uniform dequantization,
batch 64 of real training images) on the digits (8x8x1) and the photos
(16x16x3), one replica, each with and without XLA for the loss (the
training program's `default_jit_compile` takes XLA for the digits only).
Three models per setting, built with the same seed and timed in one
process, one step of each in turn (so the machine's drifts fall on all
alike):

  * `1x1`: Glow's 1x1 convolution, the baseline of the ratios;
  * `convexp`: the convolution exponential as it is now: on levels of at
    most 256 values (`MATRIX_MAX_SIZE`) the series of 9 terms as one dense
    matrix, above that the convolutions, with autodiff through the 9 stored
    terms up to 4096 values (`STORED_TERMS_MAX_SIZE`);
  * `convexp, recomputed`: the same layers with `method='series'` and
    `recompute_gradient=True` everywhere, as before: each call's value
    stops when its own last term certifies the tolerance (at most 9 terms,
    always 9 under XLA), and the memory-saving gradient recomputes the
    terms and runs all 9.

Before the timed steps, `--warmup` steps of Adamax at 1e-3 train each model
on its batch. The table gives the median step time, its ratio to the 1x1
model's, and the series lengths the convexp layers ran.

The op alone: `conv_exp`'s forward alone and with its gradient at the models' convexp
shapes and two more sizes, the stopping loop and the matrix form against
the unrolled series, with and without XLA: the measurements behind
unrolling under XLA and behind `MATRIX_MAX_SIZE`.
"""

import contextlib
import statistics
import sys
import time

from absl import app
from absl import flags

import common
import numpy as np
import tensorflow as tf


flags.DEFINE_integer('steps', 30, 'Timed steps per model.', lower_bound=1)
flags.DEFINE_integer('warmup', 5, 'Training steps before timing.',
                     lower_bound=1)
flags.DEFINE_list('datasets', ['digits', 'photos'], 'Data sets to time.')
flags.DEFINE_integer('op_repeats', 50, 'Timed calls per op case.',
                     lower_bound=1)
# The training program's default_jit_compile for these two models.
JIT = {'digits': True, 'photos': False}
flags.DEFINE_string('out', 'benchmarks/results', 'Output folder.')
FLAGS = flags.FLAGS
BATCH_SIZE = 64
FIXED_TERMS = 9  # the count the default norm_bound 0.95 certifies for 1e-6
# The convexp layers' event shapes in the digits and the photos models, and
# two sizes between them, around the matrix form's limit.
OP_SHAPES = ([4, 4, 4], [2, 2, 8], [8, 8, 12], [4, 4, 24], [4, 4, 12],
             [8, 8, 4], [16, 16, 12])
OP_NORM = 0.3  # about the trained kernels' certified norms


@contextlib.contextmanager
def convexp_defaults(**defaults):
  """Every ConvolutionExponential built inside takes these arguments."""
  from tfp_convexp import bijectors  # pylint: disable=g-import-not-at-top
  init = bijectors.ConvolutionExponential.__init__

  def with_defaults(self, *args, **kwargs):
    init(self, *args, **{**defaults, **kwargs})
  bijectors.ConvolutionExponential.__init__ = with_defaults
  try:
    yield
  finally:
    bijectors.ConvolutionExponential.__init__ = init


def model_kwargs(dataset, mixing):
  from tfp_convexp import data  # pylint: disable=g-import-not-at-top
  from tfp_convexp import flows  # pylint: disable=g-import-not-at-top
  shape, bins = data.image_shape_and_bins(dataset)
  return shape, {**flows.CONFIGS['mixing_1x1'], 'n_levels': 2,
                 'n_subflows': 4, 'coupling_net': 'plain',
                 'dequantize_distribution': 'uniform',
                 'n_intermediate_channels': 64, 'mixing': mixing,
                 'num_bins': bins, 'seed': 0}


def convexp_layers(model):
  from tfp_convexp import bijectors  # pylint: disable=g-import-not-at-top
  return [m for m in model.submodules
          if isinstance(m, bijectors.ConvolutionExponential)]


def recording_terms():
  from tfp_convexp.bijectors import convolution_exponential  # pylint: disable=g-import-not-at-top
  return convolution_exponential.recording_terms()


def terms_run(model, images, jit):
  """The series length each convexp layer runs in `model.log_prob(images)`,
  compiled as the training step is."""
  @tf.function(jit_compile=jit)
  def run(batch):
    with recording_terms() as calls:
      model.log_prob(batch, seed=[3, 4])
    return [terms for _, terms in calls]
  return [int(terms) for terms in run(tf.constant(images, tf.int32))]


def model_rows(dataset):
  """Step times of the three models, with and without XLA, interleaved."""
  from tfp_convexp import data  # pylint: disable=g-import-not-at-top
  # Real images: where the series stops depends on them.
  images = np.asarray(data.load_images(dataset, 'train')[0][:BATCH_SIZE])
  models = {}
  for jit in (True, False):
    for name, mixing, context in (
        ('1x1', '1x1', contextlib.nullcontext()),
        ('convexp', 'convexp', contextlib.nullcontext()),
        ('convexp, recomputed', 'convexp',
         convexp_defaults(method='series', recompute_gradient=True))):
      shape, kwargs = model_kwargs(dataset, mixing)
      with context:
        run, model = common.training_step(shape, kwargs, jit, BATCH_SIZE,
                                          images=images)
      start = time.perf_counter()
      for _ in range(FLAGS.warmup):
        run()
      print(f'{dataset} {name} (XLA: {jit}): compiled and warmed up in '
            f'{time.perf_counter() - start:.1f} s', flush=True)
      models[jit, name] = (run, model)
  times = {key: [] for key in models}
  for _ in range(FLAGS.steps):
    for key, (run, _) in models.items():
      start = time.perf_counter()
      run()
      times[key].append(time.perf_counter() - start)
  rows = []
  for (jit, name), (_, model) in models.items():
    median = statistics.median(times[jit, name])
    rows.append(dict(
        dataset=dataset, jit=jit, default_jit=jit == JIT[dataset],
        model=name, step_ms=round(1e3 * median, 2),
        ratio_to_1x1=round(median / statistics.median(times[jit, '1x1']), 3),
        terms=terms_run(model, images, jit),
        methods=[layer.method for layer in convexp_layers(model)],
        certified_norms=[round(float(layer.operator_norm_bound()), 4)
                         for layer in convexp_layers(model)]))
    print(rows[-1], flush=True)
  return rows


PASSES = ('forward', 'forward and gradient')


def _compiled(fn, kernel, jit, passes):
  """`fn` alone (`passes='forward'`) or with the gradient of a loss."""
  @tf.function(jit_compile=jit)
  def run(x):
    if passes == 'forward':
      return fn(x)
    with tf.GradientTape() as tape:
      tape.watch(x)
      loss = 0.5 * tf.reduce_sum(tf.square(fn(x)))
    return tape.gradient(loss, [x, kernel])
  return run


def op_rows():
  """The op alone, forward alone and with the gradient: the stopping loop
  and the matrix form against the unrolled series, with and without XLA."""
  from tfp_convexp import ops  # pylint: disable=g-import-not-at-top
  # The package's `ops.conv_exp` is the function; the module holds the switch.
  conv_exp_lib = sys.modules['tfp_convexp.ops.conv_exp']
  rows = []
  for shape in OP_SHAPES:
    x = tf.random.stateless_normal([BATCH_SIZE, *shape], seed=[1, 2])
    channels = shape[-1]
    kernel = tf.random.stateless_normal([3, 3, channels, channels],
                                        seed=[3, 4])
    kernel = tf.Variable(kernel * OP_NORM / ops.conv_operator_norm_bound(
        kernel, shape[:2]))
    stop = dict(norm_bound=0.95, tolerance=1e-6)
    stops_at = int(ops.conv_exp_and_terms(x, kernel, FIXED_TERMS, **stop)[1])
    for jit in (True, False):
      cases = {
          f'{FIXED_TERMS} unrolled': lambda v: ops.conv_exp(v, kernel,
                                                            FIXED_TERMS),
          f'{FIXED_TERMS} unrolled, autodiff': lambda v: ops.conv_exp(
              v, kernel, FIXED_TERMS, recompute_gradient=False),
          f'{stops_at} unrolled': lambda v: ops.conv_exp(v, kernel, stops_at),
          'stopping loop': lambda v: ops.conv_exp(v, kernel, FIXED_TERMS,
                                                  **stop),
          f'{FIXED_TERMS} terms as a matrix': lambda v: ops.conv_exp_matrix(
              v, kernel, FIXED_TERMS),
      }
      # Under XLA conv_exp unrolls whatever it is asked; force the loop to
      # measure what it would cost there.
      asks_xla = conv_exp_lib.tracing_for_xla
      conv_exp_lib.tracing_for_xla = lambda: False
      try:
        runs = {(passes, name): _compiled(fn, kernel, jit, passes)
                for passes in PASSES for name, fn in cases.items()}
        for run in runs.values():
          for _ in range(3):
            run(x)
      finally:
        conv_exp_lib.tracing_for_xla = asks_xla
      times = {name: [] for name in runs}
      for _ in range(FLAGS.op_repeats):
        for name, run in runs.items():
          start = time.perf_counter()
          tf.nest.map_structure(lambda t: t.numpy(), run(x))
          times[name].append(time.perf_counter() - start)
      for (passes, name), values in times.items():
        base = statistics.median(times[passes, f'{FIXED_TERMS} unrolled'])
        rows.append(dict(shape=shape, jit=jit, passes=passes, case=name,
                         ms=round(1e3 * statistics.median(values), 3),
                         ratio=round(statistics.median(values) / base, 3)))
        print(rows[-1], flush=True)
  return rows


def main(argv):
  del argv
  rows = [row for dataset in FLAGS.datasets for row in model_rows(dataset)]
  ops_rows = op_rows()
  table = common.markdown_table(
      ['data', 'XLA', 'model', 'ms/step', 'ratio to 1x1 (same XLA)',
       'terms per convexp layer', 'methods', 'certified norms'],
      [[r['dataset'],
        ('yes' if r['jit'] else 'no') + (' (default)' if r['default_jit']
                                         else ''),
        r['model'], r['step_ms'], r['ratio_to_1x1'],
        ' '.join(map(str, r['terms'])) or '-',
        ' '.join(sorted(set(r['methods']))) or '-',
        ' '.join(f'{n:.3f}' for n in r['certified_norms']) or '-']
       for r in rows])
  op_table = common.markdown_table(
      ['event shape', 'XLA', 'pass', 'series', 'ms',
       f'ratio to {FIXED_TERMS} unrolled (same pass)'],
      [['x'.join(map(str, r['shape'])), 'yes' if r['jit'] else 'no',
        r['passes'], r['case'], r['ms'], r['ratio']] for r in ops_rows])
  machine = common.machine()
  from tfp_convexp.bijectors import convolution_exponential  # pylint: disable=g-import-not-at-top
  limit = convolution_exponential.MATRIX_MAX_SIZE
  stored = convolution_exponential.STORED_TERMS_MAX_SIZE
  markdown = (
      f'# The convolution exponential\'s series length per call\n\n'
      f'`python benchmarks/convexp_terms_bench.py --steps={FLAGS.steps} '
      f'--warmup={FLAGS.warmup} --op_repeats={FLAGS.op_repeats}`, one run on '
      f'{machine["cpu_count"]} CPU cores ({machine["time"]}).\n\n'
      f'## Training steps\n\n'
      f'The study\'s mixing models, batch {BATCH_SIZE} of real training '
      f'images, with and without XLA for the loss ("default": the training '
      f'program\'s choice), median of {FLAGS.steps} interleaved steps after '
      f'{FLAGS.warmup} training steps. "convexp" is the layer\'s default: '
      f'the series of {FIXED_TERMS} terms as a dense matrix on levels of at '
      f'most {limit} values, the convolutions above, differentiated by '
      f'autodiff through the stored terms up to {stored} values; "convexp, '
      f'recomputed" uses the convolutions everywhere with the memory-saving '
      f'gradient, as before, each call\'s value stopping when its last term '
      f'certifies the tolerance (at most {FIXED_TERMS} terms; under XLA '
      f'always {FIXED_TERMS}; the gradient recomputes the terms and always '
      f'runs {FIXED_TERMS}). Terms: what each convexp layer ran in the compiled '
      f'`log_prob` of the batch after the timed steps.\n\n{table}\n\n'
      f'## The op alone\n\n'
      f'`conv_exp` forward alone and with the gradient, at batch '
      f'{BATCH_SIZE}, a random '
      f'3x3 kernel of certified norm {OP_NORM}, normal inputs; the stopping '
      f'loop (norm bound 0.95, tolerance 1e-6) and the matrix form of '
      f'{FIXED_TERMS} terms (`ops.conv_exp_matrix`) against the unrolled '
      f'series of {FIXED_TERMS} terms and of the length the loop stops at (in '
      f'both directions), median of {FLAGS.op_repeats} interleaved calls. The '
      f'unrolled series and the loop take the memory-saving gradient, which '
      f'recomputes the terms and runs all {FIXED_TERMS}; "autodiff" '
      f'differentiates the stored terms instead. Under XLA the loop is '
      f'measured by forcing it (the op unrolls there).\n\n{op_table}\n')
  common.write_results(FLAGS.out, 'convexp_terms',
                       dict(machine=machine, steps=FLAGS.steps,
                            warmup=FLAGS.warmup, op_repeats=FLAGS.op_repeats,
                            rows=rows, op_rows=ops_rows), markdown)
  print(markdown)


if __name__ == '__main__':
  app.run(main)
