"""Affine coupling over node features, conditioned by message passing."""

import tensorflow as tf

from tfp_convexp import nets
from tfp_convexp.bijectors.internal import arguments
from tfp_convexp.bijectors.internal import augmented
from tfp_convexp.bijectors.internal import graph_events
from tfp_convexp.bijectors.internal import image_events

__all__ = ['GraphAffineCoupling']


class GraphAffineCoupling(augmented.AugmentedBijector):
  r"""Affine coupling on the features of every node of a graph.

  With node features `X = [X_1, X_2]` `[N, F]` split after `num_masked`
  features and `[h_s, T] = MP(X_1, A)` from a message-passing network
  (`tfp_convexp.nets.MessagePassingNet`) on the conditioning half and the
  adjacency `A`,

  ```none
  forward:  Z = [X_1, X_2 * exp(log_s) + T]
  inverse:  X = [Z_1, (Z_2 - T) * exp(-log_s)]
  log-det:  sum over real nodes and X_2's features of log_s
  log_s  =  r * tanh(h_s / r)
  ```

  Every node's scale and shift depend on its neighbours' conditioning
  features, which is the coupling of Graph Normalizing Flows (Liu et al.,
  2019, GRevNet); the network is shared by all nodes, so the layer is
  equivariant to node permutations. Padded nodes (`node_mask` 0) get
  `log_s = T = 0` and pass unchanged. The network's last layer is zero, so
  the layer starts as the identity.

  Call with keyword arguments: `layer.forward(x, adjacency=a,
  node_mask=m)`.

  #### Example

  ```python
  coupling = tfp_convexp.bijectors.GraphAffineCoupling(9, 4)
  z = coupling.forward(x, adjacency=a, node_mask=m)   # x [B, 9, 4]
  ```

  #### References

  [1]: Jenny Liu, Aviral Kumar, Jimmy Ba, Jamie Kiros and Kevin Swersky.
       Graph Normalizing Flows. In _NeurIPS_, 2019.
  [2]: Laurent Dinh, Jascha Sohl-Dickstein and Samy Bengio. Density
       estimation using Real NVP. In _ICLR_, 2017.
  """

  def __init__(self, num_nodes, num_features, num_masked=None, hidden=64,
               message_steps=2, log_scale_range=2., seed=0, dtype=tf.float32,
               validate_args=False, name='graph_affine_coupling'):
    """Builds the layer.

    Args:
      num_nodes: Python int `N` (the padded size).
      num_features: Python int `F >= 2`.
      num_masked: features passed through and conditioned on; default
        `F // 2`.
      hidden: width of the message-passing network.
      message_steps: message-passing rounds (each reaches one hop further).
      log_scale_range: `r` of the tanh bound on `log_s`.
      seed: int for the network's initialisation.
      dtype: floating dtype.
      validate_args: check inputs for non-finite values and the mask for
        values other than 0 and 1.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    arguments.int_at_least(num_nodes, 1, 'num_nodes', layer)
    arguments.int_at_least(num_features, 2, 'num_features', layer)
    if num_masked is None:
      num_masked = num_features // 2
    if (isinstance(num_masked, bool) or not isinstance(num_masked, int) or
        not 0 < num_masked < num_features):
      raise ValueError(f'{layer}: `num_masked` must be an int in [1, F-1] = '
                       f'[1, {num_features - 1}]; got {num_masked!r}.')
    arguments.int_at_least(hidden, 1, 'hidden', layer)
    arguments.int_at_least(message_steps, 0, 'message_steps', layer)
    if not log_scale_range > 0:
      raise ValueError(f'{layer}: `log_scale_range` must be > 0; got '
                       f'{log_scale_range!r}.')
    with tf.name_scope(name) as name:
      dtype = image_events.float_dtype(dtype, layer)
      self._num_nodes, self._num_features = num_nodes, num_features
      self._num_masked = num_masked
      self._log_scale_range = float(log_scale_range)
      self._net = nets.MessagePassingNet(
          num_masked, 2 * (num_features - num_masked), hidden, message_steps,
          seed, dtype)
      super().__init__(
          forward_min_event_ndims=2,
          is_constant_jacobian=False,
          dtype=dtype,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  @property
  def call_keywords(self):
    return graph_events.GRAPH_KEYWORDS

  @property
  def net(self):
    """The message-passing conditioner network."""
    return self._net

  def _split_and_scale(self, x, adjacency, node_mask):
    x, adjacency, mask, _ = graph_events.checked_graph(
        type(self).__name__, x, self._num_nodes, self._num_features,
        adjacency, node_mask, self.validate_args)
    x1, x2 = x[..., :self._num_masked], x[..., self._num_masked:]
    raw, shift = tf.split(self._net(x1, adjacency, mask), 2, axis=-1)
    r = self._log_scale_range
    return x1, x2, shift, r * tf.tanh(raw / r)  # zero on padded nodes

  def _forward_and_log_det(self, x, adjacency=None, node_mask=None):
    x1, x2, shift, log_scale = self._split_and_scale(x, adjacency, node_mask)
    z = tf.concat([x1, x2 * tf.exp(log_scale) + shift], axis=-1)
    return z, tf.reduce_sum(log_scale, axis=[-2, -1])

  def _inverse_and_log_det(self, y, adjacency=None, node_mask=None):
    y1, y2, shift, log_scale = self._split_and_scale(y, adjacency, node_mask)
    x = tf.concat([y1, (y2 - shift) * tf.exp(-log_scale)], axis=-1)
    return x, -tf.reduce_sum(log_scale, axis=[-2, -1])
