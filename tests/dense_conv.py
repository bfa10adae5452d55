"""Explicit matrices of convolutions, for closed-form comparisons in tests."""

import numpy as np


def conv_matrix(kernel, height, width, padding='SAME'):
  """The `(H W C) x (H W C)` matrix of a stride-1 cross-correlation.

  Built entry by entry from the definition
  `y[i, j, o] = sum_{a, b, c} x[i + a - p_h, j + b - p_w, c] K[a, b, c, o]`,
  with zeros outside the image ('SAME') or wrapping ('CIRCULAR'); it shares
  no code with the package.
  """
  k_h, k_w, c_in, c_out = kernel.shape
  p_h, p_w = (k_h - 1) // 2, (k_w - 1) // 2
  index = lambda i, j, c: (i * width + j) * c_in + c
  out_index = lambda i, j, c: (i * width + j) * c_out + c
  m = np.zeros((height * width * c_out, height * width * c_in))
  for i in range(height):
    for j in range(width):
      for a in range(k_h):
        for b in range(k_w):
          si, sj = i + a - p_h, j + b - p_w
          if padding == 'CIRCULAR':
            si, sj = si % height, sj % width
          elif not (0 <= si < height and 0 <= sj < width):
            continue
          for c in range(c_in):
            for o in range(c_out):
              m[out_index(i, j, o), index(si, sj, c)] += kernel[a, b, c, o]
  return m


def apply_matrix(m, x):
  """Applies a dense `(D x D)` matrix to a batch of NHWC images."""
  flat = x.reshape(x.shape[0], -1)
  return (flat @ m.T).reshape(x.shape)
