"""Generalized and convolutional Sylvester flows."""

import numpy as np
import tensorflow as tf

from tfp_convexp import nets
from tfp_convexp import ops
from tfp_convexp.bijectors.internal import arguments
from tfp_convexp.bijectors.internal import augmented
from tfp_convexp.bijectors.internal import base
from tfp_convexp.bijectors.internal import image_events
from tfp_convexp.bijectors.convolution_exponential import ConvolutionExponential

__all__ = ['GeneralizedSylvester', 'ConvolutionalSylvester']


class _Sylvester(augmented.AugmentedBijector):
  """`z = x + W^-1 f_AR(W x)`; subclasses define `W` and its inverse."""

  def _init_solver(self, tolerance, max_iterations, dtype, layer):
    self._tolerance = arguments.tolerance_or_default(tolerance, dtype, layer)
    self._max_iterations = arguments.int_at_least(max_iterations, 1,
                                                  'max_iterations', layer)

  @property
  def f_ar(self):
    return self._f_ar

  def _basis(self, x):
    raise NotImplementedError

  def _basis_inverse(self, u):
    raise NotImplementedError

  def _event_dims(self):
    """The event shape, `[D]` or `[H, W, C]`."""
    raise NotImplementedError

  def _flat(self, x):
    """`x` checked, with all its batch dimensions (or none) as one."""
    return tf.reshape(self._check(x), [-1, *self._event_dims()])

  def _batch_shape_of(self, x):
    return tf.shape(x)[:tf.rank(x) - len(self._event_dims())]

  def _forward_and_log_det(self, x):
    flat = self._flat(x)
    out, diag = self._f_ar(self._basis(flat))
    return (tf.reshape(flat + self._basis_inverse(out), tf.shape(x)),
            tf.reshape(self._log_det(diag), self._batch_shape_of(x)))

  def _log_det(self, diag):
    """Per batch member of a flat `[B, ...]` diagonal."""
    return tf.reduce_sum(tf.reshape(tf.math.log1p(diag),
                                    [tf.shape(diag)[0], -1]), axis=-1)

  def _solve(self, y):
    """`(x, iterations, residual, limit, diag)` for the inverse at `y`
    (`diag` flat)."""
    v = self._basis(self._flat(y))
    limit = self._tolerance * tf.maximum(tf.reduce_max(tf.abs(v)), 1.)
    u, iterations, residual, diag = ops.solve_autoregressive(
        self._f_ar, v, limit, self._max_iterations)
    x = tf.reshape(self._basis_inverse(u), tf.shape(y))
    return x, iterations, residual, limit, diag

  def inverse_with_diagnostics(self, y):
    """`(x, iterations, residual)`: the inverse and how its solve ended."""
    return self._solve(y)[:3]

  def _inverse_and_log_det(self, y):
    x, _, residual, limit, diag = self._solve(y)
    return (base.checked_convergence(self, x, residual, limit),
            -tf.reshape(self._log_det(diag), self._batch_shape_of(y)))


class GeneralizedSylvester(_Sylvester):
  r"""Generalized Sylvester flow on vectors: `z = x + W^-1 f_AR(W x)`.

  ```none
  forward:  z = x + W^-1 f_AR(W x),       W = expm(A) Q
  inverse:  u + f_AR(u) = W y solved by diagonal Newton steps; x = W^-1 u
  log-det:  sum_i log(1 + diag_i J_fAR(W x))      (det(I + W^-1 J W) = det(I + J))
  ```

  `Q` is a product of Householder reflections (orthogonal) and `expm(A)`
  any invertible matrix of positive determinant, so `W^-1 = Q^T expm(-A)`
  is exact. `f_AR` is an `AutoregressiveResidual` on masked dense layers
  (MADE) by default, with `|diag J| <= scale_bound < 1`, so the flow is
  invertible by construction; any callable returning `(f_AR(u), diag J)`
  with a triangular Jacobian can be passed instead. With `W = Q^T` and
  `f_AR(u) = R h(R~ u + b)`, `R, R~` triangular, this is the original
  Sylvester flow `z = x + Q R h(R~ Q^T x + b)` (van den Berg et al., 2018).

  #### Example

  ```python
  flow = tfp_convexp.bijectors.GeneralizedSylvester(16, hidden_units=64)
  z = flow.forward(tf.random.normal([8, 16]))
  x, iterations, residual = flow.inverse_with_diagnostics(z)
  ```

  #### References

  [1]: Emiel Hoogeboom, Victor Garcia Satorras, Jakub M. Tomczak and Max
       Welling. The Convolution Exponential and Generalized Sylvester Flows.
       In _NeurIPS_, 2020.
  [2]: Rianne van den Berg, Leonard Hasenclever, Jakub M. Tomczak and Max
       Welling. Sylvester Normalizing Flows for Variational Inference. In
       _UAI_, 2018.
  """

  def __init__(self, event_size, hidden_units=None, f_ar=None,
               num_reflections=None, scale_bound=0.5, tolerance=None,
               max_iterations=100, seed=0, dtype=tf.float32,
               validate_args=False, name='generalized_sylvester'):
    """Builds the flow.

    Args:
      event_size: `D`, the vector length.
      hidden_units: hidden width of the default `f_AR`, a multiple of `D`;
        default `4 D`.
      f_ar: optional callable `u -> (f_AR(u), diag J)` replacing the default.
      num_reflections: Householder reflections in `Q`; default `D`.
      scale_bound: `|diag J|` bound of the default `f_AR`, in (0, 1).
      tolerance: residual, relative to `max(1, max |W y|)`, at which the
        inverse stops; default 1e-6 (float32) or 1e-12 (float64).
      max_iterations: static bound on the inverse's iterations.
      seed: int for the initialisation.
      dtype: floating dtype.
      validate_args: check inputs, and fail when an inverse misses its
        tolerance.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    arguments.int_at_least(event_size, 1, 'event_size', layer)
    with tf.name_scope(name) as name:
      dtype = image_events.float_dtype(dtype, layer)
      self._init_solver(tolerance, max_iterations, dtype, layer)
      self._size = event_size
      rng = np.random.default_rng(seed)
      np_dtype = dtype.as_numpy_dtype
      self._reflections = tf.Variable(rng.standard_normal(
          (num_reflections or event_size, event_size)).astype(np_dtype),
                                      name='reflections')
      self._generator = tf.Variable(
          (0.1 * rng.standard_normal((event_size, event_size)) / event_size
           ).astype(np_dtype), name='generator')
      self._f_ar = f_ar if f_ar is not None else nets.AutoregressiveResidual(
          event_size, hidden_units or 4 * event_size, conv=False,
          scale_bound=scale_bound, seed=seed, dtype=dtype)
      super().__init__(forward_min_event_ndims=1, dtype=dtype,
                       validate_args=validate_args, parameters=parameters,
                       name=name)

  def _check(self, x):
    if x.shape.rank is not None and (x.shape.rank < 1 or
                                     x.shape[-1] not in (None, self._size)):
      raise ValueError(f'{type(self).__name__}: expected a tensor of shape '
                       f'[..., {self._size}]; got shape {x.shape}.')
    if self.validate_args:
      x = tf.debugging.assert_all_finite(x, f'{type(self).__name__}: input '
                                            f'has non-finite values.')
    return x

  def _event_dims(self):
    return [self._size]

  def basis(self):
    """`W = expm(A) Q`."""
    return tf.matmul(ops.expm(self._generator),
                     ops.householder_product(self._reflections))

  def _basis(self, x):
    return tf.matmul(x, self.basis(), transpose_b=True)

  def _basis_inverse(self, u):
    w_inv = tf.matmul(ops.householder_product(self._reflections),
                      ops.expm(-self._generator), transpose_a=True)
    return tf.matmul(u, w_inv, transpose_b=True)


class ConvolutionalSylvester(_Sylvester, base.ImageBijector):
  r"""Convolutional Sylvester flow on `[H, W, C]` images.

  ```none
  forward:  z = x + Q^T exp(-M) f_AR(exp(M) Q x)
  inverse:  u + f_AR(u) = exp(M) Q y, by diagonal Newton steps;
            x = Q^T exp(-M) u
  log-det:  sum over H, W, C of log(1 + diag J_fAR)
  ```

  `Q` is an orthogonal 1x1 convolution (Householder reflections), `exp(M)` a
  convolution exponential whose kernel is certified as in
  `ConvolutionExponential` (it owns one; its kernel variable carries the
  projection constraint), and `f_AR` an `AutoregressiveResidual` on masked
  convolutions (raster order, `hidden_channels` a multiple of `C`) with
  `|diag J| <= scale_bound < 1`, so the flow is invertible by construction.

  #### Example

  ```python
  flow = tfp_convexp.bijectors.ConvolutionalSylvester([16, 16, 12], 48)
  z = flow.forward(tf.random.normal([8, 16, 16, 12]))
  x, iterations, residual = flow.inverse_with_diagnostics(z)
  ```

  #### References

  [1]: Emiel Hoogeboom, Victor Garcia Satorras, Jakub M. Tomczak and Max
       Welling. The Convolution Exponential and Generalized Sylvester Flows.
       In _NeurIPS_, 2020.
  """

  def __init__(self, event_shape, hidden_channels=None, kernel_size=3,
               num_reflections=None, scale_bound=0.5, norm_bound=0.95,
               convexp_tolerance=None, tolerance=None, max_iterations=100,
               seed=0, dtype=tf.float32, validate_args=False,
               name='convolutional_sylvester'):
    """Builds the flow.

    Args:
      event_shape: `[H, W, C]` (NHWC).
      hidden_channels: width of the masked convolutions, a multiple of `C`;
        default `4 C`.
      kernel_size: odd int, of the convolution exponential and the masked
        3x3 layers.
      num_reflections: Householder reflections in `Q`; default `C`.
      scale_bound: `|diag J|` bound, in (0, 1).
      norm_bound, convexp_tolerance: of the convolution exponential.
      tolerance: residual, relative to `max(1, max |W y|)`, at which the
        inverse stops; default 1e-6 (float32) or 1e-12 (float64).
      max_iterations: static bound on the inverse's iterations.
      seed: int for the initialisation.
      dtype: floating dtype.
      validate_args: check inputs, and fail when an inverse misses its
        tolerance.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    with tf.name_scope(name) as name:
      self._event_shape = image_events.image_event_shape(event_shape, layer)
      dtype = image_events.float_dtype(dtype, layer)
      self._init_solver(tolerance, max_iterations, dtype, layer)
      c = self._event_shape[-1]
      rng = np.random.default_rng(seed)
      self._reflections = tf.Variable(rng.standard_normal(
          (num_reflections or c, c)).astype(dtype.as_numpy_dtype),
                                      name='reflections')
      self._convexp = ConvolutionExponential(
          self._event_shape, kernel_size=kernel_size, norm_bound=norm_bound,
          tolerance=convexp_tolerance, seed=seed, dtype=dtype,
          name='convexp')
      self._f_ar = nets.AutoregressiveResidual(
          c, hidden_channels or 4 * c, conv=True, kernel_size=kernel_size,
          scale_bound=scale_bound, seed=seed + 1, dtype=dtype)
      super().__init__(is_constant_jacobian=False, dtype=dtype,
                       validate_args=validate_args, parameters=parameters,
                       name=name)

  @property
  def convolution_exponential(self):
    """The owned `ConvolutionExponential` (kernel, terms, `project()`)."""
    return self._convexp

  def _check(self, x):
    return self._checked(x)[0]

  def _event_dims(self):
    return list(self._event_shape)


  def _basis(self, x):
    q = ops.householder_product(self._reflections)
    return self._convexp.apply(ops.channel_matmul(x, q))

  def _basis_inverse(self, u):
    q = ops.householder_product(self._reflections)
    return ops.channel_matmul(self._convexp.apply(u, inverse=True),
                              tf.transpose(q))
