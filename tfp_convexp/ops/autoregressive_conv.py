"""Autoregressive ("square") convolutions and their exact, on-device inverse.

An `m x m` kernel whose output pixel is its bottom-right tap only reads pixels
above and to the left (zero padding), and at its own pixel only input
channels `ci <= co`. Its Jacobian is triangular in raster order, with the
centre tap's diagonal on the diagonal. This is half of an emerging
convolution (Hoogeboom, van den Berg and Welling, ICML 2019).

Inverse by anti-diagonal (wavefront) substitution: pixel `(i, j)` only reads
pixels with a smaller `i + j`, so all pixels of one anti-diagonal can be
solved at once from the earlier ones. Skewing the image (row `i` shifted right
by `i`) turns anti-diagonals into columns; `H + W - 1` steps of a
`tf.while_loop` then each solve one column with one small convolution and one
`C x C` triangular matrix product. No Python loop over pixels, no host
callback, XLA-compilable.
"""

import numpy as np
import tensorflow as tf

from tfp_convexp.ops import conv as conv_lib
from tfp_convexp.ops.eager import graph_when_eager

__all__ = ['ar_kernel_mask', 'ar_conv', 'ar_conv_inverse', 'skew', 'unskew']


def ar_kernel_mask(size, channels):
  """`[m, m, C, C]` 0/1 mask: all taps but the centre's lower part (ci > co)."""
  mask = np.ones((size, size, channels, channels), np.float32)
  mask[size - 1, size - 1] = np.triu(np.ones((channels, channels)))
  return mask


def ar_conv(x, kernel, bias=None):
  """`z[i, j] = sum_{a, b < m} x[i - a, j - b] K[m-1-a, m-1-b] (+ bias)`."""
  m = int(kernel.shape[0])
  padded = tf.pad(x, [[0, 0], [m - 1, 0], [m - 1, 0], [0, 0]])
  z = conv_lib.conv2d(padded, kernel, 'VALID')
  return z if bias is None else z + bias


def skew(x):
  """`[B, H, W, C] -> [B, H, H + W - 1, C]` with `out[:, i, i + j] = x[:, i, j]`."""
  b, c = tf.shape(x)[0], tf.shape(x)[3]
  h, w = int(x.shape[1]), int(x.shape[2])
  padded = tf.pad(x, [[0, 0], [0, 0], [0, h], [0, 0]])
  flat = tf.reshape(padded, [b, -1, c])[:, :h * (h + w - 1)]
  return tf.reshape(flat, [b, h, h + w - 1, c])


def unskew(s, width):
  """Inverse of `skew` for images of the given width."""
  b, c = tf.shape(s)[0], tf.shape(s)[3]
  h = int(s.shape[1])
  flat = tf.pad(tf.reshape(s, [b, -1, c]), [[0, 0], [0, h], [0, 0]])
  return tf.reshape(flat, [b, h, h + width, c])[:, :, :width]


def _skewed_kernel(kernel):
  """Off-centre taps as a `[m, L, C, C]` kernel over (row, column lag).

  Tap `(a', b')` reads `a = m-1-a'` rows up and `b = m-1-b'` columns left,
  which in the skewed image is column lag `a + b` (1..L, L = 2(m-1)) and the
  same row offset. The window holds lags L..1 in columns 0..L-1.
  """
  m = int(kernel.shape[0])
  lags = 2 * (m - 1)
  indices, taps = [], []
  for ap in range(m):
    for bp in range(m):
      if ap == bp == m - 1:
        continue
      lag = (m - 1 - ap) + (m - 1 - bp)
      indices.append([ap, lags - lag])
      taps.append([ap, bp])
  shape = tf.concat([[m, lags], tf.shape(kernel)[2:]], axis=0)
  return tf.scatter_nd(indices, tf.gather_nd(kernel, taps), shape)


def ar_conv_inverse(z, kernel, bias=None):
  """Solves `ar_conv(x, kernel, bias) = z` for `x`, exactly.

  Args:
    z: `[B, H, W, C]`, static H and W.
    kernel: `[m, m, C, C]` masked by `ar_kernel_mask`, with a non-zero
      diagonal at the centre tap.
    bias: optional `[C]`.

  Returns:
    `[B, H, W, C]`.
  """
  z = tf.convert_to_tensor(z)
  kernel = tf.convert_to_tensor(kernel, z.dtype)
  if bias is not None:
    z = z - bias
  return _solve(z, kernel)


@graph_when_eager  # H + W - 1 small steps
def _solve(z, kernel):
  """The substitution, unrolled over the `H + W - 1` anti-diagonals.

  Unrolled rather than a `tf.while_loop`: the step count is static, and the
  steps are small, so loop overhead would dominate the arithmetic
  (benchmarks/results/implementation_choices.md).
  """
  m = int(kernel.shape[0])
  h, w = int(z.shape[1]), int(z.shape[2])
  centre_inv = _upper_inverse(kernel[m - 1, m - 1])
  if m == 1:  # no spatial dependence: one triangular solve per pixel
    return conv_lib.channel_matmul(z, tf.transpose(centre_inv))
  lags = 2 * (m - 1)
  channels = int(kernel.shape[-1])
  # Per row offset a' (reading rows i - (m-1-a')), the window-to-output map
  # with the centre solve folded in: [L C, m C], one matmul per step.
  per_row = tf.reshape(_skewed_kernel(kernel), [m, lags * channels, channels])
  window_kernel = tf.concat(tf.unstack(tf.matmul(per_row, centre_inv)), -1)
  z_columns = tf.unstack(tf.matmul(skew(z), centre_inv), axis=2)
  # Positions of the skewed grid that are padding, not pixels, stay zero.
  valid = np.zeros((h, h + w - 1), np.bool_)
  for i in range(h):
    valid[i, i:i + w] = True
  columns = [tf.zeros_like(z_columns[0])] * lags
  for t, z_t in enumerate(z_columns):
    window = tf.concat(columns[-lags:], axis=-1)  # [B, H, L C], lag L..1
    known = tf.split(tf.matmul(window, window_kernel), m, axis=-1)
    column = z_t - known[m - 1]
    for ap in range(m - 1):  # shift rows down by m-1-a', zero-filled
      drop = m - 1 - ap
      if drop < h:  # otherwise the tap reads only padding
        column -= tf.pad(known[ap][:, :h - drop], [[0, 0], [drop, 0], [0, 0]])
    if not valid[:, t].all():
      column = column * valid[:, t, None].astype(column.dtype.as_numpy_dtype)
    columns.append(column)
  x_skew = tf.stack(columns[lags:], axis=2)
  return unskew(x_skew, w)


def _upper_inverse(matrix):
  """Inverse of an upper-triangular `[C, C]` matrix."""
  eye = tf.eye(tf.shape(matrix)[0], dtype=matrix.dtype)
  return tf.linalg.triangular_solve(matrix, eye, lower=False)
