"""The training step: what `python -m train` runs, and what
`benchmarks/train_bench.py` times."""

import tensorflow as tf


def make_train_step(loss, variables, optimizer, strategy, global_batch,
                    clip_grad_norm, seed, jit):
  """Builds `train_step(batch, batch_index, poison)`.

  On each replica: the mean of `loss` over the replica's batch
  (XLA-compiled if `jit`), its gradient, the global gradient norm over all
  replicas, clipping
  to `clip_grad_norm` (0: none), and the update. A step whose summed loss or
  gradient norm is not finite changes nothing: the update runs under a
  `tf.cond` in cross-replica context (the pattern of Keras's
  `LossScaleOptimizer`: an optimizer's update may not sit in a replica-context
  cond), so no copy of the variables is needed to undo it.

  Args:
    loss: `loss(batch, seed)`, the per-example metric (e.g. a task's
      `loss` with its model bound), `seed` a stateless seed.
    variables: the trainable variables.
    optimizer: a built Keras optimizer over `variables`.
    strategy: the `tf.distribute` strategy holding the variables.
    global_batch: examples per step over all replicas.
    clip_grad_norm: float >= 0.
    seed: int; the step's stateless seed is `[seed, batch_index * replicas +
      replica]`.
    jit: XLA-compile the loss.

  Returns:
    A `tf.function` returning `(loss, gradient_norm, applied)`: the mean
    loss over the global batch, the global norm before clipping, and
    whether the update was applied. `poison` (a bool) makes the step's
    loss and gradient NaN, for tests of the guard.
  """
  replicas = strategy.num_replicas_in_sync
  per_example = tf.function(loss, jit_compile=jit)

  def apply(grads):
    optimizer.apply_gradients(zip(grads, variables))

  def replica_step(batch, batch_index, poison):
    ctx = tf.distribute.get_replica_context()
    step_seed = tf.cast(tf.stack([
        tf.constant(seed, tf.int64),
        batch_index * replicas + tf.cast(ctx.replica_id_in_sync_group,
                                         tf.int64)]), tf.int32)
    with tf.GradientTape() as tape:
      values = per_example(batch, step_seed)
      values *= tf.where(poison, float('nan'), tf.ones([], values.dtype))
      loss = tf.nn.compute_average_loss(values, global_batch_size=global_batch)
    grads = tape.gradient(loss, variables)
    norm = tf.linalg.global_norm(
        ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads))
    # The same on every replica: both are all-reduced.
    finite = tf.logical_and(
        tf.math.is_finite(norm),
        tf.math.is_finite(ctx.all_reduce(tf.distribute.ReduceOp.SUM, loss)))
    if clip_grad_norm:
      factor = tf.minimum(1., clip_grad_norm / (norm + 1e-12))
      grads = [g * factor for g in grads]
    if tf.__internal__.distribute.strategy_supports_no_merge_call():
      tf.cond(finite, lambda: apply(grads), lambda: None)
    else:
      def cross_replica(distribution, grads, finite):
        finite = distribution.experimental_local_results(finite)[0]
        tf.cond(finite, lambda: distribution.extended.call_for_each_replica(
            apply, args=(grads,)), lambda: None)
      ctx.merge_call(cross_replica, args=(grads, finite))
    return loss, norm, finite

  @tf.function
  def train_step(batch, batch_index, poison):
    loss, norm, finite = strategy.run(
        replica_step, args=(batch, batch_index, poison))
    return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.MEAN, norm, axis=None),
            strategy.experimental_local_results(finite)[0])

  return train_step
