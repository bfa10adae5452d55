"""Activation normalisation with replica-consistent data-dependent init."""

import numpy as np
import tensorflow as tf

from tfp_convexp.bijectors.internal import base
from tfp_convexp.bijectors.internal import image_events

__all__ = ['ActNorm', 'DataDependentInit']


class DataDependentInit(object):
  """`loc` and `log_scale`, set once from the first forward batch.

  Mixed into `ActNorm` (per channel of images) and `GraphActNorm` (per
  feature over the real nodes of graphs), which say how to take the batch's
  moments; the rules of the class docstring of `ActNorm` hold for both.
  """

  def _create_affine_variables(self, size, data_init, dtype):
    np_dtype = dtype.as_numpy_dtype
    self._loc = tf.Variable(np.zeros(size, np_dtype), name='loc')
    self._log_scale = tf.Variable(np.zeros(size, np_dtype), name='log_scale')
    self._initialized = tf.Variable(not data_init, trainable=False,
                                    name='initialized')

  @property
  def loc(self):
    return self._loc

  @property
  def log_scale(self):
    return self._log_scale

  @property
  def initialized(self):
    return self._initialized

  def _initialize(self, moments):
    mean, variance, empty = moments()
    finite = tf.reduce_all(tf.math.is_finite(mean)) & tf.reduce_all(
        tf.math.is_finite(variance))
    # Non-finite statistics would be stored for good: refuse them (eagerly
    # and in graphs), and where asserts are dropped (XLA) leave the layer
    # uninitialised so that the next batch initialises it. An empty batch
    # has no statistics and leaves it uninitialised too.
    check = tf.debugging.Assert(finite | empty, [
        f'{type(self).__name__} {self.name!r}: the data-dependent '
        f'initialisation batch has non-finite values; initialise on finite '
        f'data.'])
    ok = finite & ~empty
    with tf.control_dependencies([check]):
      return tf.group(
          self._loc.assign(tf.where(ok, -mean, self._loc)),
          self._log_scale.assign(tf.where(
              ok, -tf.math.log(tf.sqrt(variance) + 1e-6), self._log_scale)),
          self._initialized.assign(ok))

  def _initialized_now(self):
    """Whether the layer is initialised now, also while a function is traced
    (None in a graph without eager execution)."""
    with tf.init_scope():
      if tf.executing_eagerly():
        return bool(tf.convert_to_tensor(self._initialized).numpy())
    return None

  def _initialization(self, moments):
    """The control dependencies of a forward pass: the initialisation from
    `moments()` (`(mean, variance, empty)`) while the layer has none, else
    nothing, so that a forward pass is a pure function of its input."""
    ready = self._initialized_now()
    if ready:
      return []
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
      if ready is False:
        raise ValueError(
            f'{type(self).__name__} {self.name!r}: not initialised, and the '
            f'first call is inside strategy.run with '
            f'{context.num_replicas_in_sync} replicas, where each replica '
            f'would initialise from its own shard. Call the model (e.g. '
            f'log_prob) once on the first global batch under '
            f'strategy.scope(), outside strategy.run, first.')
      return []
    return [tf.cond(self._initialized, tf.no_op,
                    lambda: self._initialize(moments))]


class ActNorm(DataDependentInit, base.ImageBijector):
  r"""Per-channel affine normalisation (Glow's actnorm).

  ```none
  forward:  z = (x + loc) * exp(log_scale)
  inverse:  x = z * exp(-log_scale) - loc
  log-det:  H * W * sum(log_scale)
  ```

  **Data-dependent initialisation.** The first `forward` call (data to
  latent) sets `loc = -mean(x)` and `log_scale = -log(std(x) + 1e-6)` per
  channel, over the batch and both image axes, so that the first batch
  leaves the layer with zero mean and unit variance; later calls use the
  trained values. It runs eagerly, in `tf.function` and under XLA (a
  `tf.cond` on an `initialized` flag). A batch with non-finite values
  raises instead of storing them (under XLA, which drops asserts, the layer
  stays uninitialised until a finite batch comes).

  **Under `tf.distribute`** initialise once in cross-replica context, on
  the first global batch, before training: e.g. `model.log_prob(batch)`
  under `strategy.scope()` but outside `strategy.run`. Every replica then
  holds the same values. Initialising inside `strategy.run` would give each
  replica the statistics of its own shard (silently different weights), and
  a synchronised variant would need a cross-replica assignment inside
  `tf.cond`, which `tf.distribute` does not support; so a forward call in a
  multi-replica context before initialisation raises a `ValueError` saying
  this.

  #### Example

  ```python
  norm = tfp_convexp.bijectors.ActNorm([16, 16, 12])
  z = norm.forward(x)   # initialises from x, then normalises it
  ```

  #### References

  [1]: Diederik P. Kingma and Prafulla Dhariwal. Glow: Generative Flow with
       Invertible 1x1 Convolutions. In _NeurIPS_, 2018.
  """

  def __init__(self, event_shape, data_init=True, dtype=tf.float32,
               validate_args=False, name='actnorm'):
    """Builds the layer.

    Args:
      event_shape: `[H, W, C]` (NHWC).
      data_init: initialise from the first forward batch (else start as the
        identity).
      dtype: floating dtype.
      validate_args: check inputs for non-finite values.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    with tf.name_scope(name) as name:
      self._event_shape = image_events.image_event_shape(event_shape, layer)
      dtype = image_events.float_dtype(dtype, layer)
      self._create_affine_variables(self._event_shape[-1], data_init, dtype)
      # With data_init the log-det depends on the first batch.
      super().__init__(
          is_constant_jacobian=not data_init,
          dtype=dtype,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  def _forward(self, x):
    x = image_events.check_image_input(x, self._event_shape,
                                       type(self).__name__, self.validate_args)

    def moments():
      flat = tf.reshape(x, [-1, self._event_shape[-1]])
      mean, variance = tf.nn.moments(flat, axes=[0])
      return mean, variance, tf.equal(tf.size(flat), 0)

    with tf.control_dependencies(self._initialization(moments)):
      return (x + self._loc) * tf.exp(self._log_scale)

  def _inverse(self, y):
    y = image_events.check_image_input(y, self._event_shape,
                                       type(self).__name__, self.validate_args)
    return y * tf.exp(-self._log_scale) - self._loc

  def _forward_log_det_jacobian(self, x):
    h, w, _ = self._event_shape
    return float(h * w) * tf.reduce_sum(self._log_scale)

  def _inverse_log_det_jacobian(self, y):
    return -self._forward_log_det_jacobian(y)
