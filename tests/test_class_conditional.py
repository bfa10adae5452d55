"""Class-conditional flows: `ClassConditionalAffine` through the oracle, and
`make_flow(num_classes=K)` models keyed by a label."""

import numpy as np
import pytest
import tensorflow as tf

from tfp_convexp import bijectors
from tfp_convexp import flows

import oracle

SHAPE = [3, 5, 4]
TINY = dict(n_subflows=1, coupling_net='plain', n_intermediate_channels=8,
            mixing='1x1', num_bins=17)


def _layer(first_channel=0, seed=1):
  layer = bijectors.ClassConditionalAffine(SHAPE, num_classes=3,
                                           first_channel=first_channel,
                                           dtype=tf.float64)
  bijectors.perturb_variables(layer, seed, scale=0.5)
  return layer


@pytest.mark.parametrize('first_channel', [0, 3])
def test_the_layer_passes_the_oracle(first_channel):
  layer = _layer(first_channel)
  x = tf.random.stateless_normal([6, *SHAPE], [1, 2], dtype=tf.float64)
  label = tf.constant([0, 1, 2, 2, 1, 0])
  loc = {v.name.split('/')[-1][:-2]: v.numpy() for v in layer.variables}
  want = x.numpy().copy()
  want[..., first_channel:] = (
      (want[..., first_channel:] + loc['loc'][label][:, None, None]) *
      np.exp(loc['log_scale'][label][:, None, None]))
  oracle.check_bijector(layer, x, closed_form=lambda _: want,
                        kwargs={'label': label})
  # One label for every batch shape (the contract reshapes the batch).
  oracle.check_contract(layer, x, kwargs={'label': tf.constant(2)})


def test_the_layer_refuses_bad_labels_and_arguments():
  layer = bijectors.ClassConditionalAffine(SHAPE, 3, validate_args=True)
  x = tf.zeros([2, *SHAPE])
  with pytest.raises(ValueError, match="calls need the class `label`"):
    layer.forward(x)
  with pytest.raises(TypeError, match='`label` must be ints; got float32'):
    layer.forward(x, label=tf.constant([0., 1.]))
  for bad in ([0, 3], [-1, 0]):
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r'labels must be in \[0, 3\)'):
      layer.forward(x, label=tf.constant(bad))
  with pytest.raises(ValueError, match='`num_classes` must be a positive int'):
    bijectors.ClassConditionalAffine(SHAPE, 0)
  with pytest.raises(ValueError, match='`first_channel` must be below the 4'):
    bijectors.ClassConditionalAffine(SHAPE, 3, first_channel=4)


@pytest.fixture(name='model', scope='module')
def _model():
  model = flows.make_flow([8, 8, 1], num_classes=3, seed=1, **TINY)
  bijectors.perturb_variables(model, 3, scale=0.05)
  return model


def _images(n=4):
  return tf.constant(np.random.default_rng(0).integers(0, 17, (n, 8, 8, 1)))


def test_every_prior_is_class_conditional(model):
  priors = [l for l in model.bijector.layers
            if isinstance(l, bijectors.ClassConditionalAffine)]
  assert [(l.name, l.first_channel) for l in priors] == [
      ('level0_class_prior', 2), ('top_prior', 0)]
  assert not any(l.name == 'top_prior' and isinstance(l, bijectors.ActNorm)
                 for l in model.bijector.layers)


def test_class_log_probs_are_log_prob_of_each_label(model):
  x = _images()
  for num_samples in (1, 3):
    table = model.class_log_probs(x, seed=[4, 5], num_samples=num_samples)
    assert table.shape == (4, 3)
    for y in range(3):
      np.testing.assert_allclose(
          table[:, y], model.log_prob(x, label=y, seed=[4, 5],
                                      num_samples=num_samples),
          rtol=1e-6)
    # The classes' priors were moved apart, so the labels matter.
    assert np.ptp(table.numpy(), axis=1).min() > 1e-3
  table = model.class_log_probs(x, seed=[4, 5])
  per_image = model.log_prob(x, label=[0, 1, 2, 0], seed=[4, 5])
  np.testing.assert_allclose(per_image, [table[0, 0], table[1, 1],
                                         table[2, 2], table[3, 0]],
                             rtol=1e-6)


def test_samples_decode_as_their_class(model):
  images = model.sample(3, label=[0, 1, 2], seed=[1, 2])
  assert images.shape == (3, 8, 8, 1)
  z = model.encode(images, label=[0, 1, 2])
  np.testing.assert_array_equal(model.decode(z, label=[0, 1, 2]), images)
  # The same latent decodes to another image under another class.
  assert np.any(model.decode(z, label=[1, 2, 0]).numpy() != images.numpy())
  assert model.sample(2, label=1, seed=[1, 2]).shape == (2, 8, 8, 1)


def test_the_loss_compiles_with_a_label(model):
  x = _images()
  # XLA draws other numbers from the same stateless seed: fix the noise.
  noise = tf.random.stateless_uniform([1, 4, 8, 8, 1], [1, 2])

  def loss(x, label):
    return -tf.reduce_mean(model.log_prob(x, label=label, base_noise=noise))

  label = tf.constant([0, 1, 2, 1])
  compiled = tf.function(loss, jit_compile=True)
  np.testing.assert_allclose(compiled(x, label), loss(x, label), rtol=1e-5)
  loss = compiled
  with tf.GradientTape() as tape:
    value = loss(x, label)
  priors = [v for v in model.trainable_variables
            if v.name.split('/')[-1][:-2] in ('loc', 'log_scale') and
            v.shape[0] == 3]
  assert len(priors) == 4
  assert all(np.any(tf.convert_to_tensor(g).numpy())  # gathered: slices
             for g in tape.gradient(value, priors))


def test_labels_are_required_or_refused():
  conditional = flows.make_flow([8, 8, 1], num_classes=3, **TINY)
  plain = flows.make_flow([8, 8, 1], **TINY)
  x = _images(2)
  with pytest.raises(ValueError, match=r'class-conditional \(num_classes=3'
                     r'\); log_prob needs `label=`'):
    conditional.log_prob(x, seed=[1, 2])
  with pytest.raises(ValueError, match='sample needs `label=`'):
    conditional.sample(2, seed=[1, 2])
  with pytest.raises(TypeError, match='`label` must be ints'):
    conditional.log_prob(x, label=1.5, seed=[1, 2])
  with pytest.raises(ValueError, match='log_prob got a `label`, but this '
                     'model is not class-conditional'):
    plain.log_prob(x, label=1, seed=[1, 2])
  with pytest.raises(ValueError, match='class_log_probs needs a '
                     'class-conditional model'):
    plain.class_log_probs(x)
  with pytest.raises(ValueError, match='`num_classes` must be an int >= 2'):
    flows.make_flow([8, 8, 1], num_classes=1, **TINY)
  with pytest.raises(ValueError, match='has no class-conditional priors'):
    flows.make_flow([8, 8, 1], num_classes=3, layout='tfp_glow')
