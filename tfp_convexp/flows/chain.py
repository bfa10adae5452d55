"""Running a list of layers with their log-determinants: the one chain loop.

A layer says which keyword arguments its calls need through its
`call_keywords` (`'seed'` for a Russian-roulette log-det, `'context'` for a
conditional coupling); TFP's own bijectors need none. Every layer that
needs a seed gets its own, split from one.
"""

import tensorflow as tf

__all__ = ['call_kwargs', 'forward', 'inverse']


def _keywords(layer):
  return getattr(layer, 'call_keywords', frozenset())


def call_kwargs(layers, owner, seed=None, **keywords):
  """The keyword arguments of each layer's calls, one dict per layer.

  Args:
    layers: the bijectors, in order.
    owner: who runs them, for the error messages.
    seed: a stateless seed, split among the layers that need one.
    **keywords: other keywords (`context`), given to the layers naming them.
  """
  needs_seed = [i for i, layer in enumerate(layers)
                if 'seed' in _keywords(layer)]
  seeds = {}
  if needs_seed:
    if seed is None:
      raise ValueError(
          f'{owner}: layers with a Russian-roulette log-determinant need a '
          f'stateless `seed` keyword, e.g. model.log_prob(x, seed=[1, 2]).')
    seeds = dict(zip(needs_seed, tf.unstack(
        tf.random.experimental.stateless_split(seed, len(needs_seed)))))
  out = []
  for i, layer in enumerate(layers):
    wanted = _keywords(layer) - {'seed'}
    missing = sorted(k for k in wanted if keywords.get(k) is None)
    if missing:
      raise ValueError(f'{owner}: layer {layer.name!r} needs the keyword(s) '
                       f'{missing}.')
    kwargs = {k: keywords[k] for k in wanted}
    if i in seeds:
      kwargs['seed'] = seeds[i]
    out.append(kwargs)
  return out


def forward(layers, x, log_det, kwargs, event_ndims=3):
  """`x` through `layers` in order, and `log_det` plus their log-dets (per
  batch member; one network pass for layers that compute both together,
  via TFP's cache). `event_ndims`: 3 for images, 2 for graphs' nodes."""
  for layer, kw in zip(layers, kwargs):
    y = layer.forward(x, **kw)
    log_det += tf.broadcast_to(
        layer.forward_log_det_jacobian(x, event_ndims=event_ndims, **kw),
        tf.shape(log_det))
    x = y
  return x, log_det


def inverse(layers, y, log_det, kwargs, event_ndims=3):
  """`y` back through `layers` in reverse order, and `log_det` plus their
  inverse log-dets."""
  for layer, kw in zip(layers[::-1], kwargs[::-1]):
    x = layer.inverse(y, **kw)
    log_det += tf.broadcast_to(
        layer.inverse_log_det_jacobian(y, event_ndims=event_ndims, **kw),
        tf.shape(log_det))
    y = x
  return y, log_det
