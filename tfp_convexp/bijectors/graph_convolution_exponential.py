"""The graph convolution exponential."""

import numpy as np
import tensorflow as tf

from tfp_convexp.bijectors.internal import arguments
from tfp_convexp.bijectors.internal import base
from tfp_convexp.bijectors.internal import graph_events
from tfp_convexp import ops
from tfp_convexp.bijectors.internal import image_events

__all__ = ['GraphConvolutionExponential']


class GraphConvolutionExponential(base.OwnsVariables):
  r"""The exponential of a graph convolution, on node features `X` `[N, F]`.

  With the graph convolution `M X = X W_0 + A X W_1` (`A` the `N x N`
  adjacency, given per call),

  ```none
  forward:  Z = exp(M) X = sum_k M^k X / k!
  inverse:  X = exp(-M) Z                  (the same series with -W_0, -W_1)
  log-det:  trace(M) = N trace(W_0) + trace(A) trace(W_1)
  ```

  The map is equivariant to node permutations: permuting the nodes of `X`
  and of `A` (`P X`, `P A P^T`) permutes `Z` the same way.

  **Certified truncation.** `||M||_2 <= ||W_0||_2 + ||A||_2 ||W_1||_2`. The
  weights live in one `[2, F, F]` variable whose constraint (applied by
  Keras optimizers; `project()` by hand) rescales them so that
  `||W_0|| + adjacency_norm_bound * ||W_1|| <= norm_bound`, with certified
  (Gram iteration) norms; the number of terms is then fixed from
  `norm_bound` and `tolerance` as in `ConvolutionExponential`. Adjacencies
  must satisfy `||A||_2 <= adjacency_norm_bound` (1 for the symmetrically
  normalised `D^-1/2 A D^-1/2`). `validate_args=True` checks on every call
  that the weights are finite and inside their bound and that the largest
  singular value of `A` (computed exactly, up to rounding) is within
  `adjacency_norm_bound`.

  **Batches of graphs of different sizes** are padded to `N` nodes and
  passed with `node_mask` (`[..., N]`, 1 for real nodes): padded rows and
  columns of `A` are ignored, `M` is zero on padded nodes (so they pass
  through unchanged) and `N` in the log-det becomes each graph's node count.

  Call with keyword arguments, which TFP forwards to the bijector:
  `layer.forward(x, adjacency=a, node_mask=m)`; inside a `tfb.Chain`,
  `chain.forward(x, **{layer.name: dict(adjacency=a)})`.

  #### Example

  ```python
  layer = tfp_convexp.bijectors.GraphConvolutionExponential(9, 4)
  x = tf.random.normal([8, 9, 4])
  a = ...  # [8, 9, 9] normalised adjacencies
  z = layer.forward(x, adjacency=a)
  ```

  #### References

  [1]: Emiel Hoogeboom, Victor Garcia Satorras, Jakub M. Tomczak and Max
       Welling. The Convolution Exponential and Generalized Sylvester Flows.
       In _NeurIPS_, 2020.
  """

  def __init__(self, num_nodes, num_features, norm_bound=0.95,
               adjacency_norm_bound=1., tolerance=None, terms=None,
               gram_iterations=6, seed=None, dtype=tf.float32,
               validate_args=False, name='graph_convolution_exponential'):
    """Builds the layer.

    Args:
      num_nodes: Python int `N` (the padded size for batches of graphs).
      num_features: Python int `F`.
      norm_bound: certified bound on `||M||_2`, > 0.
      adjacency_norm_bound: the largest `||A||_2` the layer accepts, > 0.
      tolerance: relative truncation error in (0, 1); default 1e-6 in
        float32, 1e-14 in float64.
      terms: overrides the number of series terms.
      gram_iterations: Gram iterations of the norm bounds.
      seed: optional int; `W_0, W_1` start Gaussian with standard deviation
        `1 / F`, then projected.
      dtype: floating dtype.
      validate_args: check inputs and `||A||_2` on every call.
      name: name scope.
    """
    parameters = dict(locals())
    layer = type(self).__name__
    arguments.int_at_least(num_nodes, 1, 'num_nodes', layer)
    arguments.int_at_least(num_features, 1, 'num_features', layer)
    inf = float('inf')
    norm_bound = arguments.in_open_interval(norm_bound, 0., inf, 'norm_bound',
                                            layer)
    adjacency_norm_bound = arguments.in_open_interval(
        adjacency_norm_bound, 0., inf, 'adjacency_norm_bound', layer)
    with tf.name_scope(name) as name:
      dtype = image_events.float_dtype(dtype, layer)
      tolerance = arguments.tolerance_or_default(tolerance, dtype, layer,
                                                 float64=1e-14)
      if terms is None:
        terms = ops.exp_series_terms(norm_bound, tolerance)
      arguments.int_at_least(terms, 0, 'terms', layer)
      self._num_nodes, self._num_features = num_nodes, num_features
      self._norm_bound = float(norm_bound)
      self._adjacency_norm_bound = float(adjacency_norm_bound)
      self._terms = terms
      self._gram_iterations = gram_iterations
      rng = np.random.default_rng(seed)
      init = (rng.standard_normal((2, num_features, num_features)) /
              num_features).astype(dtype.as_numpy_dtype)
      projected = ops.norm_projection(self._weight_norm_bound,
                                      self._norm_bound)
      self._weights = tf.Variable(projected(init), name='weights',
                                  constraint=projected)
      super().__init__(
          forward_min_event_ndims=2,
          # Linear in x, but the log-det changes with the adjacency.
          # The log-det depends on the adjacency keyword, never on x.
          is_constant_jacobian=True,
          dtype=dtype,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  @property
  def terms(self):
    """Static number of series terms."""
    return self._terms

  @property
  def weights(self):
    """The `[2, F, F]` variable holding `W_0` and `W_1`."""
    return self._weights

  def _weight_norm_bound(self, weights):
    norms = ops.gram_spectral_norm_bound(weights, self._gram_iterations)
    return norms[0] + self._adjacency_norm_bound * norms[1]


  @property
  def call_keywords(self):
    return graph_events.GRAPH_KEYWORDS

  def _graph(self, x, adjacency, node_mask):
    """Checked `x`, masked `A`, the mask (None without one) and the
    per-graph node counts."""
    x, adjacency, mask, count = graph_events.checked_graph(
        type(self).__name__, x, self._num_nodes, self._num_features,
        adjacency, node_mask, self.validate_args)
    if node_mask is None:  # the series skips the masking
      mask = None
    if self.validate_args:
      adjacency = graph_events.checked_adjacency_norm(
          adjacency, self._adjacency_norm_bound, type(self).__name__)
    return x, adjacency, mask, count

  def _parameter_control_dependencies(self, is_init):
    if not self.validate_args or is_init:
      return []
    return [ops.assert_norm_within(
        self._weights, self._weight_norm_bound, self._norm_bound,
        f'{type(self).__name__} {self.name!r}: the weights left the certified '
        f'region ||W_0|| + {self._adjacency_norm_bound} ||W_1|| <= '
        f'{self._norm_bound}; the series with {self._terms} terms is no '
        f'longer certified.')]

  def _series(self, x, adjacency, mask, sign):
    w0, w1 = tf.unstack(sign * tf.convert_to_tensor(self._weights))
    result = term = x
    for k in range(1, self._terms + 1):
      term = (tf.matmul(term, w0) + tf.matmul(adjacency, tf.matmul(term, w1))
              ) / k
      if mask is not None:
        term = term * mask[..., None]
      result = result + term
    return result

  def _forward(self, x, adjacency=None, node_mask=None):
    x, adjacency, mask, _ = self._graph(x, adjacency, node_mask)
    return self._series(x, adjacency, mask, 1.)

  def _inverse(self, y, adjacency=None, node_mask=None):
    y, adjacency, mask, _ = self._graph(y, adjacency, node_mask)
    return self._series(y, adjacency, mask, -1.)

  def _forward_log_det_jacobian(self, x, adjacency=None, node_mask=None):
    x, adjacency, _, count = self._graph(x, adjacency, node_mask)
    w0, w1 = tf.unstack(tf.convert_to_tensor(self._weights))
    ldj = count * tf.linalg.trace(w0) + tf.linalg.trace(adjacency) * \
        tf.linalg.trace(w1)
    return tf.broadcast_to(ldj, tf.shape(x)[:-2])

  def _inverse_log_det_jacobian(self, y, adjacency=None, node_mask=None):
    return -self._forward_log_det_jacobian(y, adjacency, node_mask)
