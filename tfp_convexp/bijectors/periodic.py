"""Periodic (circular) convolutions, inverted in the Fourier domain."""

import numpy as np
import tensorflow as tf

from tfp_convexp.bijectors.internal import base
from tfp_convexp import ops
from tfp_convexp.bijectors.internal import image_events
from tfp_convexp.bijectors.internal import initializers

__all__ = ['PeriodicConv']


def _real_embedding(blocks):
  """`[..., C, C]` complex `A` as the real `[[Re A, -Im A], [Im A, Re A]]`.

  Its determinant is `|det A|^2` and it acts on `[Re x; Im x]` as `A` acts on
  `x`, so real QR (which XLA compiles, with gradients) gives both the
  log-determinant and the solve.
  """
  re, im = tf.math.real(blocks), tf.math.imag(blocks)
  return tf.concat([tf.concat([re, -im], -1), tf.concat([im, re], -1)], -2)


class PeriodicConv(base.ImageBijector):
  r"""An invertible circular `k x k` convolution, decoupled by the 2-D DFT.

  With `M` the convolution with circular padding and `A(w)` its `C x C`
  block at frequency `w` of the 2-D DFT (`tfp_convexp.ops.conv_symbol`),

  ```none
  forward:  z = M x                                 (a circular conv2d)
  inverse:  x = irfft2( A(w)^-1 rfft2(z)(w) )        (a solve per frequency)
  log-det:  sum_w log|det A(w)|
  ```

  summed over all `H * W` frequencies (the half spectrum, counting each
  conjugate pair twice). Each `log|det A(w)|` is half the log-determinant of
  a real `2C x 2C` embedding, read off the diagonal of its QR decomposition:
  no `slogdet`, so the log-det and its gradient compile under XLA. The same
  QR factors solve the inverse.

  Nothing constrains `A(w)` away from singular; `validate_args=True` checks
  the smallest `|diag R|` over all frequencies and names the margin.

  #### Example

  ```python
  layer = tfp_convexp.bijectors.PeriodicConv([16, 16, 12], kernel_size=3)
  z = layer.forward(tf.random.normal([8, 16, 16, 12]))
  x = layer.inverse(z)
  ```

  #### References

  [1]: Emiel Hoogeboom, Rianne van den Berg and Max Welling. Emerging
       Convolutions for Generative Normalizing Flows. In _ICML_, 2019
       (section 3.3, periodic convolutions).
  """

  def __init__(self, event_shape, kernel_size=3, seed=None, dtype=tf.float32,
               validate_args=False, name='periodic_conv'):
    """Builds the layer.

    Args:
      event_shape: `[H, W, C]` (NHWC).
      kernel_size: odd int or pair, no larger than the image.
      seed: optional int; as in the reference code, the kernel starts as a
        random rotation at the centre tap plus Gaussian noise of standard
        deviation 0.02 on every tap, so it mixes channels from the start.
      dtype: floating dtype.
      validate_args: check inputs and the invertibility margin.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    with tf.name_scope(name) as name:
      self._event_shape = image_events.image_event_shape(event_shape, layer)
      self._kernel_size = image_events.odd_kernel_size(kernel_size, layer)
      dtype = image_events.float_dtype(dtype, layer)
      h, w, c = self._event_shape
      k_h, k_w = self._kernel_size
      if k_h > h or k_w > w:
        raise ValueError(f'{layer}: the kernel may not be larger than the '
                         f'image (taps would wrap onto each other); got '
                         f'kernel {self._kernel_size} for {h}x{w}.')
      shape = (k_h, k_w, c, c)
      rng = np.random.default_rng(seed)
      init = 0.02 * rng.standard_normal(shape)
      init[(k_h - 1) // 2, (k_w - 1) // 2] += initializers.random_rotation(
          rng, c)
      self._kernel = tf.Variable(init.astype(dtype.as_numpy_dtype),
                                 name='kernel')
      # Conjugate pairs: columns 0 and (even W) W/2 of the half spectrum are
      # their own mirror images; every other column stands for two.
      weights = np.full(w // 2 + 1, 2.)
      weights[0] = 1.
      if w % 2 == 0:
        weights[-1] = 1.
      self._frequency_weights = weights.astype(dtype.as_numpy_dtype)
      super().__init__(
          is_constant_jacobian=True,
          dtype=dtype,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  @property
  def kernel(self):
    """The kernel `tf.Variable`, `[k, k, C, C]`."""
    return self._kernel

  def _factors(self):
    """QR of the real embedding of every frequency block."""
    h, w, _ = self._event_shape
    symbol = ops.conv_symbol(self._kernel, (h, w))
    return tf.linalg.qr(_real_embedding(symbol))

  def _forward(self, x):
    x, flat = self._checked(x)
    return image_events.from_nhwc(ops.conv2d(flat, self._kernel, 'CIRCULAR'),
                                  x)

  def _inverse(self, y):
    y, flat = self._checked(y)
    h, w, c = self._event_shape
    q, r = self._factors()
    spectrum = tf.signal.rfft2d(tf.transpose(flat, [0, 3, 1, 2]))
    # [u, v, 2C, B]: real and imaginary parts stacked per frequency.
    rhs = tf.transpose(tf.concat([tf.math.real(spectrum),
                                  tf.math.imag(spectrum)], 1), [2, 3, 1, 0])
    sol = tf.linalg.triangular_solve(r, tf.matmul(q, rhs, transpose_a=True),
                                     lower=False)
    sol = tf.transpose(sol, [3, 2, 0, 1])  # [B, 2C, u, v]
    x = tf.signal.irfft2d(tf.complex(sol[:, :c], sol[:, c:]), fft_length=[h, w])
    return image_events.from_nhwc(tf.transpose(x, [0, 2, 3, 1]), y)

  def _forward_log_det_jacobian(self, x):
    _, r = self._factors()
    return 0.5 * tf.reduce_sum(ops.log_abs_det_from_r(r) *
                               self._frequency_weights)

  def _inverse_log_det_jacobian(self, y):
    return -self._forward_log_det_jacobian(y)

  def _parameter_control_dependencies(self, is_init):
    if not self.validate_args or is_init:
      return []
    _, r = self._factors()
    return [ops.assert_nonsingular(
        r, f'{type(self).__name__} {self.name!r}: a frequency block is '
           f'(nearly) singular; x is the smallest |diag R| of the QR '
           f'decompositions, y the margin.')]
