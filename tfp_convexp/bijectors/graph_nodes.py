"""Node-wise layers of graph flows: actnorm and the shared `F x F` matrix."""

import tensorflow as tf

from tfp_convexp.bijectors import actnorm
from tfp_convexp.bijectors import conv1x1
from tfp_convexp.bijectors.internal import arguments
from tfp_convexp.bijectors.internal import base
from tfp_convexp.bijectors.internal import graph_events
from tfp_convexp.bijectors.internal import image_events

__all__ = ['GraphActNorm', 'NodeLinear']


class _NodeWise(base.OwnsVariables):
  """Base of the layers that act on each node alone: they need only the
  node mask (for the node counts of their log-dets) and keep padded nodes
  unchanged. Subclasses set `_num_nodes` and `_num_features`."""

  @property
  def call_keywords(self):
    return frozenset({'node_mask'})

  def _graph(self, x, node_mask):
    """`x` checked, the mask `[..., N, 1]` and the node counts."""
    x, _, mask, count = graph_events.checked_graph(
        type(self).__name__, x, self._num_nodes, self._num_features, None,
        node_mask, self.validate_args, need_adjacency=False)
    return x, mask[..., None], count

  def _inverse_log_det_jacobian(self, y, adjacency=None, node_mask=None):
    return -self._forward_log_det_jacobian(y, adjacency, node_mask)


class GraphActNorm(actnorm.DataDependentInit, _NodeWise):
  r"""Per-feature affine normalisation of node features, blind to padding.

  ```none
  forward:  Z = (X + loc) * exp(log_scale)      on real nodes; padded: Z = X
  inverse:  X = Z * exp(-log_scale) - loc       on real nodes; padded: X = Z
  log-det:  (number of real nodes) * sum(log_scale)
  ```

  The first `forward` call initialises `loc` and `log_scale` from the mean
  and standard deviation of each feature over the real nodes of the batch
  (padded nodes, `node_mask` 0, are left out), as `ActNorm` does per
  channel, with the same rules under `tf.distribute`. Calls also accept an
  `adjacency` keyword, unused, so that every graph layer takes the same
  keywords.

  #### Example

  ```python
  norm = tfp_convexp.bijectors.GraphActNorm(9, 4)
  z = norm.forward(x, node_mask=m)   # x [B, 9, 4], m [B, 9]
  ```

  #### References

  [1]: Diederik P. Kingma and Prafulla Dhariwal. Glow: Generative Flow with
       Invertible 1x1 Convolutions. In _NeurIPS_, 2018.
  """

  def __init__(self, num_nodes, num_features, data_init=True,
               dtype=tf.float32, validate_args=False, name='graph_actnorm'):
    """Builds the layer.

    Args:
      num_nodes: Python int `N` (the padded size).
      num_features: Python int `F`.
      data_init: initialise from the first forward batch (else start as the
        identity).
      dtype: floating dtype.
      validate_args: check inputs for non-finite values.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    arguments.int_at_least(num_nodes, 1, 'num_nodes', layer)
    arguments.int_at_least(num_features, 1, 'num_features', layer)
    with tf.name_scope(name) as name:
      dtype = image_events.float_dtype(dtype, layer)
      self._num_nodes, self._num_features = num_nodes, num_features
      self._create_affine_variables(num_features, data_init, dtype)
      super().__init__(
          forward_min_event_ndims=2,
          is_constant_jacobian=False,  # the node count comes with each call
          dtype=dtype,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  def _forward(self, x, adjacency=None, node_mask=None):
    del adjacency  # unused (see the class docstring)
    x, mask, _ = self._graph(x, node_mask)

    def moments():
      # The mask may have fewer batch dimensions than x (a sample).
      weights = tf.broadcast_to(mask, tf.concat([tf.shape(x)[:-1], [1]], 0))
      flat_w = tf.reshape(weights, [-1, 1])
      mean, variance = tf.nn.weighted_moments(
          tf.reshape(x, [-1, self._num_features]), [0], flat_w)
      # No real node: NaN moments, which the initialisation then skips.
      return mean, variance, tf.equal(tf.reduce_sum(flat_w), 0.)

    with tf.control_dependencies(self._initialization(moments)):
      z = (x + self._loc) * tf.exp(self._log_scale)
      return tf.where(mask > 0, z, x)

  def _inverse(self, y, adjacency=None, node_mask=None):
    del adjacency  # unused (see the class docstring)
    y, mask, _ = self._graph(y, node_mask)
    return tf.where(mask > 0, y * tf.exp(-self._log_scale) - self._loc, y)

  def _forward_log_det_jacobian(self, x, adjacency=None, node_mask=None):
    del adjacency  # unused (see the class docstring)
    _, _, count = self._graph(x, node_mask)
    return count * tf.reduce_sum(self._log_scale)


class NodeLinear(_NodeWise):
  r"""One learned `F x F` matrix applied to the features of every node.

  ```none
  forward:  z_i = W x_i          for every real node i; padded: z_i = x_i
  inverse:  x_i = W^-1 z_i
  log-det:  (number of real nodes) * log|det W|
  ```

  The graph counterpart of the invertible 1x1 convolution: `W` and its
  parameterizations (`'lu'`, `'qr'`, `'plain'`, `'householder'`) are those
  of `tfp_convexp.bijectors.Conv1x1`, which this layer applies to the nodes
  as the pixels of an `[N, 1, F]` image. Equivariant to node permutations.
  Calls also accept an `adjacency` keyword, unused, so that every graph
  layer takes the same keywords.

  #### Example

  ```python
  mix = tfp_convexp.bijectors.NodeLinear(9, 4)
  z = mix.forward(x, node_mask=m)   # x [B, 9, 4], m [B, 9]
  ```

  #### References

  [1]: Diederik P. Kingma and Prafulla Dhariwal. Glow: Generative Flow with
       Invertible 1x1 Convolutions. In _NeurIPS_, 2018.
  """

  def __init__(self, num_nodes, num_features, parameterization='lu',
               seed=None, dtype=tf.float32, validate_args=False,
               name='node_linear'):
    """Builds the layer.

    Args:
      num_nodes: Python int `N` (the padded size).
      num_features: Python int `F`.
      parameterization: of `W`, as in `Conv1x1`.
      seed: optional int for the random initial rotation.
      dtype: floating dtype.
      validate_args: check inputs for non-finite values.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    arguments.int_at_least(num_nodes, 1, 'num_nodes', layer)
    arguments.int_at_least(num_features, 1, 'num_features', layer)
    with tf.name_scope(name) as name:
      self._num_nodes, self._num_features = num_nodes, num_features
      self._pixels = conv1x1.Conv1x1(
          [num_nodes, 1, num_features], parameterization, seed=seed,
          dtype=dtype, validate_args=validate_args)
      super().__init__(
          forward_min_event_ndims=2,
          is_constant_jacobian=False,  # the node count comes with each call
          dtype=image_events.float_dtype(dtype, layer),
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  def matrix(self):
    """`W` (output feature, input feature)."""
    return self._pixels.matrix()

  def _forward(self, x, adjacency=None, node_mask=None):
    del adjacency  # unused (see the class docstring)
    x, mask, _ = self._graph(x, node_mask)
    z = self._pixels.forward(x[..., None, :])[..., 0, :]
    return tf.where(mask > 0, z, x)

  def _inverse(self, y, adjacency=None, node_mask=None):
    del adjacency  # unused (see the class docstring)
    y, mask, _ = self._graph(y, node_mask)
    x = self._pixels.inverse(y[..., None, :])[..., 0, :]
    return tf.where(mask > 0, x, y)

  def _forward_log_det_jacobian(self, x, adjacency=None, node_mask=None):
    del adjacency  # unused (see the class docstring)
    _, _, count = self._graph(x, node_mask)
    return count * self._pixels.log_abs_det_matrix()
