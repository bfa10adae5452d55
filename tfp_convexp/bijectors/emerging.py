"""Emerging convolutions: two autoregressive convolutions of opposite order."""

import numpy as np
import tensorflow as tf

from tfp_convexp.bijectors.internal import base
from tfp_convexp.bijectors.internal import image_events
from tfp_convexp.ops import autoregressive_conv as ar

__all__ = ['EmergingConv']


def _flip(x):
  return tf.reverse(x, axis=[-3, -2])


class EmergingConv(base.ImageBijector):
  r"""An invertible `k x k` convolution built from two autoregressive ones.

  With `m = (k + 1) / 2`, let `A_1`, `A_2` be `m x m` autoregressive
  convolutions (each output pixel reads pixels above and to the left, and at
  its own pixel only channels `ci <= co`) and `F` the flip of both image
  axes. Then

  ```none
  forward:  z = F A_2 F A_1 x              (receptive field k x k)
  inverse:  x = A_1^-1 F A_2^-1 F z        (anti-diagonal substitution)
  log-det:  H * W * (sum log diag_1 + sum log diag_2)
  ```

  where `diag_1`, `diag_2` are the centre-tap diagonals, kept positive as
  `exp(log_diag)`, so the layer cannot become singular. The inverse is the
  exact substitution of
  `tfp_convexp.ops.autoregressive_conv.ar_conv_inverse`: `H + W - 1` steps
  of a `tf.while_loop`, each solving one anti-diagonal of pixels at
  once, on device and XLA-compilable (the reference code solves pixel by
  pixel in Cython on the host).

  The papers' "emerging" mixing layer also puts a 1x1 convolution in front;
  compose `Conv1x1` for that.

  #### Example

  ```python
  layer = tfp_convexp.bijectors.EmergingConv([16, 16, 12], kernel_size=3)
  z = layer.forward(tf.random.normal([8, 16, 16, 12]))
  x = layer.inverse(z)
  ```

  #### References

  [1]: Emiel Hoogeboom, Rianne van den Berg and Max Welling. Emerging
       Convolutions for Generative Normalizing Flows. In _ICML_, 2019.
  """

  def __init__(self, event_shape, kernel_size=3, init_scale=0.02, seed=None,
               dtype=tf.float32, validate_args=False, name='emerging_conv'):
    """Builds the layer.

    Args:
      event_shape: `[H, W, C]` (NHWC).
      kernel_size: odd int, the receptive field of the composition.
      init_scale: standard deviation of the initial off-centre and
        off-diagonal taps (the centre diagonal starts at 1). 0.02 is the
        emerging paper's code; the convolution-exponential paper's port
        draws `1 / sqrt(m^2 C^2)` instead, the same order at 12 to 48
        channels but 0.125 at 4, where its random shear started the
        study's digits model 0.38 to 0.80 bits/dim behind and kept it
        behind (`benchmarks/results/emerging_init.md`, `study.md`).
      seed: optional int for the initialisation.
      dtype: floating dtype.
      validate_args: check inputs and weights for non-finite values.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    if (isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or
        kernel_size < 1 or kernel_size % 2 == 0):
      raise ValueError(f'{layer}: `kernel_size` must be an odd positive int '
                       f'(two autoregressive halves of size (k+1)/2); got '
                       f'{kernel_size!r}.')
    if (isinstance(init_scale, bool) or
        not isinstance(init_scale, (int, float)) or
        not 0. <= init_scale < np.inf):
      raise ValueError(f'{layer}: `init_scale` must be a finite number >= 0; '
                       f'got {init_scale!r}.')
    with tf.name_scope(name) as name:
      self._event_shape = image_events.image_event_shape(event_shape, layer)
      dtype = image_events.float_dtype(dtype, layer)
      self._kernel_size = kernel_size
      m, c = (kernel_size + 1) // 2, self._event_shape[-1]
      self._mask = ar.ar_kernel_mask(m, c).astype(dtype.as_numpy_dtype)
      np.fill_diagonal(self._mask[m - 1, m - 1], 0.)  # diagonal: exp(log_diag)
      rng = np.random.default_rng(seed)
      shape = (m, m, c, c)
      init = lambda: (rng.standard_normal(shape) * init_scale
                      ).astype(dtype.as_numpy_dtype) * self._mask
      self._weights = [tf.Variable(init(), name=f'kernel_{i}')
                       for i in (1, 2)]
      self._log_diags = [tf.Variable(np.zeros(c, dtype.as_numpy_dtype),
                                     name=f'log_diag_{i}') for i in (1, 2)]
      self._biases = [tf.Variable(np.zeros(c, dtype.as_numpy_dtype),
                                  name=f'bias_{i}') for i in (1, 2)]
      super().__init__(
          is_constant_jacobian=True,
          dtype=dtype,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  def kernels(self):
    """The two masked `[m, m, C, C]` kernels, diagonals included."""
    m = (self._kernel_size + 1) // 2
    out = []
    for weight, log_diag in zip(self._weights, self._log_diags):
      diag = tf.linalg.diag(tf.exp(log_diag))
      centre = tf.pad(diag[None, None], [[m - 1, 0], [m - 1, 0], [0, 0],
                                         [0, 0]])
      out.append(weight * self._mask + centre)
    return out

  def _forward(self, x):
    x, flat = self._checked(x)
    k1, k2 = self.kernels()
    z = ar.ar_conv(flat, k1, self._biases[0])
    z = _flip(ar.ar_conv(_flip(z), k2, self._biases[1]))
    return image_events.from_nhwc(z, x)

  def _inverse(self, y):
    y, flat = self._checked(y)
    k1, k2 = self.kernels()
    x = _flip(ar.ar_conv_inverse(_flip(flat), k2, self._biases[1]))
    x = ar.ar_conv_inverse(x, k1, self._biases[0])
    return image_events.from_nhwc(x, y)

  def _forward_log_det_jacobian(self, x):
    h, w, _ = self._event_shape
    return float(h * w) * tf.add_n([tf.reduce_sum(d) for d in self._log_diags])

  def _inverse_log_det_jacobian(self, y):
    return -self._forward_log_det_jacobian(y)

  def _parameter_control_dependencies(self, is_init):
    if not self.validate_args or is_init:
      return []
    return [tf.debugging.assert_all_finite(
        v, f'{type(self).__name__}: {v.name} has non-finite values.')
            for v in (*self._weights, *self._log_diags, *self._biases)]
