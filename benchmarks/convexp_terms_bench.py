"""The convolution exponential's series length chosen per call, in training.

    python benchmarks/convexp_terms_bench.py [--steps=30] [--out=benchmarks/results]

The study's mixing models (`benchmarks/study.py`: 2 levels of 4 steps, the
plain coupling net of width 64, uniform dequantization, batch 64) on the
digits (8x8x1) and the photos (16x16x3), the loss under XLA, one replica.
Three models per data set, built with the same seed and timed in one
process, one step of each in turn (so the machine's drifts fall on all
three alike):

  * `1x1`: Glow's 1x1 convolution, the baseline of the ratios;
  * `convexp`: the convolution exponential as it is now, each call running
    the terms its kernel's certified norm needs (`terms_now`);
  * `convexp, 9 terms`: the same layers with `terms=9` fixed, as every call
    ran before the length was chosen per call.

Before the timed steps, `--warmup` steps of Adamax at 1e-3 train each model
on its fixed random batch (the first update records the kernels' certified
norms). The table gives the median step time, its ratio to the 1x1 model's,
and the series lengths the convexp layers run.
"""

import contextlib
import os
import statistics
import sys
import time

from absl import app
from absl import flags

import common

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

flags.DEFINE_integer('steps', 30, 'Timed steps per model.', lower_bound=1)
flags.DEFINE_integer('warmup', 5, 'Training steps before timing.',
                     lower_bound=1)
flags.DEFINE_list('datasets', ['digits', 'photos'], 'Data sets to time.')
flags.DEFINE_string('out', 'benchmarks/results', 'Output folder.')
FLAGS = flags.FLAGS
BATCH_SIZE = 64
FIXED_TERMS = 9  # the count the default norm_bound 0.95 certifies for 1e-6


@contextlib.contextmanager
def fixed_terms(terms):
  """Every ConvolutionExponential built inside runs `terms` terms."""
  from tfp_convexp import bijectors  # pylint: disable=g-import-not-at-top
  init = bijectors.ConvolutionExponential.__init__

  def with_terms(self, *args, **kwargs):
    kwargs.setdefault('terms', terms)
    init(self, *args, **kwargs)
  bijectors.ConvolutionExponential.__init__ = with_terms
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


def main(argv):
  del argv
  rows = []
  for dataset in FLAGS.datasets:
    models = {}
    for name, mixing, context in (
        ('1x1', '1x1', contextlib.nullcontext()),
        ('convexp', 'convexp', contextlib.nullcontext()),
        (f'convexp, {FIXED_TERMS} terms', 'convexp', fixed_terms(FIXED_TERMS))):
      shape, kwargs = model_kwargs(dataset, mixing)
      with context:
        run, model = common.training_step(shape, kwargs, True, BATCH_SIZE)
      start = time.perf_counter()
      for _ in range(FLAGS.warmup):
        run()
      print(f'{dataset} {name}: compiled and warmed up in '
            f'{time.perf_counter() - start:.1f} s', flush=True)
      models[name] = (run, model)
    times = {name: [] for name in models}
    for _ in range(FLAGS.steps):
      for name, (run, _) in models.items():
        start = time.perf_counter()
        run()
        times[name].append(time.perf_counter() - start)
    base = statistics.median(times['1x1'])
    for name, (_, model) in models.items():
      layers = convexp_layers(model)
      ms = 1e3 * statistics.median(times[name])
      rows.append(dict(
          dataset=dataset, model=name, step_ms=round(ms, 2),
          ratio_to_1x1=round(statistics.median(times[name]) / base, 3),
          terms=[int(layer.terms_now()) for layer in layers],
          certified_norms=[round(float(layer.operator_norm_bound()), 4)
                           for layer in layers]))
      print(rows[-1], flush=True)
  table = common.markdown_table(
      ['data', 'model', 'ms/step', 'ratio to 1x1', 'terms per convexp layer',
       'certified norms'],
      [[r['dataset'], r['model'], r['step_ms'], r['ratio_to_1x1'],
        ' '.join(map(str, r['terms'])) or '-',
        ' '.join(f'{n:.3f}' for n in r['certified_norms']) or '-']
       for r in rows])
  machine = common.machine()
  markdown = (
      f'# The convolution exponential\'s series length per call\n\n'
      f'`python benchmarks/convexp_terms_bench.py --steps={FLAGS.steps} '
      f'--warmup={FLAGS.warmup}`: the study\'s mixing models, batch '
      f'{BATCH_SIZE}, the loss under XLA, median of {FLAGS.steps} '
      f'interleaved steps after {FLAGS.warmup} training steps, one run on '
      f'{machine["cpu_count"]} CPU cores ({machine["time"]}). "{FIXED_TERMS} '
      f'terms" is every convexp layer with `terms={FIXED_TERMS}`, as each '
      f'call ran before the length was chosen per call.\n\n{table}\n')
  common.write_results(FLAGS.out, 'convexp_terms',
                       dict(machine=machine, steps=FLAGS.steps,
                            warmup=FLAGS.warmup, rows=rows), markdown)
  print(markdown)


if __name__ == '__main__':
  app.run(main)
