"""Log-determinants and inverses of residual maps `x -> x + g(x)`, `Lip(g) < 1`."""

import numpy as np
import tensorflow as tf

from tfp_convexp.ops import qr_determinant


def exact_residual_log_det(residual_fn, x):
  """`log det(I + J_g(x))` per member of `x` (`[B, ...]`), from the dense
  Jacobian (one backward pass per dimension; QR diagonal, so XLA compiles it).

  `det(I + J) > 0` when `Lip(g) < 1`, so `log|det|` is the log-det.
  """
  d = int(np.prod(x.shape[1:]))
  if x.shape[0] == 0:  # batch_jacobian divides by a static batch size
    return tf.zeros([0], x.dtype)
  with tf.GradientTape() as tape:
    tape.watch(x)
    gx = residual_fn(x)
  jac = tape.batch_jacobian(gx, x)
  jac = tf.reshape(jac, [-1, d, d]) + tf.eye(d, dtype=x.dtype)
  return qr_determinant.qr_log_abs_det(jac)


def russian_roulette_log_det(residual_fn, x, seed, n_exact_terms, p,
                             max_terms):
  """Unbiased estimate of `log det(I + J_g(x))` per member of `x`.

  The Residual Flows estimator (Chen et al., 2019): Hutchinson's `v^T J^k v`
  with Gaussian `v`, the series `sum_k (-1)^(k+1) tr(J^k) / k` cut after
  `N = n_exact_terms + Geometric(p)` terms, each term reweighted by
  `1 / P(N >= k)`. At most `max_terms` terms (static, for XLA); the cap
  biases the estimate by at most `(1 - p)^(max_terms - n_exact_terms)`.

  Its gradient is that of the log-det through the Neumann series
  `(I + J)^-1 = sum_k (-1)^k J^k`: one vjp, `g^T J v`, is differentiated
  instead of every term.

  Args:
    residual_fn: `g`, on tensors shaped like `x`.
    x: `[B, ...]`.
    seed: stateless seed, shape `[2]`.
    n_exact_terms: terms always kept.
    p: success probability of the geometric number of extra terms.
    max_terms: static cap on the terms.
  """
  noise_seed, count_seed = tf.unstack(
      tf.random.experimental.stateless_split(seed, 2))
  reduce_axes = list(range(1, x.shape.rank))
  v = tf.random.stateless_normal(tf.shape(x), noise_seed, dtype=x.dtype)
  uniform = tf.random.stateless_uniform([], count_seed, dtype=x.dtype)
  # P(N >= k) = (1 - p)^(k - n_exact_terms).
  count = n_exact_terms + tf.floor(tf.math.log(uniform) / np.log1p(-p))
  with tf.GradientTape() as tape:
    tape.watch(x)
    gx = residual_fn(x)
  frozen = tf.stop_gradient(x)

  def body(k, w, value, neumann):
    # w^T J at x, on a tape of its own: the loop is never differentiated.
    with tf.GradientTape() as inner:
      inner.watch(frozen)
      g_frozen = residual_fn(frozen)
    w = tf.stop_gradient(inner.gradient(g_frozen, frozen, output_gradients=w))
    weight = tf.pow(tf.constant(1. - p, x.dtype),
                    -tf.maximum(k - n_exact_terms, 0.))
    sign = 2. * tf.math.floormod(k, 2.) - 1.  # (-1)^(k+1)
    value += sign / k * weight * tf.reduce_sum(w * v, axis=reduce_axes)
    neumann -= sign * weight * w
    return k + 1., w, value, neumann

  limit = tf.minimum(count, float(max_terms))
  _, _, value, neumann = tf.while_loop(
      lambda k, *_: k <= limit, body,
      (tf.constant(1., x.dtype), v, tf.zeros(tf.shape(x)[:1], x.dtype), v),
      maximum_iterations=max_terms)
  # g^T J v with g = stop_gradient(Neumann sum): its gradient is the
  # gradient of the log-det; its value is cancelled below.
  surrogate = tf.reduce_sum(
      tape.gradient(gx, x, output_gradients=tf.stop_gradient(neumann)) * v,
      axis=reduce_axes)
  return tf.stop_gradient(value) + surrogate - tf.stop_gradient(surrogate)


def residual_fixed_point(residual_fn, y, tolerance, max_iterations):
  """Solves `x + g(x) = y` by the Banach iteration `x <- y - g(x)`.

  Stops when a step moves `x` by at most `tolerance` (max norm) or after
  `max_iterations` (static, for XLA).

  Returns:
    `(x, iterations, residual)`, `residual = max |x + g(x) - y|`.
  """
  tol = tf.constant(tolerance, y.dtype)

  def body(i, x, _):
    new = y - residual_fn(x)
    return i + 1, new, tf.reduce_max(tf.abs(new - x))

  iterations, x, _ = tf.while_loop(
      lambda i, x, step: step > tol, body,
      (tf.constant(0), y, tf.constant(np.inf, y.dtype)),
      maximum_iterations=max_iterations)
  residual = tf.reduce_max(tf.abs(x + residual_fn(x) - y))
  return x, iterations, residual
