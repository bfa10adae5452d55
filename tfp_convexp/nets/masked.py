"""Autoregressive (masked) dense and convolution layers, MADE / PixelCNN style.

Every unit has a *degree* in `0..D-1` along the data's channel (or feature)
axis: data unit `i` has degree `i`; a layer of `n = m D` units gives each
block of `m` consecutive units one degree. A unit of degree `d` may read
input units of degree `<= d` (`strict=False`) or `< d` (`strict=True`). A
convolution also reads every channel of the pixels before its own in raster
order (rows above; the same row, to the left) and nothing after. Stacked
with one strict layer last, the result at (pixel p, channel c) depends only
on pixels before p and on channels `< c` of p.
"""

import numpy as np
import tensorflow as tf

from tfp_convexp import ops

__all__ = ['degrees', 'MaskedDense', 'MaskedConv2D']


def degrees(units, data_units, layer='masked layer'):
  """Degrees of `units` units for data with `data_units` units."""
  if units % data_units:
    raise ValueError(f'{layer}: {units} units cannot be split evenly into '
                     f'{data_units} autoregressive groups; use a multiple of '
                     f'{data_units}.')
  return np.repeat(np.arange(data_units), units // data_units)


def _channel_mask(in_units, out_units, data_units, strict, layer):
  d_in = degrees(in_units, data_units, layer)
  d_out = degrees(out_units, data_units, layer)
  allowed = d_in[:, None] < d_out[None] if strict else (
      d_in[:, None] <= d_out[None])
  return allowed.astype(np.float32)  # [in, out]


class MaskedDense(tf.Module):
  """`x @ (W * mask) + b` with MADE degrees (see module doc)."""

  def __init__(self, in_units, out_units, data_units, strict, zero_init=False,
               seed=0, dtype=tf.float32, name=None):
    super().__init__(name=name)
    np_dtype = tf.as_dtype(dtype).as_numpy_dtype
    self.mask = _channel_mask(in_units, out_units, data_units, strict,
                              type(self).__name__).astype(np_dtype)
    init = np.zeros((in_units, out_units)) if zero_init else (
        np.random.default_rng(seed).standard_normal((in_units, out_units)) *
        np.sqrt(2. / in_units))
    self.kernel = tf.Variable((init * self.mask).astype(np_dtype),
                              name='kernel')
    self.bias = tf.Variable(np.zeros(out_units, np_dtype), name='bias')

  def __call__(self, x):
    return tf.matmul(x, self.kernel * self.mask) + self.bias


class MaskedConv2D(tf.Module):
  """An odd `k x k` 'SAME' convolution, autoregressive in raster order."""

  def __init__(self, in_channels, out_channels, data_channels, kernel_size,
               strict, zero_init=False, seed=0, dtype=tf.float32, name=None):
    super().__init__(name=name)
    layer = type(self).__name__
    if kernel_size % 2 == 0:
      raise ValueError(f'{layer}: kernel_size must be odd; got {kernel_size}.')
    np_dtype = tf.as_dtype(dtype).as_numpy_dtype
    p = (kernel_size - 1) // 2
    mask = np.zeros((kernel_size, kernel_size, in_channels, out_channels))
    mask[:p] = 1.          # rows above
    mask[p, :p] = 1.       # the same row, to the left
    mask[p, p] = _channel_mask(in_channels, out_channels, data_channels,
                               strict, layer)
    self.mask = mask.astype(np_dtype)
    shape = mask.shape
    init = np.zeros(shape) if zero_init else (
        np.random.default_rng(seed).standard_normal(shape) *
        np.sqrt(2. / (kernel_size * kernel_size * in_channels)))
    self.kernel = tf.Variable((init * self.mask).astype(np_dtype),
                              name='kernel')
    self.bias = tf.Variable(np.zeros(out_channels, np_dtype), name='bias')

  def __call__(self, x):
    return ops.conv2d(x, self.kernel * self.mask) + self.bias
