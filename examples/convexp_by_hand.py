"""A convolution-exponential flow built by hand from the layers, trained in a
plain `tf.GradientTape` loop with a Keras optimizer on the offline digits.

    .venv/bin/python examples/convexp_by_hand.py   # about a minute on 2 cores

The model, data to latent: pixels `v = x + u` (uniform dequantization) are
scaled to `[-1/2, 1/2)`, squeezed to `4 x 4 x 4`, then `--steps_per_flow`
times [ActNorm, convolution exponential, affine coupling]; the latent is
standard normal. `tfb.Invert` of that chain, over the normal, is a
`tfd.TransformedDistribution` whose `log_prob` encodes and `sample` decodes.
Writes a picture of samples (`--out`) and prints test bits/dim before and
after training.
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
import tensorflow_probability as tfp

from tfp_convexp import bijectors
from tfp_convexp import data

tfb, tfd = tfp.bijectors, tfp.distributions

flags.DEFINE_integer('train_steps', 400, 'Optimizer steps.', lower_bound=1)
flags.DEFINE_integer('steps_per_flow', 4, 'Flow steps (ActNorm, convexp, '
                     'coupling).', lower_bound=1)
flags.DEFINE_integer('batch_size', 64, 'Images per step.', lower_bound=1,
                     upper_bound=1500)
flags.DEFINE_float('lr', 2e-3, 'Adam\'s learning rate.', lower_bound=1e-6,
                   upper_bound=1.)
flags.DEFINE_integer('seed', 0, 'Seed of weights, data order and noise.',
                     lower_bound=0)
flags.DEFINE_string('out', os.path.join('examples', 'out',
                                        'convexp_by_hand.png'),
                    'Where the picture of samples goes.')
FLAGS = flags.FLAGS

SHAPE = data.DIGITS_IMAGE_SHAPE  # (8, 8, 1)
BINS = data.DIGITS_NUM_BINS      # pixel values 0..16
SQUEEZED = (4, 4, 4)


def make_model(steps, seed):
  """The flow as a `tfd.TransformedDistribution` over continuous pixels
  `v in [0, BINS)`, and its data-to-latent layers."""
  layers = [tfb.Scale(1. / BINS), tfb.Shift(-0.5), bijectors.Squeeze(2)]
  for i in range(steps):
    layers += [
        bijectors.ActNorm(SQUEEZED, name=f'actnorm_{i}'),
        bijectors.ConvolutionExponential(SQUEEZED, seed=seed * 100 + 2 * i,
                                         name=f'convexp_{i}'),
        bijectors.AffineCoupling(SQUEEZED, seed=seed * 100 + 2 * i + 1,
                                 name=f'coupling_{i}'),
    ]
  data_to_latent = tfb.Chain(layers[::-1])  # tfb.Chain applies the last first
  latent = tfd.Sample(tfd.Normal(0., 1.), SQUEEZED)
  return tfd.TransformedDistribution(latent, tfb.Invert(data_to_latent)), layers


def bits_per_dim(model, x, seed):
  """`-log2 p(x + u) / D` with one uniform `u` per image (a bound on the
  discrete model's bits/dim)."""
  u = tf.random.stateless_uniform(tf.shape(x), seed)
  return -model.log_prob(x + u) / (np.prod(SHAPE) * math.log(2.))


def save_samples(images, path):
  rows = int(math.ceil(len(images) / 8))
  fig, axes = plt.subplots(rows, 8, figsize=(8, rows + 0.4))
  for ax, image in zip(axes.flat, images):
    ax.imshow(image[..., 0], cmap='gray', vmin=0, vmax=BINS - 1)
  for ax in axes.flat:
    ax.axis('off')
  fig.suptitle('samples of a convolution-exponential flow built by hand')
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  fig.savefig(path, dpi=80)
  plt.close(fig)


def main(argv):
  del argv
  tf.random.set_seed(FLAGS.seed)
  train = data.digits_split('train').astype(np.float32)
  test = tf.constant(data.digits_split('test'), tf.float32)
  model, layers = make_model(FLAGS.steps_per_flow, FLAGS.seed)
  # ActNorm initialises itself from its first batch: run one eagerly.
  bits_per_dim(model, tf.constant(train[:256]), [FLAGS.seed, 0])
  before = float(tf.reduce_mean(bits_per_dim(model, test, [FLAGS.seed, 1])))
  print(f'test bits/dim at initialisation: {before:.3f}')

  variables = [v for layer in layers for v in layer.trainable_variables]
  optimizer = keras.optimizers.Adam(FLAGS.lr)

  @tf.function
  def train_step(x, seed):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(bits_per_dim(model, x, seed))
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss

  rng = np.random.default_rng(FLAGS.seed)
  for step in range(1, FLAGS.train_steps + 1):
    batch = train[rng.choice(len(train), FLAGS.batch_size, replace=False)]
    loss = train_step(tf.constant(batch), tf.constant([FLAGS.seed, step + 1]))
    if step % 100 == 0 or step == FLAGS.train_steps:
      print(f'step {step}: train bits/dim {float(loss):.3f}')
  after = float(tf.reduce_mean(bits_per_dim(model, test, [FLAGS.seed, 1])))
  print(f'test bits/dim after {FLAGS.train_steps} steps: {after:.3f}')

  v = model.sample(32, seed=[FLAGS.seed, 2])
  images = np.clip(np.floor(v.numpy()), 0, BINS - 1)
  save_samples(images, FLAGS.out)
  print(f'wrote {FLAGS.out}')


if __name__ == '__main__':
  app.run(main)
