"""Checks shared by bijectors whose event is the node features of a graph.

The event is `X` `[N, F]` (N nodes, padded; F features). Calls take the
adjacency `[..., N, N]` and a node mask `[..., N]` (1 for real nodes, 0 for
padding) as keyword arguments; padded nodes pass through every layer
unchanged and add nothing to a log-determinant.
"""

import numpy as np
import tensorflow as tf

__all__ = ['GRAPH_KEYWORDS', 'checked_graph', 'checked_adjacency_norm']

# The call keywords of a graph layer (`call_keywords`, see flows/chain.py).
GRAPH_KEYWORDS = frozenset({'adjacency', 'node_mask'})


def checked_graph(layer, x, num_nodes, num_features, adjacency, node_mask,
                  validate_args, need_adjacency=True):
  """`(x, adjacency, mask, count)`: `x` checked to end in `[N, F]`, the
  adjacency with padded rows and columns zeroed (None if not needed), the
  mask as `x`'s dtype (`[..., N]`, ones when None) and the node counts
  `[...]`. Shape errors name what was expected and what came."""
  n, f = num_nodes, num_features
  if x.shape.rank is not None and (
      x.shape.rank < 2 or any(d is not None and d != e for d, e in
                              zip(x.shape[-2:], (n, f)))):
    raise ValueError(f'{layer}: expected node features of shape '
                     f'[..., {n}, {f}]; got {x.shape}.')
  if node_mask is None:
    mask = tf.ones(tf.shape(x)[:-1], x.dtype)
  else:
    mask = tf.convert_to_tensor(node_mask)
    if mask.shape.rank is not None and (
        mask.shape.rank < 1 or mask.shape[-1] not in (None, n)):
      raise ValueError(f'{layer}: expected a node_mask of shape [..., {n}] '
                       f'(1 for real nodes, 0 for padding); got '
                       f'{mask.shape}.')
    mask = tf.cast(mask, x.dtype)
    if validate_args:
      with tf.control_dependencies([tf.debugging.assert_equal(
          mask * (1. - mask), tf.zeros([], x.dtype),
          message=f'{layer}: node_mask must hold only 0 and 1.')]):
        mask = tf.identity(mask)
  if validate_args:
    x = tf.debugging.assert_all_finite(x, f'{layer}: input has non-finite '
                                          f'values.')
  count = tf.reduce_sum(mask, axis=-1)
  if not need_adjacency:
    return x, None, mask, count
  if adjacency is None:
    raise ValueError(f'{layer}: pass the adjacency, e.g. forward(x, '
                     f'adjacency=a) with a of shape [..., {n}, {n}].')
  adjacency = tf.convert_to_tensor(adjacency, dtype=x.dtype)
  if adjacency.shape.rank is not None and (
      adjacency.shape.rank < 2 or any(d is not None and d != n
                                      for d in adjacency.shape[-2:])):
    raise ValueError(f'{layer}: expected an adjacency of shape [..., {n}, '
                     f'{n}]; got {adjacency.shape}.')
  adjacency = adjacency * mask[..., :, None] * mask[..., None, :]
  if validate_args:
    adjacency = tf.debugging.assert_all_finite(
        adjacency, f'{layer}: the adjacency has non-finite values (after '
                   f'the node_mask).')
  return x, adjacency, mask, count


def checked_adjacency_norm(adjacency, bound, layer):
  """`adjacency` after a runtime check that `||A||_2 <= bound`.

  The exact norm (largest singular value, up to rounding), not a certified
  upper bound: Gram iteration overestimates repeated singular values (1.01
  for the identity), which would refuse valid normalised adjacencies.
  """
  n = int(adjacency.shape[-1])
  norm = tf.linalg.svd(adjacency, compute_uv=False)[..., 0]
  eps = np.finfo(adjacency.dtype.as_numpy_dtype).eps
  limit = bound * (1. + 64. * n * eps)
  with tf.control_dependencies([tf.debugging.assert_less_equal(
      norm, tf.constant(limit, norm.dtype),
      message=f'{layer}: ||A||_2 exceeds {bound}; pass the symmetrically '
              f'normalised adjacency D^-1/2 A D^-1/2 '
              f'(tfp_convexp.flows.normalized_adjacency) (x: its largest '
              f'singular value).')]):
    return tf.identity(adjacency)
