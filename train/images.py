"""Sample grids as PNG files and TensorBoard images."""

import math

import numpy as np
import tensorflow as tf


def grid(images, num_bins):
  """`uint8 [rows * H, cols * W, C]` of integer images in [0, num_bins)."""
  images = np.asarray(images)
  n, h, w, c = images.shape
  cols = int(math.ceil(math.sqrt(n)))
  rows = int(math.ceil(n / cols))
  scaled = np.round(images.astype(np.float64) * (255. / (num_bins - 1)))
  canvas = np.zeros((rows * h, cols * w, c), np.uint8)
  for i, image in enumerate(scaled.astype(np.uint8)):
    r, q = divmod(i, cols)
    canvas[r * h:(r + 1) * h, q * w:(q + 1) * w] = image
  return canvas


def write_png(path, canvas):
  """Writes atomically: a crash never leaves a partial PNG."""
  tmp = path + '.tmp'
  tf.io.write_file(tmp, tf.io.encode_png(canvas))
  tf.io.gfile.rename(tmp, path, overwrite=True)
