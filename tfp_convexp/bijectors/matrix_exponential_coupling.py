"""MEF's matrix-exponential coupling: a per-pixel `expm` of a predicted matrix."""

import numpy as np
import tensorflow as tf

from tfp_convexp import nets
from tfp_convexp import ops
from tfp_convexp.bijectors.internal import arguments
from tfp_convexp.bijectors.internal import coupling
from tfp_convexp.bijectors.internal import image_events

__all__ = ['MatrixExponentialCoupling']

# MEF predicts full C2 x C2 matrices up to this size and rank-k factors above.
FULL_RANK_LIMIT = 24


def rank_and_outputs(transformed_channels, rank=None):
  """`(rank, conditioner output channels)` for `C_2` transformed channels:
  `rank` None means MEF's choice (full up to 24 channels, 3 above); the
  outputs are the shift, then `A` (or its factors `U` and `V`)."""
  c2 = transformed_channels
  if rank is None and c2 > FULL_RANK_LIMIT:
    rank = 3
  return rank, c2 + (c2 * c2 if rank is None else 2 * rank * c2)


def _phi(m):
  """`phi(M) = sum_n M^n / (n + 1)!`, the top-right block of
  `expm([[M, I], [0, 0]])`, for a batch of square matrices."""
  k = tf.shape(m)[-1]
  eye = tf.eye(k, batch_shape=tf.shape(m)[:-2], dtype=m.dtype)
  zeros = tf.zeros_like(m)
  block = tf.concat([tf.concat([m, eye], -1), tf.concat([zeros, zeros], -1)],
                    -2)
  return ops.expm(block)[..., :k, k:]


class MatrixExponentialCoupling(coupling.ChannelCoupling):
  r"""Coupling whose per-pixel linear map is a matrix exponential (MEF).

  With `x = [x_1, x_2]` split after `num_masked` channels and a conditioner
  giving a shift `t(x_1)` and, at every pixel, a `C_2 x C_2` matrix `A(x_1)`,

  ```none
  forward:  z = [x_1, expm(A) x_2 + t]
  inverse:  x = [z_1, expm(-A) (z_2 - t)]
  log-det:  sum over pixels of trace(A)
  A       = r tanh(s h + b) + c        (learned scalars r, s, b, c; as MEF)
  ```

  Affine coupling is the special case of diagonal `A`; a full `A` also mixes
  the transformed channels. `expm(A)` is invertible for every `A`, and the
  log-determinant is exact and linear in `A`. For `C_2 > 24` (or a given
  `rank`) `A = U V` with `U: C_2 x k`, `V: k x C_2`, and
  `expm(U V) = I + U phi(V U) V` with `phi(M) = sum_n M^n / (n+1)!`, so only
  `k x k` exponentials are formed and `trace(A) = trace(V U)`.

  The default conditioner is `tfp_convexp.nets.ResidualConvNet` (MEF's conv
  block) with a zero-initialised output, so `A = c = 0` and `t = 0` at the
  start: the layer starts as the identity.

  #### Example

  ```python
  coupling = tfp_convexp.bijectors.MatrixExponentialCoupling([16, 16, 12])
  z = coupling.forward(tf.random.normal([8, 16, 16, 12]))
  ```

  #### References

  [1]: Changyi Xiao and Ligang Liu. Generative Flows with Matrix
       Exponential. In _ICML_, 2020.
  """

  def __init__(self, event_shape, conditioner=None, num_masked=None,
               rank=None, hidden_channels=128, num_blocks=8,
               context_channels=0, seed=0, dtype=tf.float32,
               validate_args=False, name='matrix_exponential_coupling'):
    """Builds the layer.

    Args:
      event_shape: `[H, W, C]` (NHWC), `C >= 2`.
      conditioner: optional callable `tf.Module` mapping
        `[B, H, W, num_masked (+ context_channels)]` to
        `[B, H, W, num_outputs]` (see the `num_outputs` property).
      num_masked: channels passed through; default `C - C // 2` (as MEF).
      rank: `k` of the factored `A = U V`; default `None`: full `A` for
        `C_2 <= 24`, `k = 3` above (MEF's choice).
      hidden_channels, num_blocks: of the default conditioner (MEF CIFAR-10:
        128 and 8).
      context_channels: channels of an optional `context` keyword.
      seed: int for the default conditioner's initialisation.
      dtype: floating dtype.
      validate_args: check inputs for non-finite values.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    with tf.name_scope(name) as name:
      self._event_shape = image_events.image_event_shape(event_shape, layer)
      dtype = image_events.float_dtype(dtype, layer)
      c = self._event_shape[-1]
      if num_masked is None:
        num_masked = c - c // 2
      self._init_coupling(num_masked, context_channels, layer)
      if rank is not None:
        arguments.int_at_least(rank, 1, 'rank', layer)
      self._rank, self._num_outputs = rank_and_outputs(c - num_masked, rank)
      if conditioner is None:
        conditioner = nets.ResidualConvNet(
            num_masked + context_channels, self.num_outputs,
            hidden_channels=hidden_channels, num_blocks=num_blocks,
            seed=seed, dtype=dtype)
      self._set_conditioner(conditioner, layer)
      np_dtype = dtype.as_numpy_dtype
      # MEF's initial values: A = (1 / C_2) tanh(h / 8).
      self._in_scale = tf.Variable(np_dtype(1. / 8.), name='in_scale')
      self._in_shift = tf.Variable(np_dtype(0.), name='in_shift')
      self._out_scale = tf.Variable(np.asarray(1. / (c - num_masked), np_dtype),
                                    name='out_scale')
      self._out_shift = tf.Variable(np_dtype(0.), name='out_shift')
      super().__init__(
          is_constant_jacobian=False,
          dtype=dtype,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  @property
  def rank(self):
    """`k` of `A = U V`, or `None` for a full `A`."""
    return self._rank

  @property
  def num_outputs(self):
    """Channels the conditioner returns: the shift, then `A` (or U and V)."""
    return self._num_outputs

  def _shift_and_matrices(self, x1, context):
    c2 = self._event_shape[-1] - self._num_masked
    h = self._conditioner_output(x1, context, self.num_outputs,
                                 'a shift, then A or its factors')
    shift, raw = h[..., :c2], h[..., c2:]
    bounded = self._out_scale * tf.tanh(
        self._in_scale * raw + self._in_shift) + self._out_shift
    lead = tf.shape(h)[:-1]
    if self._rank is None:
      return shift, tf.reshape(bounded, tf.concat([lead, [c2, c2]], 0)), None
    k = self._rank
    u = tf.reshape(bounded[..., :k * c2], tf.concat([lead, [c2, k]], 0))
    v = tf.reshape(bounded[..., k * c2:], tf.concat([lead, [k, c2]], 0))
    return shift, u, v

  def _apply_exp(self, a, v, x2, sign):
    """`expm(sign A) x2` and `sign trace(A)` per pixel; `A = a`, or
    `A = a v` when `v` is given (then `a` is `U`)."""
    x2 = x2[..., None]
    if v is None:
      y2 = tf.linalg.matmul(ops.expm(sign * a), x2)
      trace = tf.linalg.trace(a)
    else:
      vu = tf.linalg.matmul(v, a)
      y2 = x2 + sign * tf.linalg.matmul(
          a, tf.linalg.matmul(_phi(sign * vu), tf.linalg.matmul(v, x2)))
      trace = tf.linalg.trace(vu)
    return y2[..., 0], sign * trace

  def _forward_and_log_det(self, x, context=None):
    x, x1, x2 = self._split(x)
    shift, a, v = self._shift_and_matrices(x1, context)
    z2, ldj = self._apply_exp(a, v, x2, 1.)
    z = tf.concat([x1, z2 + shift], axis=-1)
    return (image_events.from_nhwc(z, x),
            tf.reshape(tf.reduce_sum(ldj, [1, 2]), tf.shape(x)[:-3]))

  def _inverse_and_log_det(self, y, context=None):
    y, y1, y2 = self._split(y)
    shift, a, v = self._shift_and_matrices(y1, context)
    x2, ldj = self._apply_exp(a, v, y2 - shift, -1.)
    x = tf.concat([y1, x2], axis=-1)
    return (image_events.from_nhwc(x, y),
            tf.reshape(tf.reduce_sum(ldj, [1, 2]), tf.shape(y)[:-3]))
