"""Fits a small convolution-exponential flow to the offline digits data set.

    python examples/fit_digits.py [--steps=2000] [--mixing=convexp|none]

The model encodes an 8x8 digit (17 grey levels) with uniform dequantization,
a squeeze to 4x4x4, and four steps of [ConvolutionExponential, affine
coupling] onto a standard normal; it prints train and test bits per
dimension as it trains. `--mixing=none` drops the convolution exponentials
(couplings only), the baseline it improves on.
"""

import math
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_convexp

tfb = tfp.bijectors
tfd = tfp.distributions

flags.DEFINE_integer('steps', 2000, 'Training steps.')
flags.DEFINE_integer('batch_size', 64, 'Images per step.')
flags.DEFINE_float('lr', 2e-3, 'Adam learning rate.')
flags.DEFINE_enum('mixing', 'convexp', ['convexp', 'none'], 'Mixing layer.')
flags.DEFINE_integer('flow_steps', 4, 'Steps of [mixing, coupling].')
flags.DEFINE_integer('hidden', 64, 'Channels of the coupling networks.')
flags.DEFINE_integer('seed', 0, 'Seed for weights, batches and noise.')
FLAGS = flags.FLAGS


class CouplingNet(tf.Module):
  """conv3x3-relu-conv1x1-relu-conv3x3 giving a shift and bounded scale."""

  def __init__(self, in_channels, out_channels, hidden, seed, name=None):
    super().__init__(name=name)
    init = tf.keras.initializers.GlorotUniform
    self.w1 = tf.Variable(init(seed)([3, 3, in_channels, hidden]))
    self.w2 = tf.Variable(init(seed + 1)([1, 1, hidden, hidden]))
    self.b1 = tf.Variable(tf.zeros([hidden]))
    self.b2 = tf.Variable(tf.zeros([hidden]))
    # Zero output weights: every coupling starts as the identity.
    self.w3 = tf.Variable(tf.zeros([3, 3, hidden, 2 * out_channels]))
    self.b3 = tf.Variable(tf.zeros([2 * out_channels]))

  def __call__(self, x, output_units):
    h = tf.nn.relu(tf.nn.conv2d(x, self.w1, 1, 'SAME') + self.b1)
    h = tf.nn.relu(tf.nn.conv2d(h, self.w2, 1, 'SAME') + self.b2)
    shift, raw = tf.split(tf.nn.conv2d(h, self.w3, 1, 'SAME') + self.b3, 2,
                          axis=-1)
    return tfb.Chain([tfb.Shift(shift), tfb.Scale(log_scale=tf.tanh(raw))])


def make_model(num_bins, seed):
  """`(distribution over dequantized images in [0, 1]^D, its bijector)`."""
  encoder = [tfb.Shift(-0.5), tfb.Scale(4.), tfp_convexp.bijectors.Squeeze(2)]
  for i in range(FLAGS.flow_steps):
    if FLAGS.mixing == 'convexp':
      encoder.append(tfp_convexp.bijectors.ConvolutionExponential(
          [4, 4, 4], seed=seed + i, name=f'convexp_{i}'))
    net = CouplingNet(2, 2, FLAGS.hidden, seed=seed + 100 * i,
                      name=f'coupling_net_{i}')
    encoder.append(tfb.RealNVP(num_masked=2 if i % 2 else -2, bijector_fn=net,
                               name=f'coupling_{i}'))
  data_to_latent = tfb.Chain(encoder[::-1])
  base = tfd.Sample(tfd.Normal(0., 1.), [4, 4, 4])
  del num_bins
  return tfd.TransformedDistribution(base, tfb.Invert(data_to_latent))


def bits_per_dim(model, images, noise, num_bins):
  """`-log2 p(x) / D` for integer images under uniform dequantization."""
  x = (tf.cast(images, tf.float32) + noise) / num_bins
  dims = float(np.prod(images.shape[1:]))
  nats = -model.log_prob(x) + dims * math.log(num_bins)
  return nats / (dims * math.log(2.))


def main(argv):
  del argv
  tf.random.set_seed(FLAGS.seed)
  num_bins = tfp_convexp.data.DIGITS_NUM_BINS
  train = tfp_convexp.data.digits_split('train')
  test = tf.constant(tfp_convexp.data.digits_split('test'))
  model = make_model(num_bins, FLAGS.seed)
  optimizer = tf.keras.optimizers.Adam(FLAGS.lr)
  variables = model.trainable_variables
  optimizer.build(variables)
  test_noise = tf.random.stateless_uniform(test.shape, seed=[FLAGS.seed, 1])

  @tf.function(jit_compile=True)
  def loss_fn(batch, noise):
    return tf.reduce_mean(bits_per_dim(model, batch, noise, num_bins))

  @tf.function
  def train_step(batch, seed):
    noise = tf.random.stateless_uniform(batch.shape, seed=seed)
    with tf.GradientTape() as tape:
      loss = loss_fn(batch, noise)
    grads = tape.gradient(loss, variables)
    grads, norm = tf.clip_by_global_norm(grads, 100.)
    optimizer.apply_gradients(zip(grads, variables))
    return loss, norm

  num_params = sum(int(np.prod(v.shape)) for v in variables)
  print(f'digits: {len(train)} train / {len(test)} test images of 8x8, '
        f'{num_bins} levels; mixing={FLAGS.mixing}, {num_params} parameters')
  print(f'uniform model: {math.log2(num_bins):.3f} bits/dim; '
        f'initial test: {float(loss_fn(test, test_noise)):.3f} bits/dim')
  rng = np.random.default_rng(FLAGS.seed)
  start, running = time.time(), []
  for step in range(1, FLAGS.steps + 1):
    batch = tf.constant(train[rng.choice(len(train), FLAGS.batch_size,
                                         replace=False)])
    loss, _ = train_step(batch, tf.constant([FLAGS.seed, step + 1]))
    running.append(float(loss))
    if step % 250 == 0 or step == FLAGS.steps:
      print(f'step {step:5d}  train {np.mean(running):.3f}  '
            f'test {float(loss_fn(test, test_noise)):.3f} bits/dim  '
            f'({step * FLAGS.batch_size / (time.time() - start):.0f} images/s)')
      running = []
  final = float(loss_fn(test, test_noise))
  if not math.isfinite(final):
    raise SystemExit('test bits/dim is not finite')
  print(f'final test bits/dim: {final:.3f}')


if __name__ == '__main__':
  app.run(main)
