"""Whether the graph being traced will be compiled by XLA."""

import tensorflow as tf
# TFP (`implementation_selection.is_xla`) and tf_keras ask the same private
# question the same way; TensorFlow has no public one.
from tensorflow.python.framework import ops as tf_ops  # pylint: disable=g-direct-tensorflow-import
from tensorflow.python.ops import control_flow_util  # pylint: disable=g-direct-tensorflow-import
from tensorflow.python.ops import control_flow_util_v2  # pylint: disable=g-direct-tensorflow-import

__all__ = ['tracing_for_xla', 'tracing_xla_control_flow']

_BODIES = (control_flow_util_v2.WhileBodyFuncGraph,
           control_flow_util_v2.CondBranchFuncGraph)


def tracing_for_xla():
  """True inside (a function called from) a `tf.function(jit_compile=True)`
  being traced; False eagerly and in plain graphs.

  A gradient taken outside a compiled function is traced outside it too, so
  an op that picks its implementation by this must pick once, in its forward
  pass, for both directions.
  """
  return (not tf.executing_eagerly() and
          control_flow_util.GraphOrParentsInXlaContext(
              tf_ops.get_default_graph()))


def tracing_xla_control_flow():
  """True while tracing the body of a `tf.while_loop` or a `tf.cond` branch
  (at any depth) that XLA will compile."""
  if not tracing_for_xla():
    return False
  graph = tf_ops.get_default_graph()
  while graph is not None:
    if isinstance(graph, _BODIES):
      return True
    graph = getattr(graph, 'outer_graph', None)
  return False
