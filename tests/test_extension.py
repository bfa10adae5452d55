"""A researcher's own layers (`flows.register_mixing`, `register_transform`)
through the oracle, `make_flow`, named runs and the training program."""

import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_convexp import bijectors
from tfp_convexp import flows
from train import run_config

import oracle
import programs

tfb = tfp.bijectors
HERE = os.path.dirname(os.path.abspath(__file__))
TINY = dict(n_levels=1, n_subflows=1, coupling_net='plain',
            n_intermediate_channels=8)


@pytest.fixture(name='user_layers')
def _user_layers():
  """Registers `tests/user_layers.py`'s layers (once per test process, as a
  program's `--import` does)."""
  import user_layers  # pylint: disable=g-import-not-at-top,unused-import
  return user_layers


@pytest.mark.parametrize('kind,name', [('mixing', 'user_lu'),
                                       ('transform', 'user_additive')])
def test_registered_layers_pass_the_oracle(user_layers, kind, name):
  del user_layers
  [layer] = flows.make_layers(kind, name, [3, 5, 4], dtype=tf.float64,
                              seed=2, **TINY)
  bijectors.perturb_variables(layer, 1, scale=0.3)
  x = tf.random.stateless_normal([6, 3, 5, 4], [1, 2], dtype=tf.float64)
  oracle.check_bijector(layer, x)
  oracle.check_contract(layer, x)


def test_a_registered_layer_is_seeded_by_the_run(user_layers):
  del user_layers
  weights = [flows.make_layers('mixing', 'user_lu', [2, 2, 3], seed=s)[0]
             .trainable_variables[0].numpy() for s in (0, 0, 1)]
  np.testing.assert_array_equal(weights[0], weights[1])
  assert not np.allclose(weights[0], weights[2])


def test_registered_layers_train_in_make_flow_and_a_named_run(user_layers):
  del user_layers
  config = flows.Config([8, 8, 1], 'digits', flows.CONFIGS[
      'digits_convexp'].training, paper='none', mixing='user_lu',
                        model_type='user_additive', num_bins=17, **TINY)
  model = config.build()
  layers = {type(l).__name__: l for l in model.bijector.levels[0].layers}
  lu, coupling = layers['ScaleMatvecLU'], layers['AdditiveCoupling']
  # The net's last convolution starts at zero, so it is what moves first.
  watched = [*lu.trainable_variables,
             *coupling._net.last.trainable_variables]  # pylint: disable=protected-access
  assert {id(v) for v in watched} <= {id(v) for v in
                                      model.trainable_variables}
  x = tf.constant(np.random.default_rng(0).integers(0, 17, (4, 8, 8, 1)))
  with tf.GradientTape() as tape:
    loss = -tf.reduce_mean(model.log_prob(x, seed=[1, 2]))
  grads = dict(zip(map(id, model.trainable_variables),
                   tape.gradient(loss, model.trainable_variables)))
  assert np.isfinite(loss.numpy())
  assert all(g is not None and np.all(np.isfinite(g)) for g in grads.values())
  assert all(np.any(grads[id(v)].numpy()) for v in watched)
  assert model.sample(2, seed=[3, 4]).shape == (2, 8, 8, 1)


@pytest.fixture(name='scratch_registry')
def _scratch_registry():
  """Registrations made in the test are removed after it."""
  # pylint: disable=protected-access
  registries = (flows.MIXINGS, flows.MODEL_TYPES)
  saved = [dict(r._choices) for r in registries]
  yield
  for r, choices in zip(registries, saved):
    r._choices = choices


def test_registering_refuses_taken_names_and_bad_entries(scratch_registry):
  build = lambda ctx: []
  with pytest.raises(ValueError, match=r"mixing 'convexp' is already "
                     r"registered \(the paper's bundle"):
    flows.register_mixing('convexp', build, 'mine')
  with pytest.raises(ValueError, match="transform 'coupling' is already"):
    flows.register_transform('coupling', build, 'mine')
  for name in ('', '_private', 'a-b', 'a b', 3):
    with pytest.raises(ValueError, match='letters, digits and underscores'):
      flows.register_mixing(name, build, 'mine')
  with pytest.raises(TypeError, match='must be a function of a LayerContext'):
    flows.register_mixing('not_callable_layer', 'conv', 'mine')
  with pytest.raises(ValueError, match='non-empty string'):
    flows.register_mixing('undescribed_layer', build, ' ')
  assert 'not_callable_layer' not in flows.MIXINGS
  with pytest.raises(TypeError, match='does not support item assignment'):
    # pylint: disable-next=unsupported-assignment-operation
    flows.MIXINGS['mine'] = flows.MIXINGS['1x1']


def test_what_a_build_returns_is_checked(scratch_registry):
  flows.register_mixing('returns_a_net', lambda ctx: ctx.conditioner(2, 2),
                        'a net, not a bijector (a test of the check)')
  flows.register_mixing(
      'reshapes', lambda ctx: tfb.Reshape([8], event_shape_in=[2, 2, 2],
                                          name=ctx.name('reshape')),
      'a reshape (a test of the check)')
  with pytest.raises(TypeError, match=r"mixing 'returns_a_net': its `build` "
                     r"must return a tfp.bijectors.Bijector or a list of "
                     r"them; got PlainConvNet"):
    flows.make_layers('mixing', 'returns_a_net', [2, 2, 2], **TINY)
  with pytest.raises(ValueError, match=r"mixing 'reshapes': layer "
                     r"'mixing_reshape_0' maps events \(2, 2, 2\) to \(8,\)"):
    flows.make_layers('mixing', 'reshapes', [2, 2, 2], **TINY)
  with pytest.raises(ValueError, match=r"`mixing` must be one of \(.*"
                     r"'returns_a_net', 'reshapes'\); got 'nothing'"):
    flows.make_flow([4, 4, 1], mixing='nothing')
  with pytest.raises(ValueError, match='`kind` must be one of'):
    flows.make_layers('coupling', 'coupling', [2, 2, 2])
  with pytest.raises(ValueError, match='got image_shape'):
    flows.make_layers('mixing', '1x1', [2, 2, 2], image_shape=[2, 2, 2])


def test_import_errors_name_the_module(tmp_path, monkeypatch,
                                      scratch_registry):
  monkeypatch.syspath_prepend(str(tmp_path))
  cases = {  # module: (its source, or None for no file; the error)
      'no_such_module': (None, r"no module 'no_such_module' in the current "
                               r"directory \(.*\) or on PYTHONPATH"),
      'needs_a_dependency': ('import no_such_dep\n', r"importing it failed: "
                             r"No module named 'no_such_dep'"),
      'registers_nothing': ('X = 1\n', 'importing it registered nothing'),
      'takes_a_name': ('from tfp_convexp import flows\n'
                       'flows.register_mixing("1x1", lambda ctx: [], "m")\n',
                       r"flows.register_mixing: mixing '1x1' is already "
                       r"registered"),
  }
  for module, (source, error) in cases.items():
    if source:
      (tmp_path / f'{module}.py').write_text(source)
    with pytest.raises(run_config.UsageError,
                       match=f'^--import={module}: {error}'):
      run_config.import_modules([module])
  assert run_config._imports_in(  # pylint: disable=protected-access
      ['train', '--import=a,b', '-import', 'c', '--mixing=x', '--',
       '--import=d']) == ['a', 'b', 'c']


@pytest.mark.slow
def test_the_program_trains_resumes_and_exports_a_registered_layer(
    user_layers, tmp_path):
  """`--import` is read before the flags, so this runs as users run it."""
  del user_layers
  work, export_dir = str(tmp_path / 'run'), str(tmp_path / 'export')
  env = {'PYTHONPATH': os.pathsep.join([programs.ROOT, HERE])}
  args = [f'--workdir={work}', '--import=user_layers', '--mixing=user_lu',
          '--model_type=user_additive', *programs.TINY]
  out = programs.run('train', '--max_steps=2', '--checkpoint_every=1', *args,
                     env_extra=env).stdout
  assert 'done: 2 steps' in out
  config = json.load(open(os.path.join(work, run_config.CONFIG_FILE)))
  assert config['imports'] == ['user_layers']
  assert config['model']['mixing'] == 'user_lu'
  out = programs.run('train', '--max_steps=3', *args, env_extra=env).stdout
  assert 'at step 2' in out and 'done: 3 steps' in out

  proc = programs.run('train', '--max_steps=4', *args[:1], *args[2:],
                      env_extra=env, check=False)
  assert proc.returncode == 2
  assert 'value should be one of' in proc.stderr
  assert 'A layer or run of your own? Name the module that registers it ' \
      'with --import.' in proc.stderr

  programs.call('train.export', f'--workdir={work}',
                f'--export_dir={export_dir}')
  loaded = tf.saved_model.load(export_dir)
  _, model, step = run_config.restore(work)
  assert step == 3
  x = np.random.default_rng(0).integers(0, 17, (3, 8, 8, 1)).astype(np.int32)
  np.testing.assert_allclose(
      loaded.log_prob(x).numpy(),
      model.log_prob(x, seed=tf.constant([0, 0])).numpy(), rtol=1e-5)
  np.testing.assert_array_equal(loaded.decode(loaded.encode(x)).numpy(), x)
  assert 'user_layers' in sys.modules
