"""Woodbury transformations: low-rank updates of the identity along two axes."""

import numpy as np
import tensorflow as tf

from tfp_convexp import ops
from tfp_convexp.bijectors.internal import base
from tfp_convexp.bijectors.internal import image_events

__all__ = ['Woodbury']


class Woodbury(base.ImageBijector):
  r"""`z = (I_N + U_s V_s) x (I_C + U_c V_c)^T` on `x` seen as `[N = H W, C]`.

  A rank-`d` update of the identity mixes the channels of every pixel and a
  rank-`e` update mixes the pixels of every channel:

  ```none
  forward:  z = W_s x W_c^T,   W_c = I_C + U_c V_c,   W_s = I_N + U_s V_s
  inverse:  W^-1 = I - U (I + V U)^-1 V          (Woodbury identity)
  log-det:  N log|det(I_d + V_c U_c)| + C log|det(I_e + V_s U_s)|
                                                 (Sylvester's identity)
  ```

  Every determinant and solve is of a small `d x d` or `e x e` matrix, via
  QR (XLA-compilable, unlike `slogdet`). Nothing keeps `I + V U` away from
  singular; `validate_args=True` checks the margin.

  The convolution-exponential experiments use the spatial update (rank 24)
  after a 1x1 convolution: `Woodbury(shape, rank=(0, 24))` composed with
  `Conv1x1`.

  #### Example

  ```python
  layer = tfp_convexp.bijectors.Woodbury([16, 16, 12], rank=(8, 16))
  z = layer.forward(tf.random.normal([8, 16, 16, 12]))
  ```

  #### References

  [1]: You Lu and Bert Huang. Woodbury Transformations for Deep Generative
       Flows. In _NeurIPS_, 2020.
  """

  def __init__(self, event_shape, rank=(8, 16), seed=None, dtype=tf.float32,
               validate_args=False, name='woodbury'):
    """Builds the layer.

    Args:
      event_shape: `[H, W, C]` (NHWC).
      rank: `(channel_rank, spatial_rank)`, or one int for both; 0 turns
        that axis off. Each must not exceed its axis (`C`, `H * W`).
      seed: optional int; `U` and `V` start Gaussian with standard deviation
        `1 / axis size`, as in the reference code.
      dtype: floating dtype.
      validate_args: check inputs and the invertibility margin.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    with tf.name_scope(name) as name:
      self._event_shape = image_events.image_event_shape(event_shape, layer)
      dtype = image_events.float_dtype(dtype, layer)
      h, w, c = self._event_shape
      ranks = (rank, rank) if isinstance(rank, int) else tuple(rank)
      sizes = {'channel': c, 'spatial': h * w}
      if (len(ranks) != 2 or any(isinstance(r, bool) or not isinstance(r, int)
                                 for r in ranks) or max(ranks) < 1):
        raise ValueError(f'{layer}: `rank` must be an int or a pair of ints '
                         f'(channel, spatial), at least one positive; got '
                         f'{rank!r}.')
      for r, (axis, size) in zip(ranks, sizes.items()):
        if not 0 <= r <= size:
          raise ValueError(f'{layer}: the {axis} rank must lie in [0, {size}] '
                           f'(the {axis} axis has {size} entries); got {r}.')
      self._ranks = ranks
      rng = np.random.default_rng(seed)
      np_dtype = dtype.as_numpy_dtype
      self._factors = {}
      for r, (axis, size) in zip(ranks, sizes.items()):
        if r:
          self._factors[axis] = (
              tf.Variable((rng.standard_normal((size, r)) / size).astype(
                  np_dtype), name=f'{axis}_u'),
              tf.Variable((rng.standard_normal((r, size)) / size).astype(
                  np_dtype), name=f'{axis}_v'))
      super().__init__(
          is_constant_jacobian=True,
          dtype=dtype,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  @property
  def ranks(self):
    """`(channel_rank, spatial_rank)`."""
    return self._ranks

  def _capacitance(self, axis):
    """`I + V U`, the small matrix of the Woodbury and Sylvester identities."""
    u, v = self._factors[axis]
    return tf.eye(u.shape[1], dtype=self.dtype) + tf.matmul(v, u)

  def _flat(self, x):
    x = image_events.check_image_input(x, self._event_shape,
                                       type(self).__name__, self.validate_args)
    h, w, c = self._event_shape
    return x, tf.reshape(x, [-1, h * w, c])

  def _forward(self, x):
    x, z = self._flat(x)
    # The channel factors act as 2-D matmuls (`channel_matmul`): a batched
    # [B, N, C] x [C, r] matmul becomes, under `tf.vectorized_map`, a
    # broadcasting BatchMatMul that oneDNN (TF 2.21, AVX-512 CPUs) computes
    # wrongly.
    if 'channel' in self._factors:  # z W_c^T = z + (z V^T) U^T
      u, v = self._factors['channel']
      z = z + ops.channel_matmul(ops.channel_matmul(z, v), u)
    if 'spatial' in self._factors:  # W_s z = z + U (V z)
      u, v = self._factors['spatial']
      z = z + tf.einsum('ne,bec->bnc', u, tf.einsum('en,bnc->bec', v, z))
    return tf.reshape(z, tf.shape(x))

  def _inverse(self, y):
    # W^-1 = I - U (I + V U)^-1 V; the inverse is only of the small matrix.
    y, x = self._flat(y)
    if 'spatial' in self._factors:
      u, v = self._factors['spatial']
      k_inv = tf.linalg.inv(self._capacitance('spatial'))
      small = tf.einsum('fe,bec->bfc', k_inv, tf.einsum('en,bnc->bec', v, x))
      x = x - tf.einsum('ne,bec->bnc', u, small)
    if 'channel' in self._factors:
      u, v = self._factors['channel']
      k_inv = tf.linalg.inv(self._capacitance('channel'))
      x = x - ops.channel_matmul(ops.channel_matmul(
          ops.channel_matmul(x, v), k_inv), u)
    return tf.reshape(x, tf.shape(y))

  def _forward_log_det_jacobian(self, x):
    h, w, c = self._event_shape
    total = tf.zeros([], self.dtype)
    if 'channel' in self._factors:
      total += float(h * w) * ops.qr_log_abs_det(self._capacitance('channel'))
    if 'spatial' in self._factors:
      total += float(c) * ops.qr_log_abs_det(self._capacitance('spatial'))
    return total

  def _inverse_log_det_jacobian(self, y):
    return -self._forward_log_det_jacobian(y)

  def _parameter_control_dependencies(self, is_init):
    if not self.validate_args or is_init:
      return []
    checks = []
    for axis in self._factors:
      _, r = tf.linalg.qr(self._capacitance(axis))
      checks.append(ops.assert_nonsingular(
          r, f'{type(self).__name__} {self.name!r}: the {axis} update '
             f'I + V U is (nearly) singular; x is the smallest |diag R| of '
             f'its QR decomposition, y the margin.'))
    return checks
