"""Fault injection on the training programs: poisoned steps after a resume,
lost or damaged checkpoint files, two programs on one work directory, bad
settings, results that must not be lost, and errors that must be messages.
Programs run in-process (`programs.call`), except the ones that are killed
or hold a lock against another process."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import programs
from programs import call as _call
from programs import copy_run
from programs import env as _env
from programs import program
from programs import ROOT
from programs import SEVERAL_PROCESSES
from programs import TINY
from programs import write_pngs as _write_pngs

# Every test here trains or reads a model through the programs: the full
# tier only.
pytestmark = pytest.mark.slow


def _ok(module, *args):
  return _call(module, *args)


def _fails(module, *args, message):
  """Runs a program that must exit 2 with `message` on stderr (an unexpected
  exception fails the test with its traceback)."""
  proc = _call(module, *args, check=False)
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
  assert message in proc.stderr, proc.stderr[-3000:]
  return proc


def _checkpoint_files(work):
  folder = os.path.join(work, 'checkpoints')
  return {name: open(os.path.join(folder, name), 'rb').read()
          for name in os.listdir(folder) if name.startswith('ckpt-')}


def test_poisoned_steps_after_a_resume_stop_the_run(finished_run, tmp_path):
  work = copy_run(finished_run[0], tmp_path)
  before = _checkpoint_files(work)
  start = time.time()
  proc = _fails('train', f'--workdir={work}', '--max_steps=40', '--lr=1e6',
                '--accept_changed_settings', '--checkpoint_every=2',
                '--max_restores=2', *TINY, message='stopped at step')
  assert time.time() - start < 120
  assert '2 times (--max_restores)' in proc.stderr
  assert 'lower --lr (now 1e+06)' in proc.stderr
  assert proc.stdout.count('restored the last good checkpoint') == 2
  assert _checkpoint_files(work) == before  # nothing lost, nothing added


def test_non_finite_steps_before_the_first_checkpoint_exit_2(tmp_path):
  _fails('train', f'--workdir={tmp_path}/run', '--max_steps=4',
         '--inject_nonfinite_at=1,1,1', *TINY,
         message='3 non-finite steps in a row at step 1, before the first '
                 'checkpoint')


@pytest.mark.parametrize('damage', ['deleted', 'garbage'])
def test_a_lost_state_file_loses_no_checkpoint(finished_run, tmp_path, damage):
  work = copy_run(finished_run[0], tmp_path)
  state = os.path.join(work, 'checkpoints', 'checkpoint')
  if damage == 'deleted':
    os.remove(state)
  else:
    open(state, 'w').write('model_checkpoint_path: "ckpt-99"\n\x00garbage')
  before = _checkpoint_files(work)
  out = _ok('train', f'--workdir={work}', '--max_steps=6',
            '--checkpoint_every=2', '--keep_checkpoints=5', *TINY).stdout
  assert 'at step 4' in out and 'done: 6 steps' in out
  after = _checkpoint_files(work)
  assert all(after[name] == data for name, data in before.items())
  assert 'ckpt-6.index' in after


@pytest.mark.parametrize('damage', ['truncated', 'flipped', 'no_index',
                                    'half_written'])
def test_a_damaged_latest_checkpoint_falls_back(finished_run, tmp_path, damage):
  work = copy_run(finished_run[0], tmp_path)
  folder = os.path.join(work, 'checkpoints')
  data = os.path.join(folder, 'ckpt-4.data-00000-of-00001')
  if damage == 'truncated':
    blob = open(data, 'rb').read()
    open(data, 'wb').write(blob[:len(blob) // 2])
  elif damage == 'flipped':
    blob = bytearray(open(data, 'rb').read())
    for i in range(len(blob) // 3, len(blob) // 3 + 16):
      blob[i] ^= 0xFF
    open(data, 'wb').write(bytes(blob))
  elif damage == 'no_index':
    os.remove(os.path.join(folder, 'ckpt-4.index'))
  else:  # what a kill in the middle of a save leaves
    os.makedirs(os.path.join(folder, '.partial-6'))
    open(os.path.join(folder, '.partial-6', 'ckpt-6.index'), 'w').write('x')
    open(os.path.join(folder, 'ckpt-6.data-00000-of-00001'), 'w').write('x')
  expected = 2 if damage != 'half_written' else 4
  proc = _ok('train.evaluate', f'--workdir={work}', '--num_samples=1',
             '--nojit_compile')
  assert f'test bits/dim at step {expected}' in proc.stdout
  if damage in ('truncated', 'flipped'):
    assert 'ckpt-4 is damaged' in proc.stderr
  orphan = {'no_index': 4, 'half_written': 6}.get(damage)
  if orphan:  # evaluate reads only; it names the orphan and leaves it
    assert f'ckpt-{orphan} has data files but no .index' in proc.stderr
    assert f'ckpt-{orphan}.data-00000-of-00001' in os.listdir(folder)
  out = _ok('train', f'--workdir={work}', '--max_steps=8',
            '--checkpoint_every=2', *TINY).stdout
  assert f'resumed from {folder}/ckpt-{expected} at step {expected}' in out
  assert 'done: 8 steps' in out
  if damage in ('truncated', 'flipped'):
    assert 'ckpt-4 is damaged' in out
    assert os.path.exists(os.path.join(folder, 'corrupt', 'ckpt-4.index'))
  if orphan:  # set aside before its number is saved again
    assert f'ckpt-{orphan} has data files but no .index' in out
    assert os.path.exists(os.path.join(
        folder, 'corrupt', f'ckpt-{orphan}.data-00000-of-00001'))
  assert not os.path.exists(os.path.join(folder, '.partial-6'))


@pytest.mark.xdist_group(SEVERAL_PROCESSES)
def test_a_run_killed_while_saving_resumes(tmp_path):
  """SIGKILL with a checkpoint every step lands inside saves; every
  checkpoint left with an index reads back whole, TensorFlow's own state
  file names one of them, and the run resumes from the last."""
  from train import checkpoints  # pylint: disable=g-import-not-at-top
  work = str(tmp_path / 'run')
  folder = os.path.join(work, 'checkpoints')
  for kill_at in (5, 9):
    proc = subprocess.Popen(
        [sys.executable, '-m', 'train', f'--workdir={work}',
         '--max_steps=100000', '--checkpoint_every=1', '--keep_checkpoints=50',
         *TINY], cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and kill_at not in checkpoints.numbers(folder):
      time.sleep(0.05)
    time.sleep(0.013 * kill_at)  # somewhere in a later step or save
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for number in checkpoints.numbers(folder):
      checkpoints.verify(checkpoints.prefix(folder, number))
  last = checkpoints.numbers(folder)[-1]
  latest = tf.train.latest_checkpoint(folder)
  assert latest is not None
  assert int(latest.rsplit('-', 1)[1]) in checkpoints.numbers(folder)
  out = _ok('train', f'--workdir={work}', f'--max_steps={last + 2}',
            *TINY).stdout
  assert f'at step {last}' in out and f'done: {last + 2} steps' in out


def _interrupt_when(args, line, sig=signal.SIGINT):
  """Starts `python -m train *args`, sends `sig` (Ctrl-C) once stdout
  shows `line`; returns (exit code, stdout, stderr)."""
  proc = subprocess.Popen([sys.executable, '-m', 'train', *args], cwd=ROOT,
                          env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  out = []
  for text in proc.stdout:
    out.append(text)
    if line in text:
      proc.send_signal(sig)
      break
  rest, err = proc.communicate(timeout=300)
  return proc.returncode, ''.join(out) + rest, err


def _stopped_while_training(work, flags, sig, exit_code, line):
  """Sends `sig` to a long run once its step has compiled; checks the exit
  code and the last line (`line`, then `N; saved <checkpoint N>`) and
  returns the step N it saved."""
  code, _, err = _interrupt_when(['--max_steps=100000', *flags],
                                 'compiled and ran in', sig)
  assert code == exit_code, err[-3000:]
  assert 'Traceback' not in err, err[-3000:]
  last = err.strip().splitlines()[-1]
  assert last.startswith(line), err[-3000:]
  at = int(last[len(line):].split()[0].rstrip(';'))
  assert at >= 1 and f'saved {work}/checkpoints/ckpt-{at}:' in last
  return at


def test_ctrl_c_saves_the_step_and_the_rerun_finishes_the_run(tmp_path):
  """Ctrl-C while training: a checkpoint of the step it stopped at, one
  line, exit 130. Ctrl-C in the final evaluation: no final.json; the rerun
  writes the final.json of the session that trained."""
  work = str(tmp_path / 'run')
  flags = [f'--workdir={work}', '--checkpoint_every=100000', *TINY]
  at = _stopped_while_training(work, flags, signal.SIGINT, 130,
                               'interrupted at step ')
  assert os.path.exists(os.path.join(work, 'checkpoints', f'ckpt-{at}.index'))
  code, out, err = _interrupt_when(
      [f'--max_steps={at + 2}', '--eval_num_samples=64', *flags],
      f'step {at + 2}: evaluating on the')
  assert code == 130, err[-3000:]
  assert f'resumed from {work}/checkpoints/ckpt-{at} at step {at}' in out
  assert err.strip().splitlines()[-1] == (
      f'interrupted during the final evaluation; the checkpoint of step '
      f'{at + 2} is saved: run the same command again to evaluate it and '
      f'write final.json')
  assert not os.path.exists(os.path.join(work, 'final.json'))
  out = _ok('train', f'--max_steps={at + 2}', *flags).stdout
  assert f'done: {at + 2} steps' in out
  final = json.load(open(os.path.join(work, 'final.json')))
  assert final['step'] == at + 2 and final['started_at_step'] == at
  assert final['seconds'] > 0.1 and final['train_bits_per_dim_last_epoch']


def test_sigterm_saves_the_step_and_the_rerun_resumes_there(tmp_path):
  """A preemption's SIGTERM while training: a checkpoint of the step it
  stopped at, one line, exit 143; the same command resumes at that step."""
  work = str(tmp_path / 'run')
  flags = [f'--workdir={work}', '--checkpoint_every=100000', *TINY]
  at = _stopped_while_training(work, flags, signal.SIGTERM, 143,
                               'terminated (SIGTERM) at step ')
  out = _ok('train', f'--max_steps={at + 1}', *flags).stdout
  assert f'resumed from {work}/checkpoints/ckpt-{at} at step {at}' in out
  assert f'done: {at + 1} steps' in out


def test_a_full_disk_stops_the_run_and_keeps_the_checkpoints(
    tmp_path, monkeypatch):
  """A checkpoint save that meets a full disk (injected: the third save
  writes part of its data, then fails as TensorFlow does): exit 2 and one
  `error:` line naming the directory; no partial file; the earlier
  checkpoints load, and the same command resumes from them."""
  work = str(tmp_path / 'run')
  write = tf.train.Checkpoint.write
  calls = []

  def fails_on_the_third(self, prefix, *args, **kwargs):
    calls.append(prefix)
    if len(calls) == 3:
      os.makedirs(os.path.dirname(prefix), exist_ok=True)
      open(prefix + '.data-00000-of-00001', 'wb').write(b'\0' * 100)
      raise tf.errors.ResourceExhaustedError(
          None, None, f'{prefix}_temp/part-00000; No space left on device')
    return write(self, prefix, *args, **kwargs)

  monkeypatch.setattr(tf.train.Checkpoint, 'write', fails_on_the_third)
  flags = [f'--workdir={work}', '--checkpoint_every=1', *TINY]
  proc = _fails('train', '--max_steps=5', *flags, message=(
      f'error: cannot save the checkpoint of step 3 in {work}/checkpoints (no '
      f'space left on the device); nothing of it is left, and the checkpoints '
      f'before it are intact (newest: {work}/checkpoints/ckpt-2). Free space '
      f'there and run the same command again to resume.'))
  assert 'Traceback' not in proc.stderr
  assert sorted(os.listdir(os.path.join(work, 'checkpoints'))) == [
      'checkpoint', 'ckpt-1.data-00000-of-00001', 'ckpt-1.index',
      'ckpt-2.data-00000-of-00001', 'ckpt-2.index', 'progress.json']
  monkeypatch.setattr(tf.train.Checkpoint, 'write', write)
  out = _ok('train', '--max_steps=3', *flags).stdout
  assert f'resumed from {work}/checkpoints/ckpt-2 at step 2' in out
  assert 'done: 3 steps' in out


def test_one_program_at_a_time_per_work_directory(finished_run, tmp_path):
  work = copy_run(finished_run[0], tmp_path)
  holder = subprocess.Popen(
      [sys.executable, '-m', 'train', f'--workdir={work}', '--max_steps=100000',
       *TINY], cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
      stderr=subprocess.DEVNULL)
  try:
    lock = os.path.join(work, 'LOCK')
    deadline = time.time() + 300
    while time.time() < deadline and f'pid {holder.pid}' not in (
        open(lock).read() if os.path.exists(lock) else ''):
      time.sleep(0.1)
    message = f'is in use by python -m train (pid {holder.pid}'
    _fails('train', f'--workdir={work}', '--max_steps=100000', '--seed=4',
           *TINY[:-1], '--accept_changed_settings', message=message)
    _fails('train.evaluate', f'--workdir={work}', message=message)
    _fails('train.export', f'--workdir={work}', f'--export_dir={tmp_path}/e',
           '--overwrite', message=message)
  finally:
    holder.send_signal(signal.SIGKILL)  # leaves a stale LOCK file behind
    holder.wait()
  assert os.path.exists(lock)
  proc = _ok('train.evaluate', f'--workdir={work}', '--num_samples=1',
             '--nojit_compile')
  assert 'took over the lock of a process that is no longer running' in (
      proc.stdout)


def test_resuming_with_other_settings_is_refused(finished_run, tmp_path):
  work = copy_run(finished_run[0], tmp_path)
  config = open(os.path.join(work, 'config.json')).read()
  for flag, message in (('--batch_size=32', '--batch_size: 16 -> 32'),
                        ('--lr=0.01', '--lr: 0.001 -> 0.01')):
    _fails('train', f'--workdir={work}', '--max_steps=6', *TINY, flag,
           message=message)
    assert open(os.path.join(work, 'config.json')).read() == config
  out = _ok('train', f'--workdir={work}', '--max_steps=6', *TINY,
            '--batch_size=32', '--accept_changed_settings').stdout
  assert 'continuing with changed settings: --batch_size: 16 -> 32' in out
  saved = json.load(open(os.path.join(work, 'config.json')))['training']
  assert saved['batch_size'] == 32 and saved['seed'] == 3


def test_a_finished_run_is_not_rewritten(finished_run, tmp_path):
  work = copy_run(finished_run[0], tmp_path)
  final = open(os.path.join(work, 'final.json')).read()
  out = _ok('train', f'--workdir={work}', '--max_steps=4', *TINY).stdout
  assert 'nothing to do: the run is at step 4 of 4' in out
  assert open(os.path.join(work, 'final.json')).read() == final


def test_evaluate_prints_its_result_when_the_write_fails(finished_run, tmp_path):
  work = copy_run(finished_run[0], tmp_path)
  os.makedirs(os.path.join(work, 'eval.json'))  # cannot be replaced by a file
  proc = _fails('train.evaluate', f'--workdir={work}', '--num_samples=1',
                '--nojit_compile', message='the result is printed above')
  assert 'test bits/dim at step 4' in proc.stdout


def test_overwrite_keeps_other_files_and_the_old_run_until_a_checkpoint(
    finished_run, tmp_path):
  work = copy_run(finished_run[0], tmp_path)
  open(os.path.join(work, 'notes.txt'), 'w').write('mine')
  old_config = open(os.path.join(work, 'config.json')).read()
  replaced = os.path.join(work, 'replaced_run')
  # A replacement that fails before its first checkpoint keeps the old run.
  for _ in range(2):
    _fails('train', f'--workdir={work}', '--max_steps=4', '--overwrite',
           '--mixing=1x1', '--inject_nonfinite_at=0,0,0', *TINY,
           message='before the first checkpoint')
    assert open(os.path.join(replaced, 'config.json')).read() == old_config
    assert os.path.exists(os.path.join(replaced, 'checkpoints', 'ckpt-4.index'))
  # Without --overwrite, training on would discard the replaced run.
  _fails('train', f'--workdir={work}', '--max_steps=4', '--mixing=1x1', *TINY,
         message='an --overwrite run stopped before its first checkpoint')
  assert os.path.exists(os.path.join(replaced, 'checkpoints', 'ckpt-4.index'))
  out = _ok('train', f'--workdir={work}', '--max_steps=2', '--overwrite',
            '--mixing=1x1', *TINY).stdout
  assert 'done: 2 steps' in out
  assert not os.path.exists(replaced)
  assert open(os.path.join(work, 'notes.txt')).read() == 'mine'
  assert json.load(open(os.path.join(work, 'config.json')))['model'][
      'mixing'] == '1x1'


def test_unusable_work_directories_and_files_exit_2(finished_run, tmp_path):
  afile = tmp_path / 'afile'
  afile.write_text('x')
  _fails('train', f'--workdir={afile}', *TINY, message='is a file, not a '
                                                        'directory')
  work = copy_run(finished_run[0], tmp_path)
  _fails('train.evaluate', f'--workdir={work}',
         f'--checkpoint={work}/checkpoints/ckpt-77', message='cannot be read')
  _fails('train.sample', f'--workdir={tmp_path}/missing',
         message='is not a directory')
  config = os.path.join(work, 'config.json')
  blob = open(config).read()
  open(config, 'w').write(blob[:len(blob) // 2])
  for module in ('train', 'train.evaluate'):
    _fails(module, f'--workdir={work}', *(TINY if module == 'train' else []),
           message=f'cannot read {config!r}')


@pytest.mark.parametrize('inside', [False, True])
def test_a_read_only_work_directory_exits_2(tmp_path, inside):
  """`chattr +i` makes a folder read-only even for root (who passes every
  permission check), as a read-only mount would."""
  folder = tmp_path / 'ro'
  folder.mkdir()
  if subprocess.run(['chattr', '+i', str(folder)], capture_output=True,
                    check=False).returncode:
    pytest.skip('chattr +i is not available here')
  try:
    work = folder / 'run' if inside else folder
    proc = _fails('train', f'--workdir={work}', *TINY,
                  message=f'--workdir={str(work)!r}: ')
  finally:
    subprocess.run(['chattr', '-i', str(folder)], check=True)
  assert f'{str(folder)!r} is not writable' in proc.stderr


def test_image_folder_faults_are_named(tmp_path):
  folder = str(tmp_path / 'images')
  _write_pngs(folder, [(8, 8, 3)] * 9)
  flags = ['--dataset=folder', f'--image_folder={folder}',
           f'--workdir={tmp_path}/run']
  _fails('train', *flags, message='holds 9 images; its test split is every '
                                  'tenth image')
  _write_pngs(folder, [(8, 8, 3)] * 20)
  out = _ok('train', *flags, '--max_steps=1', *TINY).stdout
  assert 'folder: 18 train / 2 test images' in out
  # Images added under a run: its data order and test figure would change.
  _write_pngs(os.path.join(folder, 'more'), [(8, 8, 3)] * 10)
  _fails('train', *flags, '--max_steps=2', *TINY,
         message='the data: test_images: 2 -> 3')
  wide = os.path.join(folder, 'more', 'wide.png')
  tf.io.write_file(wide, tf.io.encode_png(tf.fill([8, 8, 3], tf.constant(
      60000, tf.uint16))))
  _fails('train', *flags, '--max_steps=2', *TINY,
         message=f'{wide} is a 16-bit PNG')
  open(os.path.join(folder, '001.png'), 'wb').write(b'\x89PNG broken')
  _fails('train', *flags, message=f'{folder}/001.png is not a readable image')
  # Files whose headers read but whose pixels do not: found when a batch
  # reads them (here the first, for the ActNorm initialisation).
  cut = str(tmp_path / 'cut')
  _write_pngs(cut, [(8, 8, 3)] * 20)
  for name in os.listdir(cut):
    path = os.path.join(cut, name)
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:60])
  _fails('train', '--dataset=folder', f'--image_folder={cut}',
         f'--workdir={tmp_path}/cut_run', *TINY,
         message='a training image of step 1 cannot be read (Invalid PNG '
                 'data')


def test_a_run_whose_last_files_were_cut_short_is_finished_again(
    finished_run, tmp_path):
  """A damaged TensorBoard record (a kill while writing, a full disk) and a
  truncated final.json: the rerun evaluates the last checkpoint again and
  writes the same final.json as the run that trained."""
  work = copy_run(finished_run[0], tmp_path)
  final_path = os.path.join(work, 'final.json')
  final = json.load(open(final_path))
  events = [os.path.join(work, 'tb', n) for n in os.listdir(
      os.path.join(work, 'tb'))]
  assert len(events) == 1
  blob = open(events[0], 'rb').read()
  open(events[0], 'wb').write(blob[:-7])
  open(final_path, 'w').write(json.dumps(final)[:20])
  out = _ok('train', f'--workdir={work}', *programs.FINISHED_RUN_ARGS).stdout
  assert 'does not hold the result of step 4 (it is unreadable' in out
  assert f'{events[0]}: record' in out and 'is unreadable' in out
  again = json.load(open(final_path))
  assert again == final
  assert os.path.exists(os.path.join(work, 'bits_per_dim.png'))


def test_sample_draws_in_batches_and_writes_as_it_goes(finished_run, tmp_path):
  work = copy_run(finished_run[0], tmp_path)
  _fails('train.sample', f'--workdir={work}', '--num=1025',
         message='pass --npy=PATH to write all of them')
  npy = str(tmp_path / 'many')
  out = _ok('train.sample', f'--workdir={work}', '--num=1100',
            '--batch_size=512', f'--npy={npy}').stdout
  assert f'and {npy}.npy' in out
  samples = np.load(npy + '.npy')
  assert samples.shape == (1100, 8, 8, 1) and samples.dtype == np.int32
  assert 0 <= samples.min() and samples.max() <= 16
  # Batch i has its own seed; the first batch is what --num=512 draws.
  _ok('train.sample', f'--workdir={work}', '--num=512', '--batch_size=512',
      f'--npy={npy}_first')
  np.testing.assert_array_equal(np.load(npy + '_first.npy'), samples[:512])
  assert not np.array_equal(samples[:512], samples[512:1024])
  assert not [n for n in os.listdir(tmp_path) if n.endswith('.partial')]


def test_evaluate_estimates_many_samples_and_checks_the_image_shape(
    finished_run, tmp_path):
  work = copy_run(finished_run[0], tmp_path)
  out = _ok('train.evaluate', f'--workdir={work}', '--num_samples=17',
            '--nojit_compile').stdout
  lines = out.splitlines()
  estimate = [i for i, l in enumerate(lines) if l.startswith('  about ')]
  progress = [i for i, l in enumerate(lines) if 'images,' in l]
  assert estimate and progress and estimate[0] < progress[0], out
  folder = str(tmp_path / 'wide')
  _write_pngs(folder, [(16, 16, 1)] * 10)
  config = json.load(open(os.path.join(work, 'config.json')))
  config.update(dataset='folder', image_folder=folder)
  json.dump(config, open(os.path.join(work, 'config.json'), 'w'))
  _fails('train.evaluate', f'--workdir={work}',
         message='has images of shape [16, 16, 1], but the run in')


def _initial_weights(*args):
  """The seed and the initial weights that `python -m train *args` builds."""
  program('train')
  from train import run_config  # pylint: disable=g-import-not-at-top
  run_config.FLAGS.unparse_flags()
  run_config.parse_flags(['train', '--n_subflows=1', '--densenet_depth=1',
                          '--densenet_growth=4', '--n_intermediate_channels=8',
                          *args])
  config = run_config.from_flags()
  model = run_config.build_model(config)
  return (config['model']['seed'],
          [v.numpy() for v in model.trainable_variables])


def test_the_seed_reaches_every_weight_and_is_recorded():
  seed_a, a = _initial_weights('--seed=1')
  _, again = _initial_weights('--seed=1')
  seed_b, b = _initial_weights('--seed=2')
  assert seed_a == 1 and seed_b == 2
  assert all(np.array_equal(x, y) for x, y in zip(a, again))
  # Every randomly initialised variable differs (zero-initialised ones,
  # such as biases and the last layers of conditioners, stay equal).
  random = [i for i, x in enumerate(a) if np.std(x) > 0]
  assert len(random) > len(a) // 3
  assert all(not np.array_equal(a[i], b[i]) for i in random)
