import tempfile

import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_convexp
from tfp_convexp.bijectors import ConvolutionExponential
import dense_conv
import oracle

tfb = tfp.bijectors
tfd = tfp.distributions


def _layer(event_shape, seed=0, scale=0.5, **kwargs):
  """A layer with its kernel moved away from the initialisation."""
  layer = ConvolutionExponential(event_shape, seed=seed, **kwargs)
  tfp_convexp.bijectors.perturb_variables(layer, seed, scale)
  return layer


def _closed_form(layer):
  h, w, _ = layer.event_shape
  kernel = layer.kernel.numpy().astype(np.float64)
  expm = scipy.linalg.expm(dense_conv.conv_matrix(kernel, h, w, layer.padding))
  return lambda x: dense_conv.apply_matrix(expm, x.astype(np.float64))


# Many examples: the full suite's; the quick tier runs the fixed cases below.
@pytest.mark.slow
@hypothesis.settings(max_examples=12)
@hypothesis.given(
    height=st.integers(1, 5), width=st.integers(2, 6),
    channels=st.integers(1, 3), kernel_size=st.sampled_from([1, 3, 5]),
    padding=st.sampled_from(['SAME', 'CIRCULAR']),
    dtype=st.sampled_from([tf.float32, tf.float64]),
    scale=st.sampled_from([0.05, 0.5, 2.]),
    method=st.sampled_from([None, 'series', 'matrix']),
    recompute_gradient=st.sampled_from([None, True, False]),
    seed=st.integers(0, 2**16))
def test_oracle(height, width, channels, kernel_size, padding, dtype, scale,
                method, recompute_gradient, seed):
  if padding == 'CIRCULAR':
    hypothesis.assume(kernel_size <= min(height, width))
  layer = _layer([height, width, channels], seed, scale,
                 kernel_size=kernel_size, padding=padding, dtype=dtype,
                 method=method, recompute_gradient=recompute_gradient)
  x = np.random.default_rng(seed).standard_normal(
      (2, height, width, channels))
  # A single saturated 1x1x1x1 kernel is rescaled to exactly +-norm_bound,
  # whose derivative is rightly zero.
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer),
                        check_xla=False,
                        nonzero_gradients=kernel_size > 1 or channels > 1)


@pytest.mark.parametrize('padding,method,dtype', [
    ('SAME', 'series', tf.float32), ('CIRCULAR', 'fourier', tf.float64),
    ('SAME', 'matrix', tf.float32),
    *[pytest.param(p, m, d, marks=pytest.mark.slow) for p, m, d in [
        ('SAME', 'series', tf.float64), ('CIRCULAR', 'series', tf.float32),
        ('SAME', 'matrix', tf.float64), ('CIRCULAR', 'matrix', tf.float32),
        ('CIRCULAR', 'series', tf.float64), ('CIRCULAR', 'fourier', tf.float32)]]])
def test_oracle_xla_non_square(padding, method, dtype):
  layer = _layer([3, 5, 2], seed=3, padding=padding, method=method,
                 dtype=dtype)
  x = np.random.default_rng(1).standard_normal((2, 3, 5, 2))
  oracle.check_bijector(layer, x, closed_form=_closed_form(layer))


def test_projection_certifies_the_kernel_norm():
  layer = ConvolutionExponential([4, 6, 3], seed=5)
  raw = 3. * np.random.default_rng(0).standard_normal(layer.kernel.shape)
  assert np.linalg.norm(dense_conv.conv_matrix(raw, 4, 6), 2) > 0.95
  layer.kernel.assign(raw)
  layer.project()
  kernel = layer.kernel.numpy()
  assert np.linalg.norm(dense_conv.conv_matrix(kernel, 4, 6), 2) <= 0.95
  assert float(layer.operator_norm_bound()) <= 0.95
  np.testing.assert_allclose(kernel / np.abs(kernel).max(),
                             raw / np.abs(raw).max(), rtol=1e-5)
  # Inside the bound already: projecting changes nothing.
  small = 0.01 * raw
  layer.kernel.assign(small)
  layer.project()
  np.testing.assert_array_equal(layer.kernel.numpy(), small.astype(np.float32))


@pytest.mark.parametrize('keras_module', ['keras', 'tf_keras'])
def test_optimizers_apply_the_projection(keras_module):
  optimizer = __import__(keras_module).optimizers.SGD(learning_rate=10.)
  layer = ConvolutionExponential([4, 4, 2], seed=0)
  x = tf.random.stateless_normal([8, 4, 4, 2], seed=[0, 1])
  with tf.GradientTape() as tape:
    loss = -tf.reduce_sum(tf.square(layer.forward(x)))  # pushes the norm up
  optimizer.apply_gradients(zip(tape.gradient(loss, [layer.kernel]),
                                [layer.kernel]))
  bound = float(layer.operator_norm_bound())
  assert 0.95 * 0.99 < bound <= 0.95


@pytest.mark.parametrize('padding,method', [('SAME', 'series'),
                                            ('SAME', 'matrix'),
                                            ('CIRCULAR', 'series'),
                                            ('CIRCULAR', 'fourier')])
def test_validate_args_rejects_a_kernel_outside_the_bound(padding, method):
  layer = ConvolutionExponential([3, 4, 2], padding=padding, method=method,
                                 validate_args=True)
  x = tf.zeros([1, 3, 4, 2])
  layer.forward(x)  # projected at construction: fine
  layer.kernel.assign(layer.kernel * 10.)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='left the certified region'):
    layer.forward(x + 0.)
  layer.project()
  layer.forward(x + 0.)


@pytest.mark.parametrize('method,recompute', [('series', True),
                                              ('series', False),
                                              ('matrix', None)])
def test_truncation_error_within_certificate(method, recompute):
  layer = _layer([4, 5, 2], seed=2, scale=3., dtype=tf.float64,
                 tolerance=1e-4, method=method, recompute_gradient=recompute)
  bound = tfp_convexp.ops.exp_series_tail_bound
  assert bound(0.95, layer.terms) <= 1e-4 < bound(0.95, layer.terms - 1)
  x = np.random.default_rng(0).standard_normal((3, 4, 5, 2))
  exact = _closed_form(layer)(x)
  got = layer.forward(tf.constant(x)).numpy()
  for g, e, xi in zip(got, exact, x):
    rel = np.linalg.norm(g - e) / np.linalg.norm(xi)
    assert rel <= layer.truncation_error_bound <= 1e-4


def test_default_terms():
  assert ConvolutionExponential([4, 4, 2]).terms == 9
  assert ConvolutionExponential([4, 4, 2], dtype=tf.float64).terms == 16
  assert ConvolutionExponential([4, 4, 2], terms=3).terms == 3
  assert ConvolutionExponential([4, 4, 2], padding='CIRCULAR',
                                ).truncation_error_bound == 0.


def test_default_method_follows_the_image_size():
  assert ConvolutionExponential([4, 4, 16]).method == 'matrix'  # 256
  assert ConvolutionExponential([4, 4, 17]).method == 'series'
  assert ConvolutionExponential([3, 3, 8], padding='CIRCULAR'
                                ).method == 'fourier'


def test_default_gradient_follows_the_image_size():
  small = ConvolutionExponential([16, 16, 16], method='series')  # 4096
  large = ConvolutionExponential([16, 16, 17], method='series')
  assert not small.recompute_gradient and large.recompute_gradient
  # Autodiff differentiates what ran, so the small layer runs every term.
  assert small.truncation_error_bound <= small.tolerance
  assert large.truncation_error_bound == large.tolerance
  x = tf.random.stateless_normal([1, 16, 16, 16], seed=[1, 2]) * 0.
  with tfp_convexp.bijectors.recording_terms() as calls:
    small.forward(x)
  assert [int(ran) for _, ran in calls] == [small.terms]


def test_matrix_form_takes_inputs_of_unknown_static_shape():
  # Inside a multiscale flow an unknown batch can hide the image shape too.
  layer = ConvolutionExponential([4, 4, 2], dtype=tf.float64, seed=1)
  x = tf.constant(np.random.default_rng(0).standard_normal((3, 4, 4, 2)))
  traced = tf.function(layer.apply, input_signature=[
      tf.TensorSpec([None] * 4, tf.float64)])
  np.testing.assert_allclose(traced(x), layer.apply(x), rtol=1e-14)
  with pytest.raises(ValueError, match='needs a static image shape'):
    tf.function(lambda t: tfp_convexp.ops.conv_exp_matrix(t, layer.kernel, 3),
                input_signature=[tf.TensorSpec([None] * 4, tf.float64)]
                ).get_concrete_function()


def _assert_same_values_and_gradients(a, b):
  """Two float64 layers with the same kernel compute the same forward and
  inverse, and the same gradients of both for the input and the kernel."""
  shape = (2, *a.event_shape)
  x = tf.constant(np.random.default_rng(0).standard_normal(shape))
  w = tf.constant(np.random.default_rng(1).standard_normal(shape))
  results = []
  for layer in (a, b):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y, x_back = layer.forward(x + 0.), layer.inverse(x + 0.)
      loss = tf.reduce_sum(y * w) + tf.reduce_sum(x_back * w)
    results.append([y, x_back, *tape.gradient(loss, [x, layer.kernel])])
  for ra, rb in zip(*results):
    np.testing.assert_allclose(ra, rb, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('padding', ['SAME', 'CIRCULAR'])
def test_matrix_and_series_agree(padding):
  """The same truncated series: values, inverses and gradients."""
  kwargs = dict(padding=padding, terms=12, dtype=tf.float64)
  matrix = _layer([3, 4, 2], seed=11, method='matrix', **kwargs)
  series = ConvolutionExponential([3, 4, 2], method='series', **kwargs)
  series.kernel.assign(matrix.kernel)
  _assert_same_values_and_gradients(matrix, series)
  with tfp_convexp.bijectors.recording_terms() as calls:
    matrix.forward(tf.ones([1, 3, 4, 2], tf.float64))
  assert [int(ran) for _, ran in calls] == [12]


def test_calls_stop_when_certified_and_record_what_ran():
  stopping = _layer([4, 4, 3], seed=3, scale=0.1, method='series',
                    recompute_gradient=True)
  fixed = ConvolutionExponential([4, 4, 3], terms=stopping.terms,
                                 method='series')
  fixed.kernel.assign(stopping.kernel)
  x = tf.random.stateless_normal([5, 4, 4, 3], seed=[1, 2])
  with tfp_convexp.bijectors.recording_terms() as calls:
    y = stopping.forward(x)
    x_back = stopping.inverse(y + 0.)  # past TFP's cache
    fixed.forward(x)
  (layer_a, ran), (layer_b, back_ran), (layer_c, fixed_ran) = calls
  assert layer_a is layer_b is stopping and layer_c is fixed
  assert 0 < int(ran) < stopping.terms == int(fixed_ran) == 9
  assert 0 < int(back_ran) < 9
  np.testing.assert_allclose(y, fixed.forward(x), atol=1e-5)
  np.testing.assert_allclose(x_back, x, atol=1e-5)
  with tfp_convexp.bijectors.recording_terms() as outside:
    pass
  stopping.forward(x + 0.)
  assert not outside and stopping.truncation_error_bound == 1e-6


@pytest.mark.parametrize('method', ['series', 'fourier'])
def test_circular_translation_equivariance(method):
  layer = _layer([6, 5, 2], seed=4, padding='CIRCULAR', method=method,
                 dtype=tf.float64)
  x = tf.constant(np.random.default_rng(0).standard_normal((2, 6, 5, 2)))
  for shift in ([1, 0], [0, 2], [-2, 3]):
    rolled_then_mapped = layer.forward(tf.roll(x, shift, axis=[1, 2]))
    mapped_then_rolled = tf.roll(layer.forward(x + 0.), shift, axis=[1, 2])
    np.testing.assert_allclose(rolled_then_mapped, mapped_then_rolled,
                               atol=1e-12)


def test_fourier_and_series_agree():
  fourier = _layer([5, 4, 3], seed=6, padding='CIRCULAR', dtype=tf.float64)
  series = ConvolutionExponential([5, 4, 3], padding='CIRCULAR',
                                  method='series', dtype=tf.float64)
  series.kernel.assign(fourier.kernel)
  x = tf.constant(np.random.default_rng(0).standard_normal((2, 5, 4, 3)))
  np.testing.assert_allclose(fourier.forward(x), series.forward(x + 0.),
                             atol=1e-12)


@pytest.mark.parametrize('padding', [
    'SAME', pytest.param('CIRCULAR', marks=pytest.mark.slow)])
def test_recomputed_gradient_matches_autodiff(padding):
  kwargs = dict(padding=padding, method='series', dtype=tf.float64)
  a = _layer([4, 5, 3], seed=7, recompute_gradient=True, **kwargs)
  b = ConvolutionExponential([4, 5, 3], recompute_gradient=False, **kwargs)
  b.kernel.assign(a.kernel)
  _assert_same_values_and_gradients(a, b)


def test_extra_batch_dimensions():
  layer = _layer([3, 4, 2], seed=8, dtype=tf.float64)
  x = tf.constant(np.random.default_rng(0).standard_normal((2, 3, 3, 4, 2)))
  y = layer.forward(x)
  assert y.shape == x.shape
  np.testing.assert_allclose(y[1], layer.forward(x[1] + 0.), atol=1e-12)
  single = layer.forward(x[0, 0] + 0.)
  np.testing.assert_allclose(single, y[0, 0], atol=1e-12)
  assert layer.forward_log_det_jacobian(x, event_ndims=3).shape == ()


def test_composes_with_tfp():
  layer = _layer([4, 4, 2], seed=9)
  shift = tfb.Shift(tf.Variable(tf.zeros([4, 4, 2])))
  flow = tfb.Chain([shift, layer])
  dist = tfd.TransformedDistribution(
      tfd.Sample(tfd.Normal(0., 1.), [4, 4, 2]), tfb.Invert(flow))
  x = tf.random.stateless_normal([5, 4, 4, 2], seed=[1, 2])
  log_prob = dist.log_prob(x)
  z = layer.forward(x + 0.) + 0.
  base = tfd.Sample(tfd.Normal(0., 1.), [4, 4, 2])
  want = base.log_prob(z) + layer.forward_log_det_jacobian(x, event_ndims=3)
  np.testing.assert_allclose(log_prob, want, rtol=1e-5)
  samples = dist.sample(3, seed=[3, 4])
  assert samples.shape == (3, 4, 4, 2)
  assert np.all(np.isfinite(dist.log_prob(samples + 0.)))
  assert len(dist.trainable_variables) == 2
  xla_log_prob = tf.function(dist.log_prob, jit_compile=True)
  np.testing.assert_allclose(xla_log_prob(x), log_prob, rtol=1e-5)


def test_savedmodel_round_trip():
  layer = _layer([4, 6, 3], seed=10)
  dist = tfd.TransformedDistribution(
      tfd.Sample(tfd.Normal(0., 1.), [4, 6, 3]), tfb.Invert(layer))
  module = tf.Module()
  module.dist = dist
  module.log_prob = tf.function(
      lambda x: dist.log_prob(x),
      input_signature=[tf.TensorSpec([None, 4, 6, 3], tf.float32)])
  x = tf.random.stateless_normal([3, 4, 6, 3], seed=[5, 6])
  want = module.log_prob(x).numpy()
  with tempfile.TemporaryDirectory() as path:
    tf.saved_model.save(module, path)
    reloaded = tf.saved_model.load(path)
    np.testing.assert_array_equal(reloaded.log_prob(x).numpy(), want)


def test_validate_args_rejects_non_finite_input():
  layer = ConvolutionExponential([2, 3, 1], validate_args=True)
  x = np.zeros((1, 2, 3, 1), np.float32)
  x[0, 1, 1, 0] = np.nan
  with pytest.raises(tf.errors.InvalidArgumentError, match='non-finite'):
    layer.forward(x)
  with pytest.raises(tf.errors.InvalidArgumentError, match='non-finite'):
    layer.inverse(x)


@pytest.mark.parametrize('kwargs,match', [
    (dict(event_shape=[4, 4]), 'event_shape'),
    (dict(kernel_size=2), 'odd'),
    (dict(kernel_size=(3, 4)), 'odd'),
    (dict(dtype=tf.int32), 'float32 or float64; got int32'),
    (dict(norm_bound=0.), 'norm_bound'),
    (dict(norm_bound=-1.), 'norm_bound'),
    (dict(tolerance=0.), 'tolerance'),
    (dict(tolerance=1.), 'tolerance'),
    (dict(terms=-1), 'terms'),
    (dict(padding='VALID'), 'padding'),
    (dict(method='fourier'), 'method'),
    (dict(padding='CIRCULAR', kernel_size=5), 'larger than the image'),
])
def test_bad_constructor_arguments(kwargs, match):
  args = dict(event_shape=[4, 4, 2])
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    ConvolutionExponential(**args)


def test_bad_inputs():
  layer = ConvolutionExponential([4, 4, 2])
  with pytest.raises(ValueError, match=r'expected a tensor of shape \[\.\.\., 4, 4, 2\]'):
    layer.forward(tf.zeros([1, 4, 4, 3]))
  with pytest.raises(ValueError, match='expected a tensor of shape'):
    layer.inverse(tf.zeros([4, 2]))
  with pytest.raises(ValueError, match='float32.*int32'):
    layer.forward(tf.zeros([1, 4, 4, 2], tf.int32))
