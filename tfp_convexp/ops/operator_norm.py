"""Certified upper bounds on the operator norm of a 2-D convolution.

A stride-1 convolution on an `N_h x N_w` torus is block-diagonalised by the 2-D
DFT: at frequency `w` it multiplies the channel vector by the `C_out x C_in`
matrix `A(w) = sum_d K[d]^T exp(i w . (d - p))` (the *symbol*). Its spectral
norm is `max_w sigma_max(A(w))`. A zero-padded ('SAME') convolution on an
`H x W` image is a restriction of the circular one on any torus with
`N >= H + p` (the padding never wraps onto real pixels), so the same maximum,
taken on that larger grid, bounds it from above.

`sigma_max` of each small block is bounded from above by Gram iteration
(Delattre et al., 2023): `G_0 = A`, `G_{t+1} = G_t^H G_t` has singular values
`sigma^(2^t)`, so `||G_t||_F^(1/2^t)` is an upper bound that tightens to
`sigma_max` by at most a factor `rank^(1/2^(t+1))`. Each step is one small
matmul, so the bound is cheap, differentiable and compiles under XLA.
"""

import math

import numpy as np
import tensorflow as tf

__all__ = [
    'conv_symbol',
    'gram_spectral_norm_bound',
    'conv_operator_norm_bound',
    'norm_bound_grid',
    'rescale_to_norm_bound',
]


def conv_symbol(kernel, grid_shape):
  """Fourier symbol of a stride-1 cross-correlation on a torus.

  Args:
    kernel: `[k_h, k_w, C_in, C_out]` real tensor (the `tf.nn.conv2d` layout),
      odd spatial sizes; tap `(p_h, p_w) = ((k_h - 1) / 2, (k_w - 1) / 2)` is
      the centre.
    grid_shape: Python ints `(N_h, N_w)`, the torus size. Taps that wrap onto
      the same offset are summed (exactly what a circular convolution does).

  Returns:
    Complex `[N_h, N_w // 2 + 1, C_out, C_in]`: the matrix applied to
    `rfft2d(x)` at each frequency of the half spectrum. The other half is its
    complex conjugate, so it has the same singular values.
  """
  kernel = tf.convert_to_tensor(kernel)
  k_h, k_w = int(kernel.shape[0]), int(kernel.shape[1])
  n_h, n_w = int(grid_shape[0]), int(grid_shape[1])

  def phases(n, num_freq, k):
    freq = tf.range(num_freq, dtype=kernel.dtype)[:, None]
    offset = tf.range(k, dtype=kernel.dtype)[None, :] - (k - 1) // 2
    angle = (2. * math.pi / n) * freq * offset
    return tf.complex(tf.cos(angle), tf.sin(angle))

  phase_h = phases(n_h, n_h, k_h)
  phase_w = phases(n_w, n_w // 2 + 1, k_w)
  # tf.complex (not tf.cast) keeps the gradient real without a lossy cast.
  as_complex = tf.complex(kernel, tf.zeros_like(kernel))
  return tf.einsum('ua,vb,abio->uvoi', phase_h, phase_w, as_complex)


def _frobenius(m):
  if m.dtype.is_complex:
    sq = tf.square(tf.math.real(m)) + tf.square(tf.math.imag(m))
  else:
    sq = tf.square(m)
  # The tiny floor keeps log() and its gradient finite for an all-zero block.
  return tf.sqrt(tf.reduce_sum(sq, axis=[-2, -1]) + tf.constant(1e-30, sq.dtype))


def gram_spectral_norm_bound(matrices, iterations=6):
  """Upper bound on the largest singular value of each matrix in a batch.

  Args:
    matrices: `[..., m, n]` real or complex tensor.
    iterations: Python int `t >= 0`; the bound exceeds `sigma_max` by a factor
      of at most `min(m, n)^(1 / 2^(t+1))` (t=0 is the Frobenius norm).

  Returns:
    Real `[...]` tensor, each entry `>= sigma_max` of its matrix.
  """
  if int(iterations) < 0:
    raise ValueError(f'`iterations` must be >= 0; got {iterations!r}.')
  g = tf.convert_to_tensor(matrices)
  # sigma(A) = sigma(A^H): square on the smaller side (C x C, not the hidden
  # width, for a wide symbol such as a 528 -> 12 convolution).
  wide = g.shape[-2] is not None and g.shape[-1] is not None and (
      g.shape[-2] < g.shape[-1])
  log_bound = 0.
  for t in range(int(iterations) + 1):
    norm = _frobenius(g)
    log_bound += tf.math.log(norm) / 2.**t
    if t < iterations:
      # Rescaling by the norm keeps the repeated squaring inside float range.
      norm = norm[..., None, None]
      if g.dtype.is_complex:  # tf.cast would warn on the gradient's way back
        norm = tf.complex(norm, tf.zeros_like(norm))
      g = g / norm
      if wide and t == 0:
        g = tf.linalg.matmul(g, g, adjoint_b=True)
      else:
        g = tf.linalg.matmul(g, g, adjoint_a=True)
  return tf.exp(log_bound)


def norm_bound_grid(spatial_shape, kernel_size, padding):
  """The torus on which the convolution's norm is certified (see module doc).

  A 1x1 convolution applies the same matrix at every frequency, so one
  frequency certifies it.
  """
  (h, w), (k_h, k_w) = spatial_shape, kernel_size
  if k_h == 1 and k_w == 1:
    return 1, 1
  if padding == 'CIRCULAR':
    return int(h), int(w)
  return int(h) + (k_h - 1) // 2, int(w) + (k_w - 1) // 2


def conv_operator_norm_bound(kernel, spatial_shape, padding='SAME',
                             iterations=6):
  """Certified upper bound on `||conv(., kernel)||_2` on `H x W` images.

  Args:
    kernel: `[k_h, k_w, C, C]` tensor, odd spatial sizes.
    spatial_shape: Python ints `(H, W)`.
    padding: `'SAME'` (zeros) or `'CIRCULAR'`. For `'CIRCULAR'` the only slack
      is that of the Gram iteration.
    iterations: Gram iterations per frequency block.

  Returns:
    Scalar tensor of the kernel's real dtype.
  """
  kernel = tf.convert_to_tensor(kernel)
  grid = norm_bound_grid(spatial_shape, kernel.shape[:2], padding)
  if grid == (1, 1):
    # The one-frequency symbol is the real matrix itself: real Gram steps
    # cost a quarter of complex ones (a 528 x 528 float32 kernel: 97 -> 20 ms).
    return gram_spectral_norm_bound(kernel[0, 0], iterations)
  symbol = conv_symbol(kernel, grid)
  return tf.reduce_max(gram_spectral_norm_bound(symbol, iterations))


def rescale_to_norm_bound(weights, norm, bound):
  """`weights` scaled down, if `norm > bound`, so that their norm is `bound`.

  `norm` is a certified bound on the weights' operator norm, homogeneous in
  the weights; the target sits a few ulps below `bound` so that
  re-certifying the rescaled weights (equal up to round-off) still lands
  inside. Weights already inside are returned unchanged.
  """
  weights = tf.convert_to_tensor(weights)
  eps = np.finfo(weights.dtype.as_numpy_dtype).eps
  target = tf.constant(float(bound) * (1. - 16. * eps), weights.dtype)
  return weights * tf.minimum(target / norm, 1.)


def norm_projection(norm_of, bound):
  """The projection of weights onto `{W : norm_of(W) <= bound}`, by rescaling.

  Layers whose series length or contraction rests on a certified norm bound
  use it twice: on the initial weights, and as the variable's `constraint`,
  which Keras optimizers (Keras 3 and tf_keras) apply after every update, so
  calls pay nothing for it (`tfp_convexp.bijectors.project_variables` applies
  it after weights are assigned by hand).

  Args:
    norm_of: function from weights to a certified upper bound on their
      operator norm, homogeneous of degree 1 in the weights.
    bound: Python float > 0.
  """
  def projected(weights):
    weights = tf.convert_to_tensor(weights)
    return rescale_to_norm_bound(weights, norm_of(weights), bound)
  return projected


def assert_norm_within(weights, norm_of, bound, message):
  """An assertion that `weights` are finite and `norm_of(weights) <= bound`;
  `message` says which layer and what rests on the bound."""
  weights = tf.debugging.assert_all_finite(
      weights, f'{message} The weights have non-finite values.')
  norm = norm_of(weights)
  return tf.debugging.assert_less_equal(
      norm, tf.constant(bound, norm.dtype),
      message=f'{message} Call project() after assigning the weights by '
              f'hand. x is the certified norm of the current weights, y the '
              f'limit.')
