"""Glow's invertible 1x1 convolution in three parameterizations."""

import numpy as np
import tensorflow as tf

from tfp_convexp import ops
from tfp_convexp.bijectors.internal import arguments
from tfp_convexp.bijectors.internal import channel_linear
from tfp_convexp.bijectors.internal import initializers

__all__ = ['Conv1x1']

PARAMETERIZATIONS = ('plain', 'lu', 'qr', 'householder')


class Conv1x1(channel_linear.ChannelLinear):
  r"""Invertible 1x1 convolution: one learned `C x C` matrix at every pixel.

  ```none
  forward:  z[h, w] = W x[h, w]
  inverse:  x[h, w] = W^-1 z[h, w]
  log-det:  H * W * log|det W|
  ```

  `W` is built in one of four ways (`parameterization`):

  * `'plain'`: `W` is the variable itself (Glow). `log|det W|` has no closed
    form here; it is `sum log|diag R|` of a QR decomposition (which, unlike
    `slogdet`, compiles under XLA), and the inverse is `tf.linalg.inv`.
    Nothing keeps `W` invertible during training.
  * `'lu'`: `W = P L (U + diag(s * exp(log_scale)))` with a fixed
    permutation `P`, unit lower-triangular `L`, strictly upper `U` and fixed
    signs `s` (Glow's LU form; TFP's `ScaleMatvecLU` without its raw,
    sign-changing diagonal). Analytic `log|det W| = sum(log_scale)`; the
    inverse is two triangular solves. Invertible by construction.
  * `'qr'`: `W = Q (U + diag(exp(log_scale)))` with `Q` a product of
    `num_reflections` Householder reflections and `U` strictly upper
    triangular (the emerging-convolutions paper's QR form; the
    convolution-exponential code uses it for wide layers). Analytic
    `log|det W| = sum(log_scale)`; the inverse is `Q^T` and one triangular
    solve. Invertible by construction.
  * `'householder'`: `W = Q` alone, orthogonal, so `log|det W| = 0` and the
    inverse is `Q^T` (the convolution-exponential code's 1x1 for layers
    wider than 64 channels, with 64 reflections).

  All four start from the same kind of random rotation (Glow's
  initialisation), so `log|det W| = 0` at first.

  #### Example

  ```python
  mix = tfp_convexp.bijectors.Conv1x1([16, 16, 12], parameterization='qr')
  z = mix.forward(tf.random.normal([8, 16, 16, 12]))
  ```

  #### References

  [1]: Diederik P. Kingma and Prafulla Dhariwal. Glow: Generative Flow with
       Invertible 1x1 Convolutions. In _NeurIPS_, 2018.
  [2]: Emiel Hoogeboom, Rianne van den Berg and Max Welling. Emerging
       Convolutions for Generative Normalizing Flows. In _ICML_, 2019.
  """

  def __init__(self, event_shape, parameterization='lu', num_reflections=None,
               seed=None, dtype=tf.float32, validate_args=False,
               name='conv1x1'):
    """Builds the layer and its variables.

    Args:
      event_shape: `[H, W, C]` (NHWC).
      parameterization: `'plain'`, `'lu'` or `'qr'` (see above).
      num_reflections: Householder reflections for `'qr'` and
        `'householder'`; default `C`.
      seed: optional int for the random initial rotation.
      dtype: floating dtype.
      validate_args: check inputs for non-finite values and, for `'plain'`,
        that `W` is far enough from singular.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    if parameterization not in PARAMETERIZATIONS:
      raise ValueError(f'{layer}: `parameterization` must be one of '
                       f'{PARAMETERIZATIONS}; got {parameterization!r}.')
    with tf.name_scope(name) as name:
      super().__init__(event_shape, dtype, validate_args, parameters, name)
      c, dtype = self.channels, self.dtype
      self._parameterization = parameterization
      rotation = initializers.random_rotation(
          np.random.default_rng(seed), c).astype(dtype.as_numpy_dtype)
      if parameterization == 'plain':
        self._w = tf.Variable(rotation, name='matrix')
      elif parameterization == 'lu':
        # tf.linalg.lu has no XLA kernel, but it only runs here, once.
        packed, perm = (t.numpy() for t in tf.linalg.lu(rotation))
        u = np.triu(packed)
        self._permutation = tf.Variable(np.eye(c, dtype=rotation.dtype)[perm].T,
                                        trainable=False, name='permutation')
        self._lower = tf.Variable(np.tril(packed, -1), name='lower')
        self._upper = tf.Variable(np.triu(u, 1), name='upper')
        self._sign = tf.Variable(np.sign(np.diag(u)), trainable=False,
                                 name='sign')
        self._log_scale = tf.Variable(np.log(np.abs(np.diag(u))),
                                      name='log_scale')
      else:
        if num_reflections is None:
          num_reflections = c
        arguments.int_at_least(num_reflections, 1, 'num_reflections', layer)
        rng = np.random.default_rng(None if seed is None else seed + 1)
        self._reflections = tf.Variable(
            rng.standard_normal((num_reflections, c)).astype(
                dtype.as_numpy_dtype), name='reflections')
      if parameterization == 'qr':
        self._upper = tf.Variable(np.zeros((c, c), dtype.as_numpy_dtype),
                                  name='upper')
        self._log_scale = tf.Variable(np.zeros(c, dtype.as_numpy_dtype),
                                      name='log_scale')

  @property
  def parameterization(self):
    """`'plain'`, `'lu'`, `'qr'` or `'householder'`."""
    return self._parameterization

  def _triangular(self):
    """`U + diag(sign * exp(log_scale))`, upper triangular."""
    diag = tf.exp(self._log_scale)
    if self._parameterization == 'lu':
      diag = diag * self._sign
    return tf.linalg.band_part(self._upper, 0, -1) - tf.linalg.diag(
        tf.linalg.diag_part(self._upper)) + tf.linalg.diag(diag)

  def _unit_lower(self):
    lower = tf.linalg.band_part(self._lower, -1, 0)
    return lower - tf.linalg.diag(tf.linalg.diag_part(lower)) + tf.eye(
        self.channels, dtype=self.dtype)

  def matrix(self):
    if self._parameterization == 'plain':
      return tf.convert_to_tensor(self._w)
    if self._parameterization == 'lu':
      return tf.matmul(self._permutation,
                       tf.matmul(self._unit_lower(), self._triangular()))
    q = ops.householder_product(self._reflections)
    if self._parameterization == 'householder':
      return q
    return tf.matmul(q, self._triangular())

  def _apply_inverse_matrix(self, y):
    if self._parameterization == 'plain':
      return ops.channel_matmul(y, tf.linalg.inv(self._w))
    flat = tf.reshape(y, [-1, self.channels])
    if self._parameterization == 'lu':
      # W^-1 y = U^-1 L^-1 P^T y, as column solves on [C, N].
      cols = tf.matmul(self._permutation, flat, transpose_a=True,
                       transpose_b=True)
      cols = tf.linalg.triangular_solve(self._unit_lower(), cols, lower=True)
    else:
      cols = tf.matmul(ops.householder_product(self._reflections), flat,
                       transpose_a=True, transpose_b=True)
    if self._parameterization != 'householder':
      cols = tf.linalg.triangular_solve(self._triangular(), cols, lower=False)
    return tf.reshape(tf.transpose(cols), tf.shape(y))

  def _log_abs_det_matrix(self):
    if self._parameterization == 'plain':
      return ops.qr_log_abs_det(self._w)
    if self._parameterization == 'householder':
      return tf.zeros([], self.dtype)
    return tf.reduce_sum(self._log_scale)

  def _parameter_control_dependencies(self, is_init):
    if not self.validate_args or is_init or self._parameterization != 'plain':
      return []
    # Only the free matrix can become singular; report how close it is.
    _, r = tf.linalg.qr(self._w)
    return [ops.assert_nonsingular(
        r, f'{type(self).__name__} {self.name!r}: W is (nearly) singular; '
           f'x is the smallest |diag R| of its QR decomposition, y the '
           f'margin.')]
