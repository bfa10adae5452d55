"""The shared oracle every bijector of tfp_convexp passes.

`check_bijector(bijector, x)` runs, on a small event:
  1. `forward` against a closed form, when one is given;
  2. `inverse(forward(x)) == x` and `forward(inverse(y)) == y`;
  3. `forward_log_det_jacobian` against `slogdet` of the dense Jacobian of the
     flattened map, and `inverse_log_det_jacobian(y) == -fldj(x)`;
  4. a finite, non-zero gradient for every trainable variable;
  5. the same numbers from eager, `tf.function(jit_compile=True)` (XLA) and
     a `tf.function` whose batch dimension is unknown. The XLA regime
     compiles the graph that a plain `tf.function` traces (static shapes, the
     same Python code), so the plain one runs only where XLA is not checked:
     tracing a whole model once more costs 3 to 6 s and tests nothing that
     eager (the same TF kernels) and XLA (the same graph) do not.
Every call breaks TFP's bijector cache (`x + 0.`), which would otherwise hand
back the input of an earlier call instead of computing anything.

`check_contract(bijector, x)` checks TFP's bijector contract, as TFP's
`bijector_properties_test` does:
  6. `copy()`, `type(b)(**b.parameters)` and batch slicing give the same
     bijector: the same outputs, sharing the same variables;
  7. any number of leading batch dimensions, none included, gives what the
     flat batch gives, and `tf.vectorized_map` of `forward` equals `forward`
     (the forward pass is pure);
  8. `is_constant_jacobian` is true: a bijector that declares it has the
     same log-det at two different inputs.
"""

import numpy as np
import tensorflow as tf
from tensorflow_probability.python.math.gradient import batch_jacobian

# Round trips: float64 to 1e-10, float32 to 1e-5 (the house tolerances).
ROUND_TRIP_ATOL = {tf.float64: 1e-10, tf.float32: 1e-5}
LOG_DET_RTOL = {tf.float64: 1e-9, tf.float32: 1e-4}
REGIME_ATOL = {tf.float64: 1e-9, tf.float32: 1e-4}


def event_ndims_of(bijector):
  return bijector.forward_min_event_ndims


def dense_log_det(fn, x, event_ndims):
  """`slogdet` of the Jacobian of `fn` on flattened events, per batch member."""
  batch = x.shape[:x.shape.rank - event_ndims]
  event = x.shape[x.shape.rank - event_ndims:]
  flat = tf.reshape(x, [-1, int(np.prod(event))])

  def flat_fn(v):
    y = fn(tf.reshape(v, [-1, *event]))
    return tf.reshape(y, [tf.shape(v)[0], -1])

  jac = batch_jacobian(flat_fn, flat)
  sign, logdet = tf.linalg.slogdet(jac)
  np.testing.assert_array_equal(np.abs(sign.numpy()), 1.,
                                err_msg='dense Jacobian is singular')
  return tf.reshape(logdet, batch), jac


def _call_all(bijector, x, y, event_ndims, kwargs):
  fwd = bijector.forward(x + 0., **kwargs)
  inv = bijector.inverse(y + 0., **kwargs)
  fldj = bijector.forward_log_det_jacobian(x + 0., event_ndims=event_ndims,
                                           **kwargs)
  ildj = bijector.inverse_log_det_jacobian(
      y + 0., event_ndims=bijector.inverse_min_event_ndims, **kwargs)
  batch_shape = tf.shape(x)[:x.shape.rank - event_ndims]
  return (fwd, inv, tf.broadcast_to(fldj, batch_shape),
          tf.broadcast_to(ildj, batch_shape))


def check_bijector(bijector, x, closed_form=None, check_xla=True,
                   check_log_det=True, nonzero_gradients=True,
                   has_variables=True, kwargs=None, unknown_batch=True):
  """Runs the oracle; raises AssertionError with the failing item.

  `nonzero_gradients=False` accepts an all-zero (but present and finite)
  gradient, for parameterizations where zero is the right answer;
  `has_variables=False` is for fixed maps (squeeze, permutations);
  `kwargs` go to every call (e.g. a graph layer's adjacency);
  `unknown_batch=False` only for TFP's own `tfb.Glow` (its reshapes mix
  int32 and int64 shapes), which the package wraps but does not own.
  """
  kwargs = kwargs or {}
  x = tf.convert_to_tensor(x, dtype=bijector.dtype)
  dtype = x.dtype
  event_ndims = event_ndims_of(bijector)
  rt_atol = ROUND_TRIP_ATOL[dtype]
  scale = 1. + float(tf.reduce_max(tf.abs(x)))

  # 1. Closed form.
  y = bijector.forward(x + 0., **kwargs)
  if closed_form is not None:
    np.testing.assert_allclose(y.numpy(), closed_form(x.numpy()),
                               rtol=0, atol=rt_atol * scale,
                               err_msg='forward differs from the closed form')

  # 2. Round trips (cache broken).
  np.testing.assert_allclose(bijector.inverse(y + 0., **kwargs).numpy(),
                             x.numpy(),
                             rtol=0, atol=rt_atol * scale,
                             err_msg='inverse(forward(x)) != x')
  np.testing.assert_allclose(bijector.forward(
      bijector.inverse(y + 0., **kwargs) + 0., **kwargs).numpy(),
                             y.numpy(), rtol=0, atol=rt_atol * scale,
                             err_msg='forward(inverse(y)) != y')

  # 3. Log-determinants against the dense Jacobian.
  fldj = bijector.forward_log_det_jacobian(x + 0., event_ndims=event_ndims,
                                           **kwargs)
  ildj = bijector.inverse_log_det_jacobian(
      y + 0., event_ndims=bijector.inverse_min_event_ndims, **kwargs)
  batch_shape = x.shape[:x.shape.rank - event_ndims]
  fldj = np.broadcast_to(fldj.numpy(), batch_shape)
  ildj = np.broadcast_to(ildj.numpy(), batch_shape)
  if check_log_det:
    want, _ = dense_log_det(lambda t: bijector.forward(t + 0., **kwargs), x,
                            event_ndims)
    np.testing.assert_allclose(
        fldj, want.numpy(), rtol=LOG_DET_RTOL[dtype],
        atol=LOG_DET_RTOL[dtype] * max(1., float(np.abs(want.numpy()).max())),
        err_msg='fldj differs from slogdet of the dense Jacobian')
  np.testing.assert_allclose(ildj, -fldj, rtol=0,
                             atol=LOG_DET_RTOL[dtype] * max(1., np.abs(fldj).max()),
                             err_msg='ildj(forward(x)) != -fldj(x)')

  # 4. Every trainable variable gets a finite, non-zero gradient, through
  # forward, inverse and both log-determinants.
  variables = bijector.trainable_variables
  assert bool(variables) == has_variables, (
      f'expected trainable variables: {has_variables}; got {len(variables)}')
  weights = tf.constant(np.random.default_rng(0).standard_normal(
      x.shape).astype(dtype.as_numpy_dtype))
  for direction, inputs in (('forward', x), ('inverse', y)):
    with tf.GradientTape() as tape:
      out = getattr(bijector, direction)(inputs + 0., **kwargs)
      ldj = getattr(bijector, f'{direction}_log_det_jacobian')(
          inputs + 0., event_ndims=getattr(bijector, f'{direction}_min_event_ndims'),
          **kwargs)
      loss = (tf.reduce_sum(tf.reshape(out, [-1]) * tf.reshape(weights, [-1]))
              + tf.reduce_sum(ldj))
    grads = tape.gradient(loss, variables)
    for v, g in zip(variables, grads):
      assert g is not None, f'{direction}: no gradient for {v.name}'
      g = tf.convert_to_tensor(g).numpy()
      assert np.all(np.isfinite(g)), f'{direction}: non-finite gradient for {v.name}'
      if nonzero_gradients:
        assert np.any(g != 0), f'{direction}: zero gradient for {v.name}'

  # 5. Execution regimes agree, including an unknown batch dimension.
  eager = [t.numpy() for t in _call_all(bijector, x, y, event_ndims, kwargs)]
  regimes = ({'XLA': tf.function(_call_all, autograph=False, jit_compile=True)}
             if check_xla else
             {'tf.function': tf.function(_call_all, autograph=False)})
  for regime, fn in regimes.items():
    got = fn(bijector, x, y, event_ndims, kwargs)
    for name, a, b in zip(('forward', 'inverse', 'fldj', 'ildj'), got, eager):
      np.testing.assert_allclose(
          a.numpy(), b, rtol=REGIME_ATOL[dtype], atol=REGIME_ATOL[dtype] * scale,
          err_msg=f'{regime} {name} differs from eager')
  if not unknown_batch:
    return
  specs = [tf.TensorSpec([None, *t.shape[1:]], dtype) for t in (x, y)]
  unknown = tf.function(lambda a, b: _call_all(bijector, a, b, event_ndims,
                                               kwargs),
                        input_signature=specs, autograph=False)
  for name, a, b in zip(('forward', 'inverse', 'fldj', 'ildj'), unknown(x, y),
                        eager):
    np.testing.assert_allclose(
        a.numpy(), b, rtol=REGIME_ATOL[dtype], atol=REGIME_ATOL[dtype] * scale,
        err_msg=f'unknown batch size: {name} differs from eager')


def _same_outputs(a, b, x, kwargs, what):
  y = a.forward(x + 0., **kwargs)
  for name, inputs in (('forward', x), ('inverse', y)):
    np.testing.assert_allclose(
        getattr(a, name)(inputs + 0., **kwargs).numpy(),
        getattr(b, name)(inputs + 0., **kwargs).numpy(), rtol=0, atol=0,
        err_msg=f'{what}: {name} differs from the original')


def check_contract(bijector, x, kwargs=None, vectorized_map=True):
  """TFP's bijector contract (items 6 to 8 above); `x` has one batch
  dimension of at least 6 members. `vectorized_map=False` for layers whose
  log-det keyword arguments are per batch member (graphs)."""
  kwargs = kwargs or {}
  x = tf.convert_to_tensor(x, dtype=bijector.dtype)
  event_ndims = bijector.forward_min_event_ndims
  event = x.shape[1:]

  # 6. Copies share the variables.
  copies = {'copy()': bijector.copy(),
            'copy(validate_args=True)': bijector.copy(validate_args=True),
            'type(b)(**b.parameters)': type(bijector)(**bijector.parameters),
            'b[...]': bijector[...]}
  originals = [id(v) for v in bijector.variables]
  for what, other in copies.items():
    assert type(other) is type(bijector), what
    assert sorted(id(v) for v in other.variables) == sorted(originals), (
        f'{what} does not share the variables of the original')
    _same_outputs(bijector, other, x, kwargs, what)

  # 7. Any batch shape, none included; a pure forward pass.
  y = bijector.forward(x + 0., **kwargs)
  ldj = tf.broadcast_to(bijector.forward_log_det_jacobian(
      x + 0., event_ndims=event_ndims, **kwargs), x.shape[:1])
  atol = REGIME_ATOL[x.dtype] * (1. + float(tf.reduce_max(tf.abs(y))))
  for shape in ([2, 3], []):
    n = int(np.prod(shape))
    xs = tf.reshape(x[:n], [*shape, *event])
    np.testing.assert_allclose(
        bijector.forward(xs + 0., **kwargs).numpy(),
        tf.reshape(y[:n], [*shape, *y.shape[1:]]).numpy(), rtol=0, atol=atol,
        err_msg=f'batch shape {shape}: forward differs from the flat batch')
    got = bijector.forward_log_det_jacobian(xs + 0., event_ndims=event_ndims,
                                            **kwargs)
    np.testing.assert_allclose(
        tf.broadcast_to(got, shape).numpy(), tf.reshape(ldj[:n], shape).numpy(),
        rtol=LOG_DET_RTOL[x.dtype], atol=atol,
        err_msg=f'batch shape {shape}: log-det differs from the flat batch')
    np.testing.assert_allclose(
        bijector.inverse(bijector.forward(xs + 0., **kwargs), **kwargs).numpy(),
        xs.numpy(), rtol=0, atol=ROUND_TRIP_ATOL[x.dtype] * 10 * (
            1. + float(tf.reduce_max(tf.abs(xs)))),
        err_msg=f'batch shape {shape}: inverse(forward(x)) != x')
  if vectorized_map:
    mapped = tf.vectorized_map(lambda t: bijector.forward(t, **kwargs), x + 0.)
    np.testing.assert_allclose(mapped.numpy(), y.numpy(), rtol=0, atol=atol,
                               err_msg='vectorized_map(forward) != forward')

  # 8. A declared constant Jacobian is constant.
  if bijector.is_constant_jacobian:
    other = bijector.forward_log_det_jacobian(
        2. * x[::-1] + 1., event_ndims=event_ndims, **kwargs)
    np.testing.assert_allclose(
        tf.broadcast_to(other, x.shape[:1]).numpy(), ldj.numpy(),
        rtol=LOG_DET_RTOL[x.dtype], atol=atol,
        err_msg='is_constant_jacobian, but the log-det changes with x')
