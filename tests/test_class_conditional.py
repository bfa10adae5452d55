"""Class-conditional flows: `ClassConditionalAffine` through the oracle, and
`make_flow(num_classes=K)` models keyed by a label."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from tfp_convexp import bijectors
from tfp_convexp import data
from tfp_convexp import flows
from train import images as image_lib
from train import run_config

import oracle
import programs

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


def test_labels_of_the_data_sets(tmp_path):
  labels, names = data.load_labels('digits', 'test')
  images = data.load_images('digits', 'test')[0]
  assert names == tuple('0123456789') and labels.shape == (len(images),)
  assert data.class_names('digits') == names
  train = data.load_labels('digits', 'train')[0]
  assert np.bincount(train).min() >= 135  # every digit, about evenly
  # A folder: one subfolder per class, the split of its images.
  for name, count in (('cat', 12), ('dog', 9)):
    programs.write_pngs(str(tmp_path / 'pets' / name), [(4, 4, 3)] * count)
  folder = str(tmp_path / 'pets')
  for split in ('train', 'test'):
    labels, names = data.load_labels('folder', split, folder=folder)
    images, _ = data.load_images('folder', split, folder=folder)
    paths = sorted(str(p) for p in (tmp_path / 'pets').rglob('*.png'))
    want = [p.split(os.sep)[-2] for i, p in enumerate(paths)
            if (i % 10 == 9) == (split == 'test')]
    assert names == ('cat', 'dog') and len(labels) == len(images)
    assert data.class_names('folder', folder=folder) == names
    assert [names[l] for l in labels] == want
  programs.write_pngs(str(tmp_path / 'pets'), [(4, 4, 3)])  # a loose image
  with pytest.raises(ValueError, match='one subfolder per class, but .*'
                     '000.png'):
    data.load_labels('folder', 'train', folder=folder)
  programs.write_pngs(str(tmp_path / 'one' / 'cat'), [(4, 4, 3)] * 3)
  with pytest.raises(ValueError, match=r'holds one class \(cat\)'):
    data.load_labels('folder', 'train', folder=str(tmp_path / 'one'))
  for read in (lambda: data.load_labels('photos', 'train'),
               lambda: data.class_names('photos')):
    with pytest.raises(ValueError, match='--dataset=photos has no labels'):
      read()


def test_labels_of_tfds_sets_through_mock_data():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with tfds.testing.mock_data(num_examples=5):
    for name, classes in (('mnist', 10), ('cifar10', 10)):
      labels, names = data.load_labels(name, 'test')
      assert labels.shape == (5,) and len(names) == classes
      assert labels.min() >= 0 and labels.max() < classes
      assert data.class_names(name) == names
    with pytest.raises(ValueError, match='has no class label feature'):
      data.load_labels('downsampled_imagenet/32x32', 'test')


@pytest.mark.slow
def test_the_program_trains_evaluates_samples_and_exports_a_conditional_run(
    tmp_path):
  work, export_dir = str(tmp_path / 'run'), str(tmp_path / 'export')
  programs.call('train', f'--workdir={work}', '--conditional',
                '--max_steps=2', *programs.TINY, '--num_grid_samples=25')
  config = json.load(open(os.path.join(work, 'config.json')))
  assert config['model']['num_classes'] == 10
  # 25 samples: one row per digit, the two full columns.
  grid = tf.io.decode_png(tf.io.read_file(
      os.path.join(work, 'samples_0000002.png')))
  tile = image_lib.MIN_TILE + image_lib.GAP
  assert grid.shape[:2] == (10 * tile + image_lib.GAP, 2 * tile + image_lib.GAP)
  out = programs.call('train.evaluate', f'--workdir={work}', '--num_samples=1',
                      '--nojit_compile').stdout
  assert re.search(r'test accuracy of the Bayes classifier argmax_y '
                   r'P\(x \| y\) at step 2: 0\.\d{4} \+- 0\.\d{4}', out)
  result = json.load(open(os.path.join(work, 'eval.json')))
  assert 0. <= result['bayes_classifier_accuracy'] <= 1.
  # Resuming without --conditional is another model.
  proc = programs.call('train', f'--workdir={work}', '--max_steps=3',
                       *programs.TINY, check=False)
  assert proc.returncode == 2 and 'model.num_classes: 10 -> None' in proc.stderr

  programs.call('train.export', f'--workdir={work}',
                f'--export_dir={export_dir}')
  loaded = tf.saved_model.load(export_dir)
  _, model, _ = run_config.restore(work)
  x = np.random.default_rng(0).integers(0, 17, (3, 8, 8, 1)).astype(np.int32)
  label = np.array([1, 2, 3], np.int32)
  np.testing.assert_allclose(
      loaded.log_prob(x, label).numpy(),
      model.log_prob(x, label=label, seed=tf.constant([0, 0])).numpy(),
      rtol=1e-5)
  z = loaded.encode(x, label)
  np.testing.assert_array_equal(loaded.decode(z, label).numpy(), x)
  assert loaded.sample(tf.constant(4), tf.constant(1.), tf.constant([1, 2]),
                       tf.constant([7])).shape == (4, 8, 8, 1)
  assert set(loaded.signatures['log_prob'].structured_input_signature[1]) == {
      'x', 'label'}
