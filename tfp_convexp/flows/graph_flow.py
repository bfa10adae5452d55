"""Graph normalizing flows: densities over the node features of graphs.

**How the graph is passed.** The adjacency and the node mask are data, one
per graph of a batch, not parameters of the distribution. They go in as
keyword arguments of `log_prob` and `sample`, which `tfd.Distribution`
forwards to `_log_prob` and `_sample_n` (TFP's mechanism for conditioning
inputs, as in `TransformedDistribution(...).log_prob(x, bijector_kwargs=...)`
and MAF's `conditional_input`); the model hands them on to the layers that
name them in their `call_keywords` (`flows/chain.py`). So one distribution
serves every batch of graphs: a `tf.function`, an XLA compilation or a
SavedModel signature takes `(x, adjacency, node_mask)` as tensors, with no
new distribution object (and no retracing) per batch, which a distribution
parameterized by the adjacency would need.
"""

import functools
import math

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_convexp import bijectors
from tfp_convexp.bijectors.internal import augmented
from tfp_convexp.bijectors.internal import graph_events
from tfp_convexp.bijectors.internal import image_events
from tfp_convexp.flows import builder
from tfp_convexp.flows import chain
from tfp_convexp.flows import registry

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ['GRAPH_MIXINGS', 'GraphFlow', 'GraphFlowBijector',
           'make_graph_flow', 'nats_per_node', 'normalized_adjacency']


def _reverse(ctx):
  return [tfb.Permute(list(range(ctx.num_features))[::-1], axis=-1,
                      name=ctx.name('reverse'))]


def _node_linear(ctx):
  return [bijectors.NodeLinear(ctx.num_nodes, ctx.num_features, 'plain',
                               seed=ctx.seed(), dtype=ctx.dtype,
                               name=ctx.name('node_linear'))]


def _graph_convexp(ctx):
  return [bijectors.GraphConvolutionExponential(
      ctx.num_nodes, ctx.num_features, seed=ctx.seed(), dtype=ctx.dtype,
      name=ctx.name('graph_convexp'))]


# name -> Choice(description, build(context) -> list of bijectors).
GRAPH_MIXINGS = {
    'none': registry.Choice('a fixed reversal of the features',
                           _reverse),
    '1x1': registry.Choice('one free F x F matrix shared by all nodes (the '
                          'graph 1x1)', _node_linear),
    'graph_convexp': registry.Choice(
        'the graph 1x1, then the graph convolution exponential (the image '
        'side\'s convexp bundle on graphs)',
        lambda ctx: _node_linear(ctx) + _graph_convexp(ctx)),
    'graph_convexp_only': registry.Choice(
        'the graph convolution exponential alone', _graph_convexp),
}
"""`make_graph_flow`'s `mixing` layers, name -> `Choice`."""


class _Context(object):
  """What a mixing builder gets: the event, the dtype, its own seeds and
  unique names."""

  def __init__(self, num_nodes, num_features, dtype, seed, prefix):
    self.num_nodes, self.num_features, self.dtype = (num_nodes, num_features,
                                                     dtype)
    self._seed, self._prefix, self._count = seed, prefix, 0

  def seed(self):
    self._count += 1
    return self._seed * 1000 + self._count

  def name(self, what):
    return f'{self._prefix}_{what}'


class GraphFlowBijector(augmented.AugmentedBijector):
  """A list of graph layers run in order, data to latent, on `[N, F]`
  events; `adjacency` and `node_mask` go to the layers that name them."""

  def __init__(self, num_nodes, num_features, layers, validate_args=False,
               name='graph_flow_bijector'):
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      self._num_nodes, self._num_features = num_nodes, num_features
      self._layers = list(layers)
      super().__init__(
          forward_min_event_ndims=2,
          is_constant_jacobian=False,
          dtype=self._layers[0].dtype if self._layers else tf.float32,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  @property
  def layers(self):
    """The graph layers, data to latent."""
    return self._layers

  @property
  def call_keywords(self):
    return graph_events.GRAPH_KEYWORDS

  def _run(self, direction, x, adjacency, node_mask):
    owner = type(self).__name__
    x, adjacency, mask, _ = graph_events.checked_graph(
        owner, x, self._num_nodes, self._num_features, adjacency, node_mask,
        self.validate_args)
    kwargs = chain.call_kwargs(self._layers, owner, adjacency=adjacency,
                               node_mask=mask)
    log_det = tf.zeros(tf.broadcast_dynamic_shape(tf.shape(x)[:-2],
                                                  tf.shape(mask)[:-1]),
                       x.dtype)
    return direction(self._layers, x, log_det, kwargs, event_ndims=2)

  def _forward_and_log_det(self, x, adjacency=None, node_mask=None):
    return self._run(chain.forward, x, adjacency, node_mask)

  def _inverse_and_log_det(self, y, adjacency=None, node_mask=None):
    return self._run(chain.inverse, y, adjacency, node_mask)


class GraphFlow(tfd.Distribution):
  r"""A density over node features `X` `[..., N, F]` given each graph.

  ```none
  log p(X | A, m) = sum over real nodes i of log N(z_i; 0, I)
                    + log|det dz/dx|,        z = f(X; A, m)
  ```

  `f` is a `GraphFlowBijector` (data to latent) and `m` the node mask
  (`[..., N]`, 1 for real nodes, 0 for padding): padded nodes add nothing to
  `log_prob`, and `sample` leaves them zero. The adjacency `A` `[..., N, N]`
  must have `||A||_2 <= 1` (the symmetrically normalised adjacency,
  `normalized_adjacency`); with `validate_args` (the default) every call
  checks it, the mask's shape and values, and finiteness.

  ```python
  model = tfp_convexp.flows.make_graph_flow(20, 4, mixing='graph_convexp')
  a = tfp_convexp.flows.normalized_adjacency(edges, mask)  # [B, 20, 20]
  log_p = model.log_prob(x, adjacency=a, node_mask=mask)   # [B]
  x_new = model.sample(seed=[1, 2], adjacency=a, node_mask=mask)
  ```
  """

  def __init__(self, bijector, validate_args=True, name='GraphFlow'):
    """Args:
      bijector: a `GraphFlowBijector`.
      validate_args: check the inputs of every call.
      name: name scope.
    """
    parameters = dict(locals())
    self._bijector = bijector
    super().__init__(
        dtype=bijector.dtype,
        reparameterization_type=tfd.FULLY_REPARAMETERIZED,
        validate_args=validate_args,
        allow_nan_stats=False,
        parameters=parameters,
        name=name)

  @classmethod
  def _parameter_properties(cls, dtype, num_classes=None):
    return dict()

  @property
  def bijector(self):
    """The data-to-latent `GraphFlowBijector`."""
    return self._bijector

  @property
  def num_nodes(self):
    """`N`, the most nodes a graph has."""
    return self._bijector._num_nodes  # pylint: disable=protected-access

  @property
  def num_features(self):
    """`F`, the features of a node."""
    return self._bijector._num_features  # pylint: disable=protected-access

  def _event_shape(self):
    return tf.TensorShape([self.num_nodes, self.num_features])

  def _event_shape_tensor(self):
    return tf.constant([self.num_nodes, self.num_features], tf.int32)

  def _batch_shape(self):
    return tf.TensorShape([])

  def _batch_shape_tensor(self):
    return tf.constant([], tf.int32)

  def _checked(self, x, adjacency, node_mask):
    if adjacency is None:
      raise ValueError(f'{self.name}: pass the graph, e.g. log_prob(x, '
                       f'adjacency=a, node_mask=m), a [..., {self.num_nodes}, '
                       f'{self.num_nodes}] normalised adjacency.')
    x, adjacency, mask, _ = graph_events.checked_graph(
        self.name, x, self.num_nodes, self.num_features, adjacency, node_mask,
        self.validate_args)
    if self.validate_args:
      adjacency = graph_events.checked_adjacency_norm(adjacency, 1.,
                                                      self.name)
    return x, adjacency, mask

  def _log_prob(self, x, adjacency=None, node_mask=None):
    x = tf.convert_to_tensor(x, self.dtype)
    x, adjacency, mask = self._checked(x, adjacency, node_mask)
    kwargs = dict(adjacency=adjacency, node_mask=mask)
    z = self._bijector.forward(x, **kwargs)
    log_det = self._bijector.forward_log_det_jacobian(x, event_ndims=2,
                                                      **kwargs)
    log_normal = -0.5 * (tf.square(z) + math.log(2. * math.pi))
    return tf.reduce_sum(log_normal * mask[..., None], axis=[-2, -1]) + log_det

  def sample(self, sample_shape=(), seed=None, name='sample', **kwargs):
    """Node features of shape `sample_shape + B + [N, F]`, `B` the batch
    shape of the graphs given (`adjacency`, `node_mask` keywords), zero on
    padded nodes; `temperature` (default 1) scales the latent, as the image
    models' `sample`. (TFP's `sample` would fix `B` to the distribution's
    empty batch shape; the graphs come with each call.)"""
    with tf.name_scope(self.name), tf.name_scope(name):
      static = tf.get_static_value(tf.convert_to_tensor(sample_shape,
                                                        tf.int32))
      if static is not None and np.any(static < 0):
        raise ValueError(f'{self.name}: sample_shape must be >= 0; got '
                         f'{sample_shape!r}.')
      shape = tf.reshape(tf.convert_to_tensor(sample_shape, tf.int32), [-1])
      x = self._sample_n(tf.reduce_prod(shape), seed=seed, **kwargs)
      return tf.reshape(x, tf.concat([shape, tf.shape(x)[1:]], 0))

  def _sample_n(self, n, seed=None, adjacency=None, node_mask=None,
                temperature=1.):
    dtype = self.dtype
    zeros = tf.zeros([self.num_nodes, self.num_features], dtype)
    _, adjacency, mask = self._checked(zeros, adjacency, node_mask)
    batch = tf.broadcast_dynamic_shape(tf.shape(adjacency)[:-2],
                                       tf.shape(mask)[:-1])
    shape = tf.concat([[n], batch, [self.num_nodes, self.num_features]], 0)
    z = tf.random.stateless_normal(
        shape, tfp.random.sanitize_seed(seed, salt='graph_flow_sample'),
        dtype=dtype) * (mask[..., None] * tf.cast(temperature, dtype))
    return self._bijector.inverse(z, adjacency=adjacency, node_mask=mask)


def make_graph_flow(num_nodes, num_features, mixing='graph_convexp',
                    n_subflows=4, n_intermediate_channels=64,
                    message_steps=2, seed=0,
                    dtype=tf.float32, validate_args=True):
  """A graph normalizing flow over node features `[..., N, F]`.

  Each of `n_subflows` steps is (Liu et al., 2019, with a mixing layer as in
  Glow and the convolution-exponential paper): a `GraphActNorm`; the
  `mixing` layers (`GRAPH_MIXINGS`); a `GraphAffineCoupling` whose scale and
  shift come from a message-passing network on the first half of the
  features. Every layer is equivariant to node permutations, so
  `log_prob` is invariant to them.

  Args:
    num_nodes: Python int `N`, the padded number of nodes.
    num_features: Python int `F >= 2`.
    mixing: a name in `GRAPH_MIXINGS`.
    n_subflows: Python int >= 1, the number of steps (named as
      `make_flow`'s steps per level).
    n_intermediate_channels: width of the couplings' message-passing
      networks (named as `make_flow`'s conditioner width).
    message_steps: their message-passing rounds.
    seed: int; every weight follows from it.
    dtype: tf.float32 or tf.float64.
    validate_args: check every call's inputs (see `GraphFlow`).

  Returns:
    A `GraphFlow`.
  """
  owner = 'make_graph_flow'
  positive_int = functools.partial(builder._positive_int, owner=owner)  # pylint: disable=protected-access
  num_nodes = positive_int(num_nodes, 'num_nodes')
  num_features = positive_int(num_features, 'num_features', 2)
  n_subflows = positive_int(n_subflows, 'n_subflows')
  seed = positive_int(seed, 'seed', 0)
  if mixing not in GRAPH_MIXINGS:
    raise ValueError(f'{owner}: `mixing` must be one of '
                     f'{tuple(GRAPH_MIXINGS)}; got {mixing!r}.')
  dtype = image_events.float_dtype(dtype, owner)
  layers = []
  for step in range(n_subflows):
    prefix = f'step{step}'
    ctx = _Context(num_nodes, num_features, dtype, seed * 100 + step, prefix)
    layers.append(bijectors.GraphActNorm(num_nodes, num_features,
                                         dtype=dtype,
                                         name=f'{prefix}_actnorm'))
    layers.extend(GRAPH_MIXINGS[mixing].build(ctx))
    layers.append(bijectors.GraphAffineCoupling(
        num_nodes, num_features, hidden=n_intermediate_channels,
        message_steps=message_steps,
        seed=ctx.seed(), dtype=dtype, name=f'{prefix}_coupling'))
  return GraphFlow(GraphFlowBijector(num_nodes, num_features, layers),
                   validate_args=validate_args)


def normalized_adjacency(adjacency, node_mask=None, validate_args=True):
  """`D^-1/2 A D^-1/2` of symmetric, non-negative adjacencies `[..., N, N]`
  (padded rows and columns zeroed by `node_mask`; isolated nodes get zero
  rows). Its spectral norm is at most 1, as `GraphFlow` requires. With
  `validate_args`, a non-symmetric or negative adjacency is refused."""
  a = tf.convert_to_tensor(adjacency)
  if not a.dtype.is_floating:
    a = tf.cast(a, tf.float32)
  if a.shape.rank is not None and (a.shape.rank < 2 or (
      None not in a.shape[-2:] and a.shape[-1] != a.shape[-2])):
    raise ValueError(f'normalized_adjacency: expected square adjacencies '
                     f'[..., N, N]; got {a.shape}.')
  if node_mask is not None:
    m = tf.cast(node_mask, a.dtype)
    a = a * m[..., :, None] * m[..., None, :]
  if validate_args:
    with tf.control_dependencies([
        tf.debugging.assert_equal(
            a, tf.linalg.matrix_transpose(a),
            message='normalized_adjacency: the adjacency must be symmetric '
                    '(an undirected graph); got a non-symmetric one.'),
        tf.debugging.assert_non_negative(
            a, message='normalized_adjacency: the adjacency must be '
                       'non-negative.')]):
      a = tf.identity(a)
  degree = tf.reduce_sum(a, axis=-1)
  scale = tf.where(degree > 0, tf.math.rsqrt(tf.maximum(degree, 1e-30)),
                   tf.zeros_like(degree))
  return a * scale[..., :, None] * scale[..., None, :]


def nats_per_node(model, x, adjacency, node_mask):
  """`-log p(X | A) / (number of real nodes)` per graph, in nats."""
  node_mask = tf.convert_to_tensor(node_mask)
  log_prob = model.log_prob(x, adjacency=adjacency, node_mask=node_mask)
  return -log_prob / tf.reduce_sum(tf.cast(node_mask, log_prob.dtype), -1)
