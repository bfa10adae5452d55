"""Test bits/dim at initialisation of the study's digits emerging model.

    python benchmarks/emerging_init.py [--out=benchmarks/results]

The study's `digits/mixing/emerging` model (2 levels of 4 steps of [1x1,
emerging convolution, coupling], plain coupling nets of width 62, uniform
dequantization), built with seeds 0 to 2, and its emerging convolutions'
free taps drawn with standard deviation

  * 0.02, `EmergingConv`'s default (the emerging paper's code);
  * `1 / sqrt(m^2 C^2)` = 1 / (2 C), the convolution-exponential paper's
    port: 0.125 at the first level's 4 channels, 0.031 at the second's 16
    (the same draws as 0.02, rescaled);
  * 0: the emerging convolutions start as the identity, so the model is the
    1x1 model with other coupling widths,

against the study's 1x1 model (width 64) of the same seed. The emerging
convolutions' log-determinant is 0 at every initialisation, so the
differences come from how far their shear moves the data from the prior.
Writes `emerging_init.json` and `.md`.
"""

from absl import app
from absl import flags
import tensorflow as tf

import common
from tfp_convexp import bijectors
from tfp_convexp import data
from tfp_convexp import flows

flags.DEFINE_string('out', 'benchmarks/results', 'Output folder.')
FLAGS = flags.FLAGS


def _model(mixing, width, seed):
  shape, bins = data.image_shape_and_bins('digits')
  return flows.build_model(
      'images', shape, **{**flows.CONFIGS['mixing_1x1'], 'seed': seed,
                          'num_bins': bins, 'n_levels': 2, 'n_subflows': 4,
                          'coupling_net': 'plain', 'mixing': mixing,
                          'dequantize_distribution': 'uniform',
                          'n_intermediate_channels': width})


def _rescale(model, scale_of):
  """Multiplies every emerging kernel's taps by `scale_of(channels) / 0.02`."""
  for layer in model.submodules:
    if isinstance(layer, bijectors.EmergingConv):
      factor = scale_of(layer.event_shape[-1]) / 0.02
      for kernel in layer.trainable_variables:
        if 'kernel' in kernel.name:
          kernel.assign(kernel * factor)


def main(argv):
  del argv
  test = tf.constant(data.digits_split('test'))
  bpd = lambda m: float(tf.reduce_mean(flows.bits_per_dim(m, test,
                                                          seed=[0, 0])))
  rows = []
  for seed in range(3):
    model = _model('emerging', 62, seed)
    row = {'seed': seed, '1x1': bpd(_model('1x1', 64, seed)),
           '0.02': bpd(model)}
    _rescale(model, lambda c: 1. / (2. * c))
    row['1/(2C)'] = bpd(model)
    _rescale(model, lambda c: 0.)
    row['0'] = bpd(model)
    rows.append(row)
    print(row, flush=True)
  columns = ['1x1', '0.02', '1/(2C)', '0']
  md = ['# The digits emerging model at initialisation', '',
        'Test bits/dim (297 test digits, one dequantization draw) of the '
        "study's digits emerging model as built, by the standard deviation "
        "of its emerging convolutions' free taps, and of the 1x1 model; "
        f'{common.machine()}.', '',
        common.markdown_table(
            ['seed', '1x1 model', *(f'emerging, taps {c}' for c in
                                    columns[1:])],
            [[r['seed'], *(f'{r[c]:.4f}' for c in columns)] for r in rows]),
        '']
  common.write_results(FLAGS.out, 'emerging_init',
                       dict(machine=common.machine(), rows=rows),
                       '\n'.join(md))
  print('\n'.join(md))


if __name__ == '__main__':
  app.run(main)
