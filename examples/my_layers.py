"""A researcher's own mixing layer, registered for `make_flow` and the
training program: importing this module is all it takes.

    .venv/bin/python -m train --import=my_layers --mixing=cayley_1x1  # (PYTHONPATH=examples)

`CayleyConv1x1` is a 1x1 convolution whose matrix is an orthogonal matrix in
Cayley form times a learned per-channel scale:

```none
W = (I - A) (I + A)^{-1} diag(exp(s)),   A = B - B^T (skew-symmetric)
forward:  z[i, j] = W x[i, j]                    (every pixel)
inverse:  x[i, j] = diag(exp(-s)) (I - A)^{-1} (I + A) z[i, j]
log-det:  H * W * sum(s)                         (|det| of the orthogonal part is 1)
```

`I + A` is invertible for every skew-symmetric `A` (its eigenvalues are
`1 + i lambda`), so every `B` gives an invertible layer, and the log-det
needs no determinant at all.
"""

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_convexp import flows

tfb = tfp.bijectors


class CayleyConv1x1(tfb.Bijector):
  """The 1x1 convolution `W = cayley(B - B^T) diag(exp(s))` (see above).

  As TFP's own bijectors (`tfb.ScaleMatvecLU`), it takes its variables as
  arguments, so that `copy()` and `type(b)(**b.parameters)` share them.

  Args:
    b: `[C, C]` (a `tf.Variable` to learn it).
    log_scale: `[C]`, `s`.
    event_shape: `[H, W, C]` of the events.
  """

  def __init__(self, b, log_scale, event_shape, validate_args=False,
               name='cayley_conv1x1'):
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      self._b, self._log_scale = b, log_scale
      self._event_shape = tuple(int(d) for d in event_shape)
      super().__init__(forward_min_event_ndims=3, is_constant_jacobian=True,
                       dtype=b.dtype, validate_args=validate_args,
                       parameters=parameters, name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return {}

  def _get_parameterization(self):
    return id(self)  # TFP's cache must not hand one layer's outputs to another

  def _cayley(self, transpose=False):
    """`(I - A)(I + A)^{-1}`, or its transpose `(I - A)^{-1}(I + A)`."""
    a = self._b - tf.transpose(self._b)
    eye = tf.eye(a.shape[0], dtype=a.dtype)
    if transpose:
      return tf.linalg.solve(eye - a, eye + a)
    return tf.transpose(tf.linalg.solve(eye - a, eye + a))

  def _forward(self, x):
    w = self._cayley() * tf.exp(self._log_scale)  # scales the columns
    return tf.linalg.matvec(w, x)

  def _inverse(self, z):
    w_inv = tf.exp(-self._log_scale)[:, None] * self._cayley(transpose=True)
    return tf.linalg.matvec(w_inv, z)

  def _forward_log_det_jacobian(self, x):
    h, w, _ = self._event_shape
    return h * w * tf.reduce_sum(self._log_scale)


def build_cayley(ctx):
  """What `make_flow` calls at every step: the layer's variables, from a
  fresh seed, and a unique name."""
  c = ctx.event_shape[-1]
  # A random rotation to start from (B = 0 would be the identity).
  b = tf.Variable(0.5 * tf.random.stateless_normal(
      [c, c], [ctx.seed(), 0], dtype=ctx.dtype), name='b')
  log_scale = tf.Variable(tf.zeros([c], ctx.dtype), name='log_scale')
  return CayleyConv1x1(b, log_scale, ctx.event_shape,
                       name=ctx.name('cayley_1x1'))


flows.register_mixing('cayley_1x1', build_cayley,
                      'an orthogonal 1x1 in Cayley form times a learned scale '
                      '(examples/my_layers.py)')
