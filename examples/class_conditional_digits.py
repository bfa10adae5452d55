"""A class-conditional flow of the digits: samples of each digit, and the
flow as a classifier.

    .venv/bin/python examples/class_conditional_digits.py   # about a minute and a half on 2 cores

`flows.make_flow(..., num_classes=10)` gives the top prior and the split
prior per-class learned means and scales (Glow's class-conditional prior),
so the model is a density `P(x | y)`. It is trained here with the digits'
labels (`log_prob(x, label=y)`) in an XLA-compiled `tf.GradientTape` step,
then:

- `log_prob(x, label=y)` on the test digits, in bits/dim;
- `class_log_probs(x)`, `log P(x | y)` for all ten digits at once, whose
  argmax is the Bayes classifier under a uniform prior over the digits:
  its accuracy on the 297 test digits;
- `sample(n, label=y)`: a picture with one row of samples per digit
  (`--out`).
"""

import math
import os

from absl import app
from absl import flags
import keras
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np
import tensorflow as tf

from tfp_convexp import data
from tfp_convexp import flows

flags.DEFINE_integer('train_steps', 1500, 'Optimizer steps.', lower_bound=1)
flags.DEFINE_integer('n_subflows', 4, 'Flow steps per level.', lower_bound=1)
flags.DEFINE_integer('width', 64, 'Width of the coupling networks.',
                     lower_bound=1)
flags.DEFINE_integer('batch_size', 64, 'Images per step.', lower_bound=1,
                     upper_bound=1500)
flags.DEFINE_integer('samples_per_digit', 8, 'Columns of the picture.',
                     lower_bound=1, upper_bound=32)
flags.DEFINE_float('temperature', 0.8, 'Standard deviation of the latent of '
                   'the samples, in [0, 2].', lower_bound=0., upper_bound=2.)
flags.DEFINE_integer('seed', 0, 'Seed of weights, data order and noise.',
                     lower_bound=0)
flags.DEFINE_string('out', os.path.join('examples', 'out',
                                        'class_conditional_digits.png'),
                    'Where the picture of samples goes.')
FLAGS = flags.FLAGS


def bits(log_prob):
  return float(-tf.reduce_mean(log_prob)) / (64 * math.log(2.))


def main(argv):
  del argv
  train, train_labels = data.digits_split('train', labels=True)
  test, test_labels = data.digits_split('test', labels=True)
  model = flows.make_flow(
      data.DIGITS_IMAGE_SHAPE, num_bins=data.DIGITS_NUM_BINS, num_classes=10,
      mixing='1x1', coupling_net='plain', n_intermediate_channels=FLAGS.width,
      n_subflows=FLAGS.n_subflows, seed=FLAGS.seed)
  # ActNorm initialises itself from its first batch: run one eagerly.
  model.log_prob(train[:512], label=train_labels[:512], seed=[FLAGS.seed, 0])
  optimizer = keras.optimizers.Adam(1e-3)
  variables = model.trainable_variables

  @tf.function(jit_compile=True)
  def loss(x, y, seed):
    return -tf.reduce_mean(model.log_prob(x, label=y, seed=seed))

  @tf.function
  def train_step(x, y, seed):
    with tf.GradientTape() as tape:
      value = loss(x, y, seed)
    optimizer.apply_gradients(zip(tape.gradient(value, variables), variables))
    return value

  rng = np.random.default_rng(FLAGS.seed)
  for step in range(1, FLAGS.train_steps + 1):
    index = rng.choice(len(train), FLAGS.batch_size, replace=False)
    value = train_step(tf.constant(train[index]),
                       tf.constant(train_labels[index]),
                       tf.constant([FLAGS.seed, step]))
    if step % 500 == 0 or step == FLAGS.train_steps:
      print(f'step {step}: train {float(value) / (64 * math.log(2.)):.3f} '
            f'bits/dim')

  seed = [FLAGS.seed + 1, 0]
  print(f'test bits/dim given the digit: '
        f'{bits(model.log_prob(test, label=test_labels, seed=seed)):.4f}')
  table = model.class_log_probs(test, seed=seed).numpy()  # [297, 10]
  accuracy = np.mean(table.argmax(-1) == test_labels)
  print(f'Bayes classifier argmax_y P(x | y) on the {len(test)} test digits: '
        f'accuracy {accuracy:.4f} ({np.sum(table.argmax(-1) == test_labels)} '
        f'right)')

  columns = FLAGS.samples_per_digit
  digits = np.repeat(np.arange(10), columns)
  samples = model.sample(len(digits), label=digits, seed=[FLAGS.seed, 2],
                         temperature=FLAGS.temperature).numpy()
  fig, axes = plt.subplots(10, columns, figsize=(max(columns, 3) * 0.8, 8.6),
                           squeeze=False)
  for ax, image, digit in zip(axes.flat, samples, digits):
    ax.imshow(image[..., 0], cmap='gray', vmin=0, vmax=16)
    ax.set_xticks([])
    ax.set_yticks([])
    if ax in axes[:, 0]:
      ax.set_ylabel(str(digit), rotation=0, labelpad=10, fontsize=12)
  fig.suptitle(f'samples given the digit (T = {FLAGS.temperature:g}); '
               f'Bayes accuracy {accuracy:.1%}')
  os.makedirs(os.path.dirname(FLAGS.out) or '.', exist_ok=True)
  fig.savefig(FLAGS.out, dpi=80)
  plt.close(fig)
  print(f'wrote {FLAGS.out}')


if __name__ == '__main__':
  app.run(main)
