"""Seeded initial values shared by several layers (numpy, run once)."""

import numpy as np
import tensorflow as tf


def random_rotation(rng, channels, special=False):
  """A Haar-random orthogonal `C x C` matrix (QR of a Gaussian, float64).

  Args:
    rng: a `np.random.Generator`.
    channels: `C`.
    special: make `det = +1` (flip the first column if needed), as a real
      matrix logarithm needs.
  """
  q, r = np.linalg.qr(rng.standard_normal((channels, channels)))
  q = q * np.sign(np.diag(r))
  if special and np.linalg.det(q) < 0:
    q[:, 0] = -q[:, 0]
  return q


def rotation_generator(rng, channels):
  """`A` with `expm(A)` a Haar-random rotation: the real logarithm of a
  `random_rotation(special=True)`, made exactly skew-symmetric, so that
  `trace(A) = 0` (float64)."""
  rotation = random_rotation(rng, channels, special=True)
  log = tf.linalg.logm(tf.constant(rotation.astype(np.complex128))).numpy().real
  return 0.5 * (log - log.T)
