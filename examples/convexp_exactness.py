"""The convolution exponential is exact: its matrix against `expm` of the
dense convolution matrix, as a figure.

    .venv/bin/python examples/convexp_exactness.py   # a few seconds

A `ConvolutionExponential` layer on small `[H, W, C]` images, in float64,
with a random kernel scaled onto its norm bound (the hardest case the
certificate covers). Its matrix is read off by applying the layer to every
basis image. The reference is formed without the layer's code: the dense
matrix `M` of the convolution from `tf.nn.conv2d` of the basis images, then
`tf.linalg.expm(M)` (Pade approximation). Prints the largest difference,
the layer's certified truncation bound, and the log-determinant against
`slogdet`; draws both matrices and the difference (`--out`).
"""

import os

from absl import app
from absl import flags
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np
import tensorflow as tf

from tfp_convexp import bijectors

flags.DEFINE_list('shape', ['5', '6', '2'], 'H,W,C of the images.')
flags.DEFINE_enum('padding', 'SAME', ['SAME', 'CIRCULAR'], 'Padding of the '
                  'convolution.')
flags.DEFINE_float('norm_bound', 0.95, 'Norm bound of the layer, in (0, 5].',
                   lower_bound=1e-3, upper_bound=5.)
flags.DEFINE_integer('seed', 0, 'Seed of the kernel.', lower_bound=0)
flags.DEFINE_string('out', os.path.join('examples', 'out',
                                        'convexp_exactness.png'),
                    'Where the figure goes.')
flags.register_validator(
    'shape', lambda s: len(s) == 3 and all(v.isdigit() and 1 <= int(v) <= 12
                                           for v in s),
    '--shape must be three ints in [1, 12] (the dense matrix is D x D, '
    'D = H W C).')
FLAGS = flags.FLAGS


def basis_images(shape):
  """The `D` basis images `e_j`, `[D, H, W, C]`."""
  d = int(np.prod(shape))
  return tf.reshape(tf.eye(d, dtype=tf.float64), [d, *shape])


def matrix_of(fn, shape):
  """The `D x D` matrix of a linear map of images: column `j` is `fn(e_j)`."""
  d = int(np.prod(shape))
  return tf.transpose(tf.reshape(fn(basis_images(shape)), [d, d]))


def dense_convolution(kernel, shape, padding):
  """`M` of the stride-1 convolution, through `tf.nn.conv2d` alone."""
  def conv(x):
    if padding == 'CIRCULAR':  # wrap the borders, then convolve unpadded
      ph, pw = kernel.shape[0] // 2, kernel.shape[1] // 2
      x = tf.concat([x[:, -ph:], x, x[:, :ph]], 1) if ph else x
      x = tf.concat([x[:, :, -pw:], x, x[:, :, :pw]], 2) if pw else x
      return tf.nn.conv2d(x, kernel, 1, 'VALID')
    return tf.nn.conv2d(x, kernel, 1, 'SAME')
  return matrix_of(conv, shape)


def main(argv):
  del argv
  shape = tuple(int(v) for v in FLAGS.shape)
  layer = bijectors.ConvolutionExponential(
      shape, padding=FLAGS.padding, norm_bound=FLAGS.norm_bound,
      seed=FLAGS.seed, dtype=tf.float64)
  # A random kernel, scaled onto the norm bound by the layer's constraint.
  layer.kernel.assign(tf.random.stateless_normal(layer.kernel.shape,
                                                 [FLAGS.seed, 1],
                                                 dtype=tf.float64))
  bijectors.project_variables(layer)

  series = matrix_of(layer.forward, shape).numpy()
  expm = tf.linalg.expm(dense_convolution(layer.kernel, shape,
                                          FLAGS.padding)).numpy()
  error = np.abs(series - expm)
  _, slogdet = np.linalg.slogdet(expm)
  log_det = float(layer.forward_log_det_jacobian(tf.zeros(shape, tf.float64),
                                                 event_ndims=3))
  norm = float(layer.operator_norm_bound())
  how = (f'{layer.terms} series terms at most, certified error '
         f'{layer.truncation_error_bound:.1e} ||x||' if layer.method == 'series'
         else 'exact in the Fourier domain (circular padding)')
  print(f'{FLAGS.padding} convolution on {shape}: certified ||M|| <= '
        f'{norm:.3f}; {how}')
  print(f'max |exp(M) - expm(M)| = {error.max():.2e}')
  print(f'log-det: layer {log_det:.12f}, slogdet {slogdet:.12f}')

  fig, axes = plt.subplots(1, 3, figsize=(13, 4.4), layout='constrained')
  limit = np.abs(expm).max()
  for ax, matrix, title in ((axes[0], series, 'the layer: exp(M) by series'),
                            (axes[1], expm, 'tf.linalg.expm(dense M)')):
    shown = ax.imshow(matrix, cmap='RdBu_r', vmin=-limit, vmax=limit)
    ax.set_title(title)
  fig.colorbar(shown, ax=axes[:2], shrink=0.8)
  shown = axes[2].imshow(np.log10(error + 1e-300), cmap='viridis',
                         vmin=-18, vmax=-6)
  axes[2].set_title(f'log10 |difference|, max {error.max():.1e}')
  fig.colorbar(shown, ax=axes[2], shrink=0.8)
  fig.suptitle(f'convolution exponential on {shape[0]}x{shape[1]}x{shape[2]} '
               f'images, {FLAGS.padding} padding, ||M|| <= {norm:.2f}: '
               f'D = {series.shape[0]}')
  os.makedirs(os.path.dirname(FLAGS.out) or '.', exist_ok=True)
  fig.savefig(FLAGS.out, dpi=80)
  plt.close(fig)
  print(f'wrote {FLAGS.out}')


if __name__ == '__main__':
  app.run(main)
