import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import tfp_convexp

from tfp_convexp.bijectors import ActNorm
import oracle


def _closed_form(layer):
  loc, log_scale = layer.loc.numpy(), layer.log_scale.numpy()
  return lambda x: (x + loc) * np.exp(log_scale)


@pytest.mark.parametrize('dtype', [tf.float32, tf.float64])
def test_oracle(dtype):
  layer = ActNorm([3, 5, 2], data_init=False, dtype=dtype)
  tfp_convexp.bijectors.perturb_variables(layer, 0, scale=0.5)
  x = np.random.default_rng(0).standard_normal((2, 3, 5, 2))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer))


@pytest.mark.parametrize('regime', ['eager', 'function', 'xla'])
def test_data_init_normalises_the_first_batch(regime):
  layer = ActNorm([4, 4, 3])
  rng = np.random.default_rng(0)
  x = tf.constant(rng.normal([1., -2., 5.], [0.5, 3., 10.], (16, 4, 4, 3)),
                  tf.float32)
  forward = {'eager': layer.forward,
             'function': tf.function(layer.forward),
             'xla': tf.function(layer.forward, jit_compile=True)}[regime]
  z = forward(x).numpy()
  np.testing.assert_allclose(z.mean((0, 1, 2)), 0., atol=1e-5)
  np.testing.assert_allclose(z.std((0, 1, 2)), 1., atol=1e-4)
  assert bool(layer.initialized)
  before = layer.loc.numpy()
  forward(x * 3. + 1.)  # a second batch does not re-initialise
  np.testing.assert_array_equal(layer.loc.numpy(), before)


def test_inverse_does_not_initialise():
  layer = ActNorm([2, 2, 1])
  layer.inverse(tf.ones([3, 2, 2, 1]))
  assert not bool(layer.initialized)


@pytest.mark.slow
def test_replicas_stay_identical_after_cross_replica_init():
  """Two replicas on two logical CPUs, each seeing a different shard."""
  script = textwrap.dedent('''
      import numpy as np, tensorflow as tf, keras
      cpu = tf.config.list_physical_devices('CPU')[0]
      tf.config.set_logical_device_configuration(
          cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
      from tfp_convexp.bijectors import ActNorm
      strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
      data = np.random.default_rng(0).normal(3., 2., (8, 2, 2, 3))
      data[4:] = data[4:] * 5. + 7.  # the two shards differ a lot
      data = data.astype(np.float32)
      with strategy.scope():
        layer = ActNorm([2, 2, 3])
        optimizer = keras.optimizers.Adam(0.1)
        optimizer.build(layer.trainable_variables)
      dataset = strategy.experimental_distribute_dataset(
          tf.data.Dataset.from_tensor_slices(data).batch(8))

      @tf.function
      def step(x):
        def replica_step(x):
          with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer.forward(x)))
          grads = tape.gradient(loss, layer.trainable_variables)
          optimizer.apply_gradients(zip(grads, layer.trainable_variables))
        strategy.run(replica_step, args=(x,))

      try:
        step(next(iter(dataset)))
        raise SystemExit('no error before initialisation')
      except ValueError as e:
        assert 'outside strategy.run' in str(e), e
      with strategy.scope():
        layer.forward(tf.constant(data))  # cross-replica, global batch
      want = -data.reshape(-1, 3).mean(0)
      for v in (layer.loc, layer.log_scale):
        values = [t.numpy() for t in strategy.experimental_local_results(v)]
        assert np.array_equal(values[0], values[1]), values
      np.testing.assert_allclose(layer.loc.numpy(), want, rtol=1e-5)
      step(next(iter(dataset)))
      for v in (layer.loc, layer.log_scale):
        values = [t.numpy() for t in strategy.experimental_local_results(v)]
        assert np.array_equal(values[0], values[1]), values
      assert not np.allclose(layer.loc.numpy(), want)  # it trained
      print('OK')
  ''')
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  out = subprocess.run([sys.executable, '-c', script], capture_output=True,
                       text=True, env=env, timeout=300)
  assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-2000:]
  assert 'OK' in out.stdout


@pytest.mark.parametrize('regime', ['eager', 'function'])
def test_non_finite_initialisation_batch_is_refused_not_stored(regime):
  layer = ActNorm([2, 3, 2])
  forward = layer.forward if regime == 'eager' else tf.function(layer.forward)
  bad = np.random.default_rng(0).standard_normal([4, 2, 3, 2])
  bad[0, 0, 0, 0] = np.nan
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='initialisation batch has non-finite values'):
    forward(tf.constant(bad, tf.float32))
  assert not layer.initialized.numpy()
  assert np.all(layer.loc.numpy() == 0.)
  good = tf.constant(np.nan_to_num(bad), tf.float32)
  forward(good)
  assert layer.initialized.numpy() and np.all(np.isfinite(layer.loc.numpy()))


def test_non_finite_initialisation_under_xla_leaves_it_uninitialised():
  """XLA drops asserts: the layer must then wait for a finite batch."""
  layer = ActNorm([2, 3, 2])
  forward = tf.function(layer.forward, jit_compile=True)
  bad = np.random.default_rng(0).standard_normal([4, 2, 3, 2])
  bad[0, 0, 0, 0] = np.inf
  forward(tf.constant(bad, tf.float32))
  assert not layer.initialized.numpy()
  assert np.all(np.isfinite(layer.log_scale.numpy()))
  forward(tf.constant(np.nan_to_num(bad, posinf=0.), tf.float32))
  assert layer.initialized.numpy()


def test_bad_input():
  with pytest.raises(ValueError, match=r'\[\.\.\., 2, 2, 3\]'):
    ActNorm([2, 2, 3]).forward(tf.zeros([1, 2, 2, 4]))


def test_forward_is_pure_once_initialised():
  """After the data-dependent start no assign is left in the graph, so the
  forward pass vectorizes (TFP's contract) and compiles without state."""
  layer = ActNorm([2, 3, 4], dtype=tf.float64)
  x = tf.constant(np.random.default_rng(0).normal(3., 2., (5, 2, 3, 4)))
  def op_types():
    graph = tf.function(layer.forward).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}

  assert 'If' in op_types()  # the initialisation, assigns in its branch
  layer.forward(x)  # initialises
  assert not op_types() & {'If', 'StatelessIf', 'AssignVariableOp'}
  np.testing.assert_allclose(tf.vectorized_map(layer.forward, x),
                             layer.forward(x), rtol=1e-12)


def test_only_a_data_initialised_layer_has_a_changing_jacobian():
  assert not ActNorm([2, 2, 1]).is_constant_jacobian
  assert ActNorm([2, 2, 1], data_init=False).is_constant_jacobian
