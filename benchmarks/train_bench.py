"""Training-step time per mixing layer and transformation, with and without XLA.

    python benchmarks/train_bench.py [--steps=20] [--out=benchmarks/results]

One training step is the one `python -m train` runs (`train/step.py`: the
loss, XLA-compiled or not, its gradient, the global norm and the update that
a non-finite step skips), with Adamax, on one replica, at batch 64:
  * digits: `CONFIGS['digits_convexp']` (8x8x1, the coupling's DenseNet;
    the offline default of `python -m train`) with each mixing layer;
  * digits-plain: the study's digits mixing model (2 levels of 4 steps,
    the plain coupling net of width 64, `benchmarks/study.py`) with each;
  * cifar-size: 32x32x3, 2 levels of 2 steps, DenseNet depth 4, growth 32,
    32 channels (the CIFAR-10 geometry at a size a CPU trains);
  * digits and photos transformation: the study's transformation models
    (`conv_sylvester_unif`, `residual_block_unif`, `coupling_baseline_unif`
    at 2 levels of 4 steps, width 32) on 8x8x1 and on 16x16x3 images
    (`--models=` times only these).
Each row builds the model twice, as a `tf.function` and with the loss
under XLA, and takes their steps in turn (`common.step_times_ms`): timed
one after the other, a step's time depended on its place in the run (the
digits model without mixing: 91.9 ms timed last, 58.7 ms first). Step times are medians after warm-up; images/s = 64 /
step time. The same program runs on a GPU when TensorFlow sees one.
"""


from absl import app
from absl import flags

import common
from tfp_convexp import flows

TRANSFORMATIONS = {'conv_sylvester': 'conv_sylvester_unif',
                   'residual_block': 'residual_block_unif',
                   'coupling': 'coupling_baseline_unif'}

flags.DEFINE_integer('steps', 20, 'Timed steps per model (after 3 warm-up).')
flags.DEFINE_integer('batch_size', 64, 'Images per step.')
flags.DEFINE_list('mixings', list(flows.MIXINGS), 'Mixing layers to time.')
flags.DEFINE_list('models', ['digits', 'digits-plain', 'cifar-size'],
                  'Models to time.')
flags.DEFINE_list('transformations', list(TRANSFORMATIONS),
                  'Transformation models to time on 8x8x1 and 16x16x3.')
flags.DEFINE_string('out', 'benchmarks/results', 'Output folder.')
flags.DEFINE_string('name', 'train', 'Results file name (`<name>.md`, '
                    '`<name>.json`).')
FLAGS = flags.FLAGS

MODELS = {
    'digits': ((8, 8, 1), dict(flows.CONFIGS['digits_convexp'])),
    'digits-plain': ((8, 8, 1), dict(
        flows.CONFIGS['mixing_1x1'], num_bins=17, n_levels=2, n_subflows=4,
        coupling_net='plain', n_intermediate_channels=64,
        dequantize_distribution='uniform')),
    'cifar-size': ((32, 32, 3), dict(
        num_bins=256, n_levels=2, n_subflows=2, densenet_depth=4,
        densenet_growth=32, n_intermediate_channels=32,
        dequantize_distribution='uniform')),
}


def runs():
  """`(model name, layer, shape, make_flow kwargs)` of every row."""
  for model_name in FLAGS.models:
    shape, base = MODELS[model_name]
    for mixing in FLAGS.mixings:
      yield model_name, mixing, shape, dict(base, mixing=mixing)
  for data, shape in (('digits', (8, 8, 1)), ('photos', (16, 16, 3))):
    for layer in FLAGS.transformations:
      yield f'{data} transformation', layer, shape, dict(
          flows.CONFIGS[TRANSFORMATIONS[layer]], n_levels=2, n_subflows=4,
          densenet_depth=2, densenet_growth=16, n_intermediate_channels=32,
          n_internal_channels=32)


def markdown_table(rows, steps, batch_size):
  table = [[r['model'], r['mixing'], r['graph_step_ms'],
            r['graph_images_per_s'], r['xla_step_ms'], r['xla_images_per_s'],
            r['xla_speedup']] for r in rows]
  return (
      f'Training step (forward, gradient, Adamax update), batch {batch_size}, '
      f'median of {steps} steps, one run on '
      f'{common.machine()["cpu_count"]} CPU cores; graph = `tf.function`, '
      f'XLA = the loss under `jit_compile=True`; each row\'s two steps '
      f'taken in turn.\n\n' +
      common.markdown_table(
          ['model', 'mixing', 'graph ms/step', 'graph images/s',
           'XLA ms/step', 'XLA images/s', 'XLA speed-up'], table) + '\n')


def main(argv):
  del argv
  rows = []
  for model_name, layer, shape, kwargs in runs():
    result = {'model': model_name, 'image_shape': list(shape),
              'mixing': layer, 'batch_size': FLAGS.batch_size}
    for jit, (ms, compile_s) in zip((False, True), common.step_times_ms(
        shape, kwargs, (False, True), FLAGS.steps, FLAGS.batch_size)):
      key = 'xla' if jit else 'graph'
      result[f'{key}_step_ms'] = round(ms, 1)
      result[f'{key}_images_per_s'] = round(FLAGS.batch_size / ms * 1e3, 1)
      result[f'{key}_first_step_s'] = round(compile_s, 1)
    result['xla_speedup'] = round(result['graph_step_ms'] /
                                  result['xla_step_ms'], 2)
    rows.append(result)
    print(result, flush=True)
  markdown = markdown_table(rows, FLAGS.steps, FLAGS.batch_size)
  common.write_results(FLAGS.out, FLAGS.name, {'machine': common.machine(),
                                            'rows': rows}, markdown)
  print(markdown)


if __name__ == '__main__':
  app.run(main)
