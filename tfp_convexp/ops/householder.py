"""Products of Householder reflections: orthogonal matrices without constraints."""

import tensorflow as tf

from tfp_convexp.ops.eager import graph_when_eager

__all__ = ['householder_product']


def householder_product(vectors):
  """`Q = H(v_1) H(v_2) ... H(v_n)`, `H(v) = I - 2 v v^T / ||v||^2`.

  Args:
    vectors: `[n, d]` tensor of reflection axes (normalised here, so any
      non-zero vector is a valid parameter).

  Returns:
    `[d, d]` orthogonal matrix; `n = d` reflections reach every orthogonal
    matrix with determinant `(-1)^d`, and together with a free triangular
    factor every invertible matrix.
  """
  return _householder_product(tf.convert_to_tensor(vectors))


@graph_when_eager  # n small rank-one updates
def _householder_product(vectors):
  d = int(vectors.shape[-1])
  unit = vectors * tf.math.rsqrt(
      tf.reduce_sum(tf.square(vectors), axis=-1, keepdims=True) +
      tf.constant(1e-30, vectors.dtype))
  q = tf.eye(d, dtype=vectors.dtype)
  # Right-multiplying by H(v) is a rank-one update: Q - 2 (Q v) v^T.
  for k in range(int(vectors.shape[0])):
    v = unit[k]
    q = q - 2. * tf.linalg.matvec(q, v)[:, None] * v[None, :]
  return q

