"""The training programs end to end: outputs, resume, non-finite steps,
tf.distribute, data sources, SavedModel export and bad input. Programs run
in-process (`programs.call`) unless the process is the subject: a kill,
several devices or workers, the terminal, a reload without this package."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from programs import call as _call
from programs import copy_run
from programs import env as _env
from programs import program
from programs import ROOT
from programs import run as _run
from programs import SEVERAL_PROCESSES
from programs import TINY
from programs import TINY_JIT
from programs import write_pngs as _write_pngs
from train import checkpoints

# Every test here trains or reads a model through the programs: the full
# tier only.
pytestmark = pytest.mark.slow


def _weights(workdir):
  """The trained model's variables, restored in this process."""
  from train import run_config  # pylint: disable=g-import-not-at-top
  _, model, step = run_config.restore(workdir)
  return step, {v.name + str(i): v.numpy().astype(np.float64)
                for i, v in enumerate(model.variables)}


def _assert_same_weights(a, b, atol):
  (step_a, wa), (step_b, wb) = _weights(a), _weights(b)
  assert step_a == step_b
  worst = max(float(np.max(np.abs(wa[k] - wb[k]))) for k in wa)
  assert worst <= atol, worst


def test_outputs_evaluate_sample(finished_run, tmp_path):
  work, proc = finished_run
  work = copy_run(work, tmp_path)
  out = proc.stdout
  assert 'done: 4 steps' in out
  # The prompt returns with the last line, not seconds later (TensorFlow's
  # interpreter shutdown took 11-12% of this run; freeing the run's objects
  # 5 to 10 s in some runs on a loaded machine; now under 1%).
  assert proc.exit_seconds < 0.05 * proc.seconds, (proc.exit_seconds,
                                                   proc.seconds)
  # The terminal shows the program's own lines; TensorFlow's go to log.txt.
  for noise in ('cuInit', 'absl::InitializeLog', 'Sharding callback',
                'Ignoring Assert', 'cudart_stub'):
    assert noise not in out + proc.stderr, noise
  for stage in ('loading --dataset=digits ...', 'building --model=',
                'compiling the training step', 'step 1: compiled and ran in'):
    assert stage in out
  names = set(os.listdir(work))
  assert {'config.json', 'checkpoints', 'tb', 'final.json', 'log.txt',
          'bits_per_dim.png', 'samples_0000004.png'} <= names
  assert tf.io.decode_png(tf.io.read_file(
      os.path.join(work, 'bits_per_dim.png'))).shape[:2] == (400, 600)
  assert json.load(open(os.path.join(work, 'config.json')))['model'][
      'mixing'] == 'convexp'
  final = json.load(open(os.path.join(work, 'final.json')))
  assert np.isfinite(final['test_bits_per_dim'])
  events, = [os.path.join(work, 'tb', f)
             for f in os.listdir(os.path.join(work, 'tb'))]
  logged = {v.tag: float(tf.make_ndarray(v.tensor))
            for e in tf.compat.v1.train.summary_iterator(events)
            for v in e.summary.value if v.tag.startswith('convexp')}
  # The series lengths the layers ran on a test batch: the digits' levels
  # (4x4x4 and 2x2x8 values) take the matrix form, which runs the whole
  # certified series of 9 terms.
  assert logged['convexp/terms_mean'] == logged['convexp/terms_max'] == 9
  norms = {tag: value for tag, value in logged.items()
           if tag.startswith('convexp_norm/')}
  assert len(norms) == 2, norms  # 2 levels of 1 step
  assert all(0. < v <= 1. + 1e-6 for v in norms.values()), norms
  png = tf.io.decode_png(tf.io.read_file(os.path.join(work, 'samples_0000004.png')))
  assert png.shape == (108, 108, 1)  # 2x2 digits, 48 px each, 4 px apart
  out = _call('train.evaluate', f'--workdir={work}', '--num_samples=2',
              '--nojit_compile').stdout
  assert 'evaluating step 4 on 297 test images' in out
  assert '64/297 images' in out and '297/297 images' in out
  # Time left is estimated from the batches after the one that compiles.
  progress = [line for line in out.splitlines() if '/297 images' in line]
  assert progress[0].endswith('(with compiling)'), progress
  assert all(line.endswith(' s left') for line in progress[1:]), progress
  assert 'test bits/dim at step 4' in out
  assert json.load(open(os.path.join(work, 'eval.json')))['num_samples'] == 2
  _call('train.sample', f'--workdir={work}', '--num=3', '--temperature=0.5',
        f'--npy={tmp_path}/s.npy')
  samples = np.load(tmp_path / 's.npy')
  assert samples.shape == (3, 8, 8, 1) and samples.max() < 17


def test_help_lists_the_programs_own_flags_grouped_with_defaults():
  out = _call('train', '--help').stdout
  sections = [line for line in out.splitlines() if line.endswith(':') and
              not line.startswith(' ')]
  assert sections == ['model:', 'data:', 'training:', 'distribution:',
                      'output:'], sections  # every flag has its group
  text = ' '.join(out.split())  # help lines wrap anywhere
  for shown in ('--mixing=convexp', '--n_levels=2', '--lr=0.001',
                '--batch_size=64', '--strategy=default', '--dataset=digits',
                '--workdir=runs/default', 'Also --learning_rate',
                '--optimizer=adamax', '--warmup_shape=linear',
                'convexp = the paper\'s bundle'):
    assert shown in text, shown
  assert 'tpu_' not in out and 'xla_' not in out  # not absl's or TF's flags
  out = _call('train.evaluate', '--help').stdout
  assert '--num_samples=16' in out and '--workdir' in out


def test_resume_continues_with_the_same_step_optimizer_and_data(tmp_path):
  """... and with the papers' protocol: the best-validation model kept over
  both sessions, its test value, and an importance-sampled final test."""
  straight, resumed = str(tmp_path / 'straight'), str(tmp_path / 'resumed')
  protocol = ['--validation_size=64', *TINY]
  _call('train', f'--workdir={straight}', '--max_steps=6', *protocol)
  out = _call('train', f'--workdir={resumed}', '--max_steps=3',
              *protocol).stdout
  assert ('step 3: validation ' in out and
          f'the best so far, kept in {resumed}/best/ckpt-1' in out), out
  # A run saved before `layout` existed resumes as the default layout.
  path = os.path.join(resumed, 'config.json')
  config = json.load(open(path))
  del config['model']['layout']
  json.dump(config, open(path, 'w'))
  out = _call('train', f'--workdir={resumed}', '--max_steps=6', *protocol,
              '--final_num_samples=2').stdout
  assert 'resumed from' in out and 'at step 3' in out
  assert 'changed settings' not in out
  assert 'so far, at step 3' in out  # the first session's best, read back
  final = json.load(open(os.path.join(resumed, 'final.json')))
  assert final['step'] == 6 and final['started_at_step'] == 3
  _assert_same_weights(straight, resumed, atol=1e-6)
  assert final['best_step'] in (3, 6)
  if final['best_step'] == 6:
    assert final['best_test_bits_per_dim'] == final['test_bits_per_dim']
  assert final['final_num_samples'] == 2
  assert np.isfinite(final['best_test_bits_per_dim_importance_sampled'])
  # The kept model is a checkpoint the programs read; its validation value
  # is the training's (same batches and seeds: batch 16, seed 3 + 6).
  from train import checkpoints  # pylint: disable=g-import-not-at-top
  kept = checkpoints.numbers(os.path.join(resumed, 'best'))
  assert len(kept) == 1, kept
  best = checkpoints.prefix(os.path.join(resumed, 'best'), kept[0])
  out = _call('train.evaluate', f'--workdir={resumed}', f'--checkpoint={best}',
              '--split=validation', '--num_samples=1', '--batch_size=16',
              '--seed=9', '--nojit_compile').stdout
  assert f'evaluating step {final["best_step"]} on 64 validation images' in out
  value = json.load(open(os.path.join(resumed, 'eval.json')))['bits_per_dim']
  assert abs(value - final['best_validation_bits_per_dim']) < 1e-5


def test_non_finite_steps_are_skipped_then_the_checkpoint_restored(tmp_path):
  work = str(tmp_path / 'run')
  out = _call('train', f'--workdir={work}', '--max_steps=8',
              '--checkpoint_every=2', '--inject_nonfinite_at=3,5,5,5',
              '--max_nonfinite=3', *TINY).stdout
  assert 'step 3: non-finite loss (nan); step skipped (1 in a row)' in out
  assert 'step 4: non-finite' not in out
  assert 'step 5: non-finite loss (nan); step skipped (3 in a row)' in out
  assert 'restored the last good checkpoint' in out and '(step 4)' in out
  assert 'done: 8 steps' in out
  _, weights = _weights(work)
  assert all(np.all(np.isfinite(w)) for w in weights.values())


def test_a_non_finite_sample_grid_is_skipped_and_training_goes_on(tmp_path):
  # Latents scaled by 1e38 overflow float32, as TFP's Glow decoder does at
  # temperature 1 after a few steps: the grid is dropped, the run is not.
  work = str(tmp_path / 'run')
  out = _call('train', f'--workdir={work}', '--max_steps=2',
              '--temperature=1e38', *TINY).stdout
  assert ('step 2: the sample grid decoded to non-finite images at '
          '--temperature=1e+38; no grid written') in out
  assert 'done: 2 steps' in out
  assert not [f for f in os.listdir(work) if f.startswith('samples_')]
  assert np.isfinite(json.load(open(os.path.join(work, 'final.json')))[
      'test_bits_per_dim'])


def _evaluate_sample_export(work, tmp_path):
  """What users run after training, each with its default settings."""
  assert 'test bits/dim at step' in _call(
      'train.evaluate', f'--workdir={work}', '--num_samples=2').stdout
  _call('train.sample', f'--workdir={work}', '--num=3')
  _call('train.export', f'--workdir={work}', f'--export_dir={tmp_path}/export')
  assert os.path.exists(tmp_path / 'export' / 'saved_model.pb')


# What the distributed runs train, each also through a skipped non-finite
# step, whose guard runs in cross-replica context.
DISTRIBUTED = ['--max_steps=3', '--inject_nonfinite_at=1', *TINY_JIT]


# Session scope: a module-scoped fixture is torn down whenever the test
# process turns to another file between the two tests, and trained again.
@pytest.fixture(scope='session')
def one_device_run(tmp_path_factory):
  """The run the distributed runs must reproduce, on one device."""
  work = str(tmp_path_factory.mktemp('one_device') / 'run')
  _call('train', f'--workdir={work}', *DISTRIBUTED)
  return work


# The two tests share `one_device_run`, and start several TensorFlow
# processes: see `programs.SEVERAL_PROCESSES`.
@pytest.mark.xdist_group(SEVERAL_PROCESSES)
def test_mirrored_on_two_cpus_matches_one_device(one_device_run, tmp_path):
  one, two = one_device_run, str(tmp_path / 'two')
  out = _run('train', f'--workdir={two}', '--strategy=mirrored',
             '--cpu_devices=2', *DISTRIBUTED).stdout
  assert '2 replica(s)' in out and 'XLA loss: True' in out
  assert 'step 1: non-finite loss (nan); step skipped (1 in a row)' in out
  # Every variable (ActNorm, optimizer slots) is the same on both devices.
  assert 'replicas on this worker differ by at most 0\n' in out
  assert 'done: 3 steps' in out  # through the final (XLA) evaluation
  _assert_same_weights(one, two, atol=1e-4)
  _evaluate_sample_export(two, tmp_path)


def _free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(('127.0.0.1', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _two_workers(*args):
  """`python -m train --strategy=multi_worker *args` on two localhost
  workers (worker 0 the chief), stdout and stderr in one pipe each."""
  workers = [f'127.0.0.1:{p}' for p in _free_ports(2)]
  procs = []
  for index in range(2):
    tf_config = json.dumps({'cluster': {'worker': workers},
                            'task': {'type': 'worker', 'index': index}})
    procs.append(subprocess.Popen(
        [sys.executable, '-m', 'train', '--strategy=multi_worker', *args],
        cwd=ROOT, env=_env({'TF_CONFIG': tf_config}), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True))
  return procs


@pytest.mark.xdist_group(SEVERAL_PROCESSES)
def test_two_workers_on_localhost_match_one_worker(one_device_run, tmp_path):
  one, two = one_device_run, str(tmp_path / 'two')
  procs = _two_workers(f'--workdir={two}', *DISTRIBUTED)
  outputs = [p.communicate(timeout=600)[0] for p in procs]
  assert all(p.returncode == 0 for p in procs), outputs
  assert '2 replica(s)' in outputs[0] and 'done: 3 steps' in outputs[0]
  assert ('step 1: non-finite loss (nan); step skipped (1 in a row)' in
          outputs[0])
  assert not os.path.exists(os.path.join(two, 'tmp', 'worker_1'))
  _assert_same_weights(one, two, atol=1e-4)
  _evaluate_sample_export(two, tmp_path)


@pytest.mark.xdist_group(SEVERAL_PROCESSES)
def test_sigterm_to_one_worker_stops_both_at_a_saved_step(tmp_path):
  """A preemption notice to the non-chief worker: both workers save the
  same step (the chief into checkpoints/) and exit 143 within seconds,
  without a traceback; the same run resumes at that step."""
  work = str(tmp_path / 'run')
  flags = [f'--workdir={work}', '--checkpoint_every=100000', *TINY]
  chief, other = _two_workers('--max_steps=100000', *flags)
  for line in chief.stdout:
    if 'compiled and ran in' in line:
      break
  other.send_signal(signal.SIGTERM)
  signalled = time.monotonic()
  outputs = [p.communicate(timeout=120)[0] for p in (chief, other)]
  seconds = time.monotonic() - signalled
  assert [chief.returncode, other.returncode] == [143, 143], outputs
  assert seconds < 60, seconds
  assert not any('Traceback' in out for out in outputs), outputs
  last = [out.strip().splitlines()[-1] for out in outputs]
  assert last[1].startswith('terminated (SIGTERM) at step '), last
  at = int(last[1].split()[4].rstrip(';'))
  saved = f'saved {work}/checkpoints/ckpt-{at}: run the same command again'
  assert saved in last[1]
  assert last[0] == (f'stopped with the cluster (another worker received '
                     f'SIGTERM or Ctrl-C) at step {at}; {saved} to resume')
  assert checkpoints.numbers(os.path.join(work, 'checkpoints')) == [at]
  out = _call('train', f'--max_steps={at + 1}', *flags).stdout
  assert f'resumed from {work}/checkpoints/ckpt-{at} at step {at}' in out
  assert f'done: {at + 1} steps' in out


def test_tfds_sets_through_mock_data(tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with tfds.testing.mock_data(num_examples=40):
    out = _call('train', '--dataset=mnist', f'--workdir={tmp_path}/mnist',
                '--max_steps=2', '--batch_size=8', '--n_subflows=1',
                '--densenet_depth=1', '--densenet_growth=4',
                '--n_intermediate_channels=8', '--nojit_compile',
                '--noprogress', '--num_grid_samples=2').stdout
  assert 'mnist: 40 train / 40 test images of (28, 28, 1), 256 levels' in out
  assert 'done: 2 steps' in out


def test_a_tfds_set_without_network_exits_2_at_once(tmp_path, monkeypatch):
  """Unreachable download host: one error line before tensorflow-datasets'
  minutes of retries, and no folder left behind."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def unreachable(*args, **kwargs):
    raise OSError(101, 'Network is unreachable')

  def download(*args, **kwargs):
    raise AssertionError('download_and_prepare ran without network')
  monkeypatch.setattr(socket, 'create_connection', unreachable)
  monkeypatch.setattr(tfds.core.DatasetBuilder, 'download_and_prepare',
                      download)
  proc = _call('train', '--dataset=mnist', f'--data_dir={tmp_path}/tfds',
               f'--workdir={tmp_path}/run', check=False)
  assert proc.returncode == 2, proc.stderr[-3000:]
  assert ("error: tensorflow-datasets set 'mnist' is not in "
          f"{tmp_path}/tfds") in proc.stderr
  assert ('its download host storage.googleapis.com does not answer '
          '(OSError: [Errno 101] Network is unreachable)') in proc.stderr
  assert 'Download it first on a machine with network' in proc.stderr
  assert len(proc.stderr.strip().splitlines()) == 1
  assert not os.path.exists(tmp_path / 'tfds')
  assert not os.path.exists(tmp_path / 'run')


def test_a_failed_tfds_download_exits_2_and_removes_what_it_left(
    tmp_path, monkeypatch):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  class Connection:
    def close(self):
      pass

  def half_download(builder, *args, **kwargs):
    os.makedirs(builder.data_dir)
    os.makedirs(os.path.join(builder.data_dir_root, 'downloads', '.tmp'))
    raise ConnectionError('connection reset by peer')
  monkeypatch.setattr(socket, 'create_connection',
                      lambda *args, **kwargs: Connection())
  monkeypatch.setattr(tfds.core.DatasetBuilder, 'download_and_prepare',
                      half_download)
  data_dir = tmp_path / 'tfds'
  (data_dir / 'downloads').mkdir(parents=True)
  (data_dir / 'downloads' / 'other_set.tar').write_text('kept')
  proc = _call('train', '--dataset=mnist', f'--data_dir={data_dir}',
               f'--workdir={tmp_path}/run', check=False)
  assert proc.returncode == 2, proc.stderr[-3000:]
  assert ('could not be prepared (ConnectionError: connection reset by peer)'
          in proc.stderr)
  assert sorted(os.listdir(data_dir)) == ['downloads']
  assert os.listdir(data_dir / 'downloads') == ['other_set.tar']


def test_image_folder(tmp_path):
  folder = str(tmp_path / 'images')
  _write_pngs(folder, [(8, 8, 3)] * 40)
  out = _call('train', '--dataset=folder', f'--image_folder={folder}',
              f'--workdir={tmp_path}/run', '--max_steps=2', *TINY).stdout
  assert 'folder: 36 train / 4 test images of (8, 8, 3), 256 levels' in out


def test_export_reloads_without_tfp_convexp(finished_run, tmp_path):
  work, export_dir = finished_run[0], str(tmp_path / 'export')
  _call('train.export', f'--workdir={work}', f'--export_dir={export_dir}')
  from train import run_config  # pylint: disable=g-import-not-at-top
  config, model, _ = run_config.restore(work)
  module = program('train.export').Exported(model, config['image_shape'])
  x = np.random.default_rng(0).integers(0, 17, (5, 8, 8, 1)).astype(np.int32)
  want = dict(log_prob=module.log_prob(x).numpy(),
              bits_per_dim=module.bits_per_dim(x).numpy(),
              sample=module.sample(4, 0.7, [1, 2]).numpy(),
              encode=module.encode(x).numpy())
  np.save(tmp_path / 'x.npy', x)
  script = (
      'import sys, numpy as np, tensorflow as tf\n'
      f'm = tf.saved_model.load({export_dir!r})\n'
      f'x = np.load({str(tmp_path / "x.npy")!r})\n'
      'z = m.encode(x)\n'
      'np.savez(sys.argv[1], log_prob=m.log_prob(x), bits_per_dim='
      'm.bits_per_dim(x), sample=m.sample(tf.constant(4), tf.constant(0.7), '
      'tf.constant([1, 2])), encode=z, decoded=m.decode(z))\n'
      'assert m.sample(tf.constant(0), tf.constant(1.), tf.constant([1, 2]))'
      '.shape == (0, 8, 8, 1)\n'
      'bad = [(m.sample, (tf.constant(2), tf.constant(float("nan")), '
      'tf.constant([1, 2])), "temperature must be finite"),\n'
      '       (m.sample, (tf.constant(2), tf.constant(-1.), tf.constant([1, 2]))'
      ', "temperature must be >= 0"),\n'
      '       (m.decode, (tf.fill([1, 64], float("nan")),), "the latent has '
      'non-finite values"),\n'
      '       (m.log_prob, (tf.fill([1, 8, 8, 1], 17),), "pixel values must '
      'be in [0, 17)"),\n'
      '       (m.log_prob, (np.full([1, 8, 8, 1], 3.5),), "whole numbers"),\n'
      '       (m.bits_per_dim, (np.full([1, 8, 8, 1], 3.5, np.float32),), '
      '"whole numbers"),\n'
      '       (m.encode, (np.full([1, 8, 8, 1], 17, np.uint8),), "in [0, 17)"),\n'
      '       (m.log_prob, (np.full([1, 8, 8, 1], -1),), "in [0, 17)"),\n'
      '       (m.sample, (tf.constant(-1), tf.constant(1.), tf.constant([1, 2]))'
      ', "the number of samples must be >= 0")]\n'
      '# Other dtypes of whole numbers give what int32 gives.\n'
      'for dtype in (np.uint8, np.int64, np.float32, np.float64):\n'
      '  np.testing.assert_array_equal(m.log_prob(x.astype(dtype)), '
      'm.log_prob(x))\n'
      'for fn, args, message in bad:\n'
      '  try:\n'
      '    fn(*args)\n'
      '  except tf.errors.InvalidArgumentError as e:\n'
      '    assert message in e.message, e.message\n'
      '  else:\n'
      '    raise AssertionError(message)\n'
      'loaded = [k for k in sys.modules if k.startswith(("tfp_convexp", '
      '"tensorflow_probability"))]\n'
      'assert not loaded, loaded\n')
  proc = subprocess.run([sys.executable, '-c', script, str(tmp_path / 'got.npz')],
                        cwd=str(tmp_path), env=dict(os.environ,
                                                    TF_CPP_MIN_LOG_LEVEL='2'),
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  got = dict(np.load(tmp_path / 'got.npz'))
  # Grappler's arithmetic optimisation and constant folding regroup
  # log_prob's float32 sums differently in the loaded graph (1 ulp in one of
  # five values with the matrix-form convexp; equal with either pass off).
  np.testing.assert_allclose(got.pop('log_prob'), want.pop('log_prob'),
                             rtol=1e-6)
  for name, value in want.items():
    np.testing.assert_array_equal(got[name], value, err_msg=name)
  np.testing.assert_array_equal(got['decoded'], x)


@pytest.mark.parametrize('args, message', [
    (['--dataset=svhn'], 'flag --dataset=svhn: value should be one of'),
    (['--dataset=folder', '--image_folder=/nonexistent'],
     "image folder '/nonexistent' does not exist"),
    (['--n_levels=4'], 'divisible by 2^4 = 16; got image_shape (8, 8, 1)'),
    (['--n_levels=2', '--n_subflows=1,2,3'], '--n_subflows gives 3 levels'),
])
def test_bad_flags_exit_2_before_training(tmp_path, args, message):
  proc = _call('train', f'--workdir={tmp_path}/run', *args, check=False)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert message in proc.stderr, proc.stderr[-2000:]
  assert not os.path.exists(tmp_path / 'run')


def test_mixed_image_sizes_exit_2(tmp_path):
  folder = str(tmp_path / 'images')
  _write_pngs(folder, [(8, 8, 3)] * 3 + [(16, 8, 3)])
  proc = _call('train', '--dataset=folder', f'--image_folder={folder}',
               f'--workdir={tmp_path}/run', check=False)
  assert proc.returncode == 2
  assert 'mixed sizes' in proc.stderr and '003.png is (16, 8, 3)' in proc.stderr


def test_workdir_of_another_model_is_left_alone(finished_run, tmp_path):
  work = copy_run(finished_run[0], tmp_path)
  before = {f: os.path.getmtime(os.path.join(work, f)) for f in os.listdir(work)
            if f != 'LOCK'}
  proc = _call('train', f'--workdir={work}', '--max_steps=2', '--mixing=1x1',
               *TINY, check=False)
  assert proc.returncode == 2
  assert "holds a checkpoint of a different model (model.mixing: 'convexp' " \
         "-> '1x1')" in proc.stderr
  assert {f: os.path.getmtime(os.path.join(work, f))
          for f in os.listdir(work) if f != 'LOCK'} == before
  out = _call('train', f'--workdir={work}', '--max_steps=2', '--mixing=1x1',
              '--overwrite', *TINY).stdout
  assert 'done: 2 steps' in out
  assert json.load(open(os.path.join(work, 'config.json')))['model'][
      'mixing'] == '1x1'
  stray = tmp_path / 'stray'
  stray.mkdir()
  (stray / 'notes.txt').write_text('mine')
  proc = _call('train', f'--workdir={stray}', *TINY, check=False)
  assert proc.returncode == 2 and 'is not empty' in proc.stderr
  assert (stray / 'notes.txt').read_text() == 'mine'


def test_a_named_run_brings_its_training_settings_and_flags_override_them():
  program('train')
  from train import run_config  # pylint: disable=g-import-not-at-top
  from train import settings  # pylint: disable=g-import-not-at-top
  out = {}
  for args in (['--model=conv_sylvester_var'],
               ['--model=mixing_convexp', '--lr=2e-3', '--beta_2=0.9'],
               ['--model=digits_convexp']):
    run_config.FLAGS.unparse_flags()
    run_config.parse_flags(['train', *args])
    out[' '.join(args)] = dict(settings.Settings.from_flags().saved(),
                               dataset=run_config.setting('dataset'))
  from tfp_convexp import flows  # pylint: disable=g-import-not-at-top
  sylvester = out['--model=conv_sylvester_var']
  assert sylvester['dataset'] == 'cifar10'
  assert {k: sylvester[k] for k in flows.TRAINING_KEYS} == (
      flows.CONFIGS['conv_sylvester_var'].training)
  # The residual runs: Adam (0.9, 0.99), quadratic warm-up, clipping at 1.
  assert (sylvester['optimizer'], sylvester['beta_2'],
          sylvester['warmup_shape'], sylvester['clip_grad_norm']) == (
              'adam', 0.99, 'quadratic', 1.)
  mixing = out['--model=mixing_convexp --lr=2e-3 --beta_2=0.9']
  assert (mixing['optimizer'], mixing['lr'], mixing['beta_2'],
          mixing['batch_size'], mixing['epochs']) == ('adamax', 2e-3, 0.9,
                                                      256, 1000)
  assert out['--model=digits_convexp']['dataset'] == 'digits'


def test_sample_grids_enlarge_small_images_and_keep_tiles_apart():
  from train import images  # pylint: disable=g-import-not-at-top
  digits = np.arange(5 * 8 * 8).reshape(5, 8, 8, 1) % 17
  canvas = images.grid(digits, 17)
  scale, gap = 6, images.GAP  # 8 px digits become 48 px tiles
  assert canvas.shape == (2 * 48 + 3 * gap, 3 * 48 + 4 * gap, 1)
  assert np.all(canvas[:gap] == images.GAP_VALUE)
  tile = canvas[gap:gap + 48, 2 * gap + 48:2 * gap + 96, 0]  # the second
  want = np.round(digits[1, ..., 0] * 255. / 16).astype(np.uint8)
  np.testing.assert_array_equal(tile, np.kron(want, np.ones((scale, scale),
                                                             np.uint8)))
  assert np.all(canvas[gap + 48:2 * gap + 48] == images.GAP_VALUE)
  big = images.grid(np.zeros((1, 64, 64, 3), np.int32), 256)
  assert big.shape == (64 + 2 * gap, 64 + 2 * gap, 3)  # not enlarged


def test_run_and_export_folders_are_not_tracked():
  proc = subprocess.run(['git', 'check-ignore', 'runs/default/config.json',
                         'exported/saved_model.pb'], cwd=ROOT,
                        capture_output=True, text=True, check=False)
  if proc.returncode == 128:
    pytest.skip('not a git checkout')
  assert proc.stdout.split() == ['runs/default/config.json',
                                 'exported/saved_model.pb']
