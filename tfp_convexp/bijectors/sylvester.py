"""Generalized and convolutional Sylvester flows."""

import numpy as np
import tensorflow as tf

from tfp_convexp import nets
from tfp_convexp import ops
from tfp_convexp.bijectors import arguments
from tfp_convexp.bijectors import augmented
from tfp_convexp.bijectors import base
from tfp_convexp.bijectors import image_events
from tfp_convexp.bijectors.convolution_exponential import ConvolutionExponential

__all__ = ['AutoregressiveResidual', 'GeneralizedSylvester',
           'ConvolutionalSylvester', 'solve_autoregressive']


class AutoregressiveResidual(tf.Module):
  r"""`f_AR(u) = s_2 tanh(s_1 u + t_1) + t_2`, returning `(f_AR(u), diag J)`.

  `s_1 = tanh(.)`, `s_2 = scale_bound * tanh(.)` and `t_1, t_2` come from
  masked layers (`tfp_convexp.nets.MaskedDense` or `MaskedConv2D`) in which
  dimension `i` only sees dimensions before it, so `J = df_AR/du` is lower
  triangular with diagonal `s_2 s_1 tanh'(s_1 u + t_1)`, whose magnitude is
  at most `scale_bound < 1`: `1 + diag J > 0`, the condition that makes
  `u -> u + f_AR(u)` invertible. The output layer starts at zero, so the
  flow starts as the identity.

  Args:
    data_units: `D` (dense) or `C` (convolutional).
    hidden_units: width of the two hidden layers, a multiple of `data_units`.
    conv: masked 3x3 / 1x1 / 3x3 convolutions instead of dense layers.
    kernel_size: of the first and last convolution.
    scale_bound: in (0, 1); 0.5 in the reference code.
    seed: int.
  """

  def __init__(self, data_units, hidden_units, conv=False, kernel_size=3,
               scale_bound=0.5, seed=0, dtype=tf.float32, name=None):
    super().__init__(name=name)
    self._scale_bound = arguments.in_open_interval(
        scale_bound, 0., 1., 'scale_bound', type(self).__name__,
        ' so that 1 + diag J > 0')
    self._data_units = data_units
    if conv:
      layer = lambda i, o, k, strict, **kw: nets.MaskedConv2D(
          i, o, data_units, k, strict, dtype=dtype, **kw)
    else:
      layer = lambda i, o, k, strict, **kw: nets.MaskedDense(
          i, o, data_units, strict, dtype=dtype, **kw)
    self.hidden = [layer(data_units, hidden_units, kernel_size, False,
                         seed=seed),
                   layer(hidden_units, hidden_units, 1, False, seed=seed + 1)]
    # One strict head for [t1, s1, t2, s2]: 4 units per data dimension, in
    # degree order, so that a reshape groups them by dimension.
    self.head = layer(hidden_units, 4 * data_units, kernel_size, True,
                      zero_init=True)

  def __call__(self, u):
    h = u
    for layer in self.hidden:
      h = tf.nn.relu(layer(h))
    h = self.head(h)
    h = tf.reshape(h, tf.concat([tf.shape(h)[:-1], [self._data_units, 4]], 0))
    t1, s1, t2, s2 = tf.unstack(h, axis=-1)
    s1 = tf.tanh(s1)
    s2 = self._scale_bound * tf.tanh(s2)
    a = tf.tanh(s1 * u + t1)
    return s2 * a + t2, s2 * s1 * (1. - tf.square(a))


def solve_autoregressive(f_ar, v, limit, max_iterations):
  """Solves `u + f_AR(u) = v` for `u`.

  Each iteration is one Newton step per dimension on its own diagonal,
  `u <- u - (u + f_AR(u) - v) / (1 + diag J)`, for all dimensions at once.
  The scalar equations are monotone (`1 + diag J > 0`) and the remaining
  coupling is strictly triangular, hence nilpotent, so the iteration ends at
  the exact solution; in practice it meets the limit after a few steps (see
  the benchmark), where the plain fixed point `u <- v - f_AR(u)` needs many
  more.

  Stops when `max |u + f_AR(u) - v| <= limit`; when that residual, already
  within 100x of the limit, stops decreasing (it has reached the
  floating-point floor; early steps may raise it while the triangular
  coupling propagates); or after `max_iterations` (a static bound, so XLA
  compiles it).

  Returns:
    `(u, iterations, residual, diag)`: `residual` is the maximum absolute
    residual at the returned `u` and `diag` is `diag J` there, which gives
    the log-determinant without another pass.
  """
  v = tf.convert_to_tensor(v)
  limit = tf.cast(limit, v.dtype)

  def body(i, u, current, _):
    out, diag = f_ar(u)
    residual = u + out - v
    return (i + 1, u - residual / (1. + diag),
            tf.reduce_max(tf.abs(residual)), current)

  def keep_going(i, u, current, previous):
    del i, u
    stalled = tf.logical_and(current >= previous, current <= 100. * limit)
    return tf.logical_and(current > limit, tf.logical_not(stalled))

  iterations, u, _, _ = tf.while_loop(
      keep_going, body,
      (tf.constant(0), v,
       tf.constant(np.finfo(v.dtype.as_numpy_dtype).max, v.dtype),
       tf.constant(np.inf, v.dtype)),
      maximum_iterations=max_iterations)
  out, diag = f_ar(u)
  return u, iterations, tf.reduce_max(tf.abs(u + out - v)), diag


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
    u, iterations, residual, diag = solve_autoregressive(
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
      self._f_ar = f_ar if f_ar is not None else AutoregressiveResidual(
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
      self._f_ar = AutoregressiveResidual(
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

  def _series(self, x, inverse):
    fn = ops.inverse_conv_exp if inverse else ops.conv_exp
    layer = self._convexp
    return fn(x, layer.kernel, layer.terms, layer.padding)

  def _basis(self, x):
    q = ops.householder_product(self._reflections)
    return self._series(ops.channel_matmul(x, q), inverse=False)

  def _basis_inverse(self, u):
    q = ops.householder_product(self._reflections)
    return ops.channel_matmul(self._series(u, inverse=True), tf.transpose(q))
