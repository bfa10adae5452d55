"""Running many small ops as one graph when called eagerly."""

import functools

import tensorflow as tf

__all__ = ['graph_when_eager']


def graph_when_eager(fn=None, **function_kwargs):
  """Decorator: call `fn` as one `tf.function` when executing eagerly.

  Eagerly every small op pays Python dispatch, which dominates loops of
  small ops (series terms, wavefront steps, reflections); inside an outer
  `tf.function` or XLA the plain Python body is traced as usual. Extra
  keyword arguments go to `tf.function` (autograph is always off).
  """
  if fn is None:
    return functools.partial(graph_when_eager, **function_kwargs)
  graph = tf.function(fn, autograph=False, **function_kwargs)

  @functools.wraps(fn)
  def wrapper(*args, **kwargs):
    return (graph if tf.executing_eagerly() else fn)(*args, **kwargs)
  return wrapper
