"""Matrix exponential by scaling and squaring, with a static Taylor order.

`tf.linalg.expm` gives the right values but its gradient does not compile
under XLA. This version uses only matmuls and a bounded `tf.while_loop`, so
it compiles and works for real and complex batches. Its gradient is the
Frechet derivative, itself one exponential of a block matrix, so no loop
state is kept for the backward pass: that also lets a jit-compiled loss be
differentiated by a tape outside XLA (a differentiated `while_loop` would
hand TensorLists across the XLA boundary, which TF does not support).
"""

import tensorflow as tf

__all__ = ['expm']

# With ||A / 2^s||_F <= 1/4, the Taylor remainder after degree 12 is below
# 0.25^13 / 13! * e^0.25 < 3e-18, under float64 round-off.
_THETA = 0.25
_ORDER = 12
_MAX_SQUARINGS = 64


def expm(matrices, name=None):
  """`exp(A)` for a batch `[..., n, n]` of real or complex matrices.

  Each matrix is scaled by its own `2^-s` so that its Frobenius norm is at
  most 1/4, exponentiated by a degree-12 Taylor polynomial (Horner form), and
  squared back `s` times. The gradient for an upstream `G` is the Frechet
  derivative `L(A^H, G)`: the top-right block of `exp([[A^H, G], [0, A^H]])`.
  """
  with tf.name_scope(name or 'expm'):
    return _expm_with_frechet_gradient(tf.convert_to_tensor(matrices))


@tf.custom_gradient
def _expm_with_frechet_gradient(a):
  def grad(upstream):
    n = tf.shape(a)[-1]
    adjoint = tf.linalg.adjoint(a)
    zeros = tf.zeros_like(a)
    block = tf.concat([tf.concat([adjoint, upstream], -1),
                       tf.concat([zeros, adjoint], -1)], -2)
    return _expm_values(block)[..., :n, n:]
  return _expm_values(a), grad


def _expm_values(a):
  """`exp(A)` by scaling and squaring; never differentiated directly."""
  a = tf.stop_gradient(a)
  real_dtype = a.dtype.real_dtype
  if a.dtype.is_complex:
    norm = tf.sqrt(tf.reduce_sum(
        tf.square(tf.math.real(a)) + tf.square(tf.math.imag(a)), [-2, -1]))
  else:
    norm = tf.sqrt(tf.reduce_sum(tf.square(a), [-2, -1]))
  squarings = tf.maximum(
      tf.math.ceil(tf.math.log(norm / _THETA) / tf.math.log(
          tf.constant(2., real_dtype))), 0.)
  squarings = tf.minimum(squarings, _MAX_SQUARINGS)
  factor = tf.pow(tf.constant(2., real_dtype), -squarings)[..., None, None]
  if a.dtype.is_complex:
    factor = tf.complex(factor, tf.zeros_like(factor))
  scaled = a * factor
  eye = tf.eye(tf.shape(a)[-1], batch_shape=tf.shape(a)[:-2], dtype=a.dtype)
  result = eye
  for k in range(_ORDER, 0, -1):
    result = eye + tf.linalg.matmul(scaled, result) / tf.cast(k, a.dtype)

  def body(i, e):
    squared = tf.linalg.matmul(e, e)
    keep = (i < squarings)[..., None, None]
    return i + 1., tf.where(keep, squared, e)

  _, result = tf.while_loop(
      lambda i, e: i < tf.reduce_max(squarings), body,
      (tf.constant(0., real_dtype), result),
      maximum_iterations=_MAX_SQUARINGS)
  return result
