"""The layer study program (`benchmarks/study.py`) on a tiny subset, and the
report's statistics."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

import study_report  # pylint: disable=g-import-not-at-top,wrong-import-position

from programs import SEVERAL_PROCESSES  # pylint: disable=g-bad-import-order


def _record(layer, seed, bpd, experiment='mixing'):
  return {'dataset': 'digits', 'experiment': experiment, 'layer': layer,
          'seed': seed, 'parameters': 100, 'test_bits_per_dim': bpd,
          'train_bits_per_dim': bpd - 0.1, 'seconds_per_step': 0.01,
          'step_ms': 5., 'sample_seconds': 0.1, 'nonfinite_samples': 0.,
          'inverse_error': 1e-6, 'test_curve': [[10, bpd + 1], [20, bpd]]}


def test_differences_are_called_apart_only_when_seed_ranges_do_not_overlap():
  records = ([_record('1x1', s, b) for s, b in enumerate((2.30, 2.32, 2.31))] +
             [_record('convexp', s, b) for s, b in enumerate((2.20, 2.22, 2.21))] +
             [_record('qr', s, b) for s, b in enumerate((2.29, 2.35, 2.33))])
  layers = study_report.summary(records)[('digits', 'mixing')]
  assert layers['1x1']['mean'] == pytest.approx(2.31)
  assert layers['1x1']['sd'] == pytest.approx(0.01)
  assert layers['1x1']['train'] == pytest.approx(2.21)
  text = '\n'.join(study_report._statements(layers, '1x1'))  # pylint: disable=protected-access
  against_1x1 = text.split('Against `1x1`')[1]
  apart, overlap = against_1x1.split('they overlap')
  assert '`convexp` -0.1000' in apart and '`qr`' not in apart
  assert '`qr` +0.0133' in overlap
  assert 'Best mean: `convexp`' in text


def test_the_graph_claims_are_stated_against_the_spread():
  def graph(layer, values):
    return [{**_record(layer, s, v, 'graph'), 'test_nats_per_node': v,
             'train_nats_per_node': v} for s, v in enumerate(values)]
  records = (graph('1x1', (2.0, 2.1, 2.2)) + graph('none', (2.5, 2.6, 2.7)) +
             graph('graph_convexp', (1.7, 1.8, 2.05)))
  layers = study_report.summary(records)[('digits', 'graph')]
  text = '\n'.join(study_report._claims(layers))  # pylint: disable=protected-access
  assert ('`graph_convexp` against `1x1`: -0.2500 nats/node (mean over '
          'seeds); it does not beat it by more than the spread') in text
  assert ('`graph_convexp` against `none`: -0.7500 nats/node (mean over '
          'seeds); it beats it by more than the spread over seeds') in text


def _study(tmp_path, *extra):
  command = [sys.executable, 'benchmarks/study.py',
             '--runs=digits/mixing/1x1/s*,digits/mixing/glow/s0,'
             'springs/graph/1x1/s0',
             '--steps=6', '--width=8', '--n_subflows=1', '--seeds=2',
             '--eval_every=1', '--time_steps=2', f'--workdir={tmp_path / "runs"}',
             f'--out={tmp_path / "out"}', *extra]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=ROOT)
  return subprocess.run(command, cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.xdist_group(SEVERAL_PROCESSES)
def test_the_study_runs_a_subset_resumes_and_reports(tmp_path):
  proc = _study(tmp_path)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  out = tmp_path / 'out'
  saved = json.loads((out / 'study.json').read_text())
  graph = saved['records'][0]  # sorted by experiment: graph first
  records = saved['records'][1:]
  assert saved['planned_runs'] == 4 and len(records) == 3
  assert (graph['experiment'], graph['dataset']) == ('graph', 'springs')
  assert graph['steps'] == 6 and 0 < graph['test_nats_per_node'] < 50
  assert graph['inverse_error'] < 1e-4 and graph['step_ms'] > 0
  assert graph['model']['mixing'] == '1x1'
  assert graph['test_curve'][-1] == [6, pytest.approx(
      graph['test_nats_per_node'])]
  assert sorted((r['layer'], r['seed']) for r in records) == [
      ('1x1', 0), ('1x1', 1), ('glow', 0)]
  for r in records:
    for key in ('dataset', 'experiment', 'layer', 'seed', 'parameters',
                'test_bits_per_dim', 'train_bits_per_dim', 'train_seconds',
                'sample_seconds', 'inverse_error'):
      assert r[key] is not None, key
    assert r['dataset'] == 'digits' and r['experiment'] == 'mixing'
    assert r['steps'] == 6 and 0 < r['test_bits_per_dim'] < 50
    assert 0 <= r['inverse_error'] < 1e-3 and r['sample_seconds'] > 0
    assert r['step_ms'] > 0 and 0 <= r['nonfinite_samples'] <= 1
    assert r['test_curve'][-1] == [6, pytest.approx(r['test_bits_per_dim'])]
    assert (out / r['samples_png']).exists()
  # One parameter budget: TFP's Glow at the width closest to the 1x1 model.
  counts = {r['layer']: r['parameters'] for r in records}
  assert abs(counts['glow'] - counts['1x1']) < 0.1 * counts['1x1'], counts
  assert records[0]['model']['layout'] == 'multiscale'
  assert records[2]['model']['layout'] == 'tfp_glow'
  # The two seeds are different runs.
  assert records[0]['test_bits_per_dim'] != records[1]['test_bits_per_dim']
  report = (out / 'study.md').read_text()
  assert '4 of 4 planned runs finished' in report
  assert '| `1x1` | 2 |' in report and '| `glow` | 1 |' in report
  assert '## Graph on springs' in report
  hours = sum(r['train_seconds'] for r in records + [graph]) / 3600
  assert f'Training took {hours:.1f} hours of wall time' in report
  times = json.loads((tmp_path / 'runs' / 'step_times.json').read_text())
  assert sorted(times) == ['digits/mixing/1x1', 'digits/mixing/glow',
                           'springs/graph/1x1']
  assert (out / 'study_digits_mixing.png').stat().st_size > 10_000

  # A second call, of a subset, trains nothing; a record kept by an older
  # version of the program (no `record_version`) is recomputed, and the
  # report keeps the records of the runs outside the subset (their work
  # directories may be gone).
  finals = sorted((tmp_path / 'runs').rglob('final.json'))
  stamps = [f.stat().st_mtime_ns for f in finals]
  old = tmp_path / 'runs' / 'digits' / 'mixing' / '1x1' / 's0' / 'study_record.json'
  kept = json.loads(old.read_text())
  del kept['record_version'], kept['train_bits_per_dim']
  old.write_text(json.dumps(kept))
  again = _study(tmp_path, '--runs=digits/mixing/1x1/s*')
  assert again.returncode == 0, again.stderr[-3000:]
  assert 'python -m train exited' not in again.stdout
  assert 'ms per training step' not in again.stdout  # timed once
  assert '2 records kept from the report' in again.stdout
  assert [f.stat().st_mtime_ns for f in finals] == stamps
  saved = json.loads((out / 'study.json').read_text())
  new_records = saved['records']
  assert saved['planned_runs'] == 4
  assert new_records[0] == graph and new_records[2:] == records[1:]
  timing = ('sample_seconds',)  # the only field a recomputation changes
  assert ({k: v for k, v in new_records[1].items() if k not in timing} ==
          {k: v for k, v in records[0].items() if k not in timing})
  assert ', then `python benchmarks/study.py' in (out / 'study.md').read_text()


def test_a_pattern_that_matches_no_run_is_a_usage_error(tmp_path):
  proc = _study(tmp_path, '--runs=cifar10/*')
  assert proc.returncode == 1
  assert 'matches no run; names look like digits/mixing/1x1/s0' in proc.stderr
