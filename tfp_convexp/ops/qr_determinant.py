"""Log-determinants and singularity margins from QR, which XLA compiles.

`slogdet`, `det` and `lu` have no XLA kernels; `|det A| = prod |diag R|`
for `A = Q R`, and the smallest `|diag R|` says how close `A` is to
singular.
"""

import numpy as np
import tensorflow as tf

__all__ = ['log_abs_det_from_r', 'qr_log_abs_det', 'assert_nonsingular']


def log_abs_det_from_r(r):
  """`log|det A|` from the `R` of `A = Q R`, per matrix of the batch."""
  return tf.reduce_sum(tf.math.log(tf.abs(tf.linalg.diag_part(r))), -1)


def qr_log_abs_det(matrices):
  """`log|det A|` for a batch `[..., n, n]` of square matrices."""
  _, r = tf.linalg.qr(matrices)
  return log_abs_det_from_r(r)


def assert_nonsingular(r, message):
  """Fails unless every `|diag R| > sqrt(eps)`; `message` names the layer.

  The error prints `x`, the smallest `|diag R|`, and `y`, the margin.
  """
  smallest = tf.reduce_min(tf.abs(tf.linalg.diag_part(r)))
  margin = np.finfo(smallest.dtype.as_numpy_dtype).eps ** 0.5
  return tf.debugging.assert_greater(
      smallest, tf.constant(margin, smallest.dtype), message=message)
