"""The layer study's report: `study.json`, `study.md`, plots and sample grids.

`write(records, planned, out, settings)` turns the finished runs' records
(`study.py: evaluate`) into the files under `out`; it reads nothing else,
so a report can be rebuilt from `study.json` alone (`rebuild(out)`).
"""

import json
import os
import shutil
import statistics

import common

__all__ = ['write', 'rebuild', 'summary']

# Which layer each experiment's differences are stated against.
REFERENCE = {'mixing': '1x1', 'transformation': 'coupling', 'graph': '1x1'}
# Each experiment's metric: the records' key and its unit.
METRIC = {'mixing': ('bits_per_dim', 'bits/dim'),
          'transformation': ('bits_per_dim', 'bits/dim'),
          'graph': ('nats_per_node', 'nats/node')}

PAPERS = """\
## The papers' numbers, and why they are not comparable

Published CIFAR-10 test bits/dim (32x32x3, 256 levels):

| model | CIFAR-10 bits/dim | source |
|---|---|---|
| Glow (LU 1x1 + affine coupling, 3 levels x 32 steps, width 512) | 3.35 | Kingma & Dhariwal 2018 |
| Emerging convolutions (same backbone) | 3.34 | Hoogeboom et al. 2019 |
| MEF (matrix-exponential 1x1 + coupling) | 3.32 | Xiao & Liu 2020 |
| Residual Flows | 3.28 | Chen et al. 2019 |
| Woodbury vs Glow 1x1, in one small model | about 3.47 vs 3.51 | Lu & Huang 2020 |
| Convolution exponential, mixing ablation (2 levels x 10 steps, variational dequantization) | reported best of {1x1, emerging, Woodbury, convexp}; the table's values are not in the sources this project holds | Hoogeboom et al. 2020 |
| Convolutional Sylvester flow vs residual block flow and coupling baseline (3 levels x 16 steps) | reported best of the three; values not in our sources | Hoogeboom et al. 2020 |

They are not comparable with this study. The data differ: 8x8 digits with 17 levels and
16x16 photo patches, against 32x32 CIFAR-10 images. The models are a thousand times smaller (about
10^5 parameters against 10^7 to 10^8). Training is 2,000 steps on a CPU, not days on GPUs. The
dequantization is uniform where the convolution-exponential ablation is variational. And the test
sets hold a few hundred images, so bits/dim here carry a sampling error of their own. What
transfers is the *ranking* question, asked here at small scale with the spread over seeds beside
it.
"""


def summary(records):
  """`{(dataset, experiment): {layer: stats}}` over the seeds of each layer."""
  groups = {}
  for r in records:
    groups.setdefault((r['dataset'], r['experiment']), {}).setdefault(
        r['layer'], []).append(r)
  out = {}
  for key, layers in groups.items():
    out[key] = {}
    metric = METRIC[key[1]][0]
    for layer, runs in layers.items():
      bpd = [r[f'test_{metric}'] for r in runs]
      errors = [r['inverse_error'] for r in runs if r['inverse_error'] is not None]
      out[key][layer] = {
          'runs': len(runs), 'seeds': sorted(r['seed'] for r in runs),
          'parameters': runs[0]['parameters'],
          'mean': statistics.fmean(bpd),
          'sd': statistics.stdev(bpd) if len(bpd) > 1 else 0.,
          'min': min(bpd), 'max': max(bpd),
          'train': statistics.fmean(r[f'train_{metric}'] for r in runs),
          'true': (statistics.fmean(r[f'true_test_{metric}'] for r in runs)
                   if f'true_test_{metric}' in runs[0] else None),
          'step_ms': runs[0].get('step_ms'),
          'wall_ms_per_step': 1e3 * statistics.fmean(
              r['seconds_per_step'] for r in runs),
          'sample_seconds': statistics.fmean(r['sample_seconds'] for r in runs),
          'nonfinite_samples': statistics.fmean(
              r['nonfinite_samples'] for r in runs),
          'inverse_error': max(errors) if errors else None,
      }
  return out


def _separation(a, b):
  """Whether two layers' seed ranges are disjoint (the difference exceeds
  the spread over seeds) or overlap."""
  return a['max'] < b['min'] or b['max'] < a['min']


def _statements(layers, reference):
  ranked = sorted(layers, key=lambda l: layers[l]['mean'])
  best = ranked[0]
  lines = [f'- Best mean: `{best}` ({layers[best]["mean"]:.4f}).']
  if min(s['runs'] for s in layers.values()) < 2:
    lines.append('- Fewer than two seeds for some layers: no spread to '
                 'compare against yet.')
    return lines
  for anchor in dict.fromkeys([best, reference]):
    if anchor not in layers:
      continue
    apart = [l for l in ranked if l != anchor and
             _separation(layers[l], layers[anchor])]
    within = [l for l in ranked if l != anchor and l not in apart]
    a = layers[anchor]

    def diff(l):
      return f'`{l}` {layers[l]["mean"] - a["mean"]:+.4f}'
    lines.append(
        f'- Against `{anchor}`: the seed ranges do not overlap (the difference '
        f'exceeds the spread over seeds) for ' +
        (', '.join(diff(l) for l in apart) or 'no layer') +
        '; they overlap (not distinguishable with these seeds) for ' +
        (', '.join(diff(l) for l in within) or 'no layer') + '.')
  return lines


def _claims(layers):
  """Graph experiment: whether `graph_convexp` (and `graph_convexp_only`)
  beat `1x1` and `none` by more than the spread over seeds, in words."""
  lines = []
  for layer in ('graph_convexp', 'graph_convexp_only'):
    for other in ('1x1', 'none'):
      if layer not in layers or other not in layers:
        continue
      a, b = layers[layer], layers[other]
      diff = a['mean'] - b['mean']
      if a['runs'] < 2 or b['runs'] < 2:
        verdict = 'cannot be judged (fewer than two seeds)'
      elif a['max'] < b['min']:
        verdict = 'beats it by more than the spread over seeds'
      elif b['max'] < a['min']:
        verdict = 'is worse by more than the spread over seeds'
      else:
        verdict = 'does not beat it by more than the spread over seeds'
      lines.append(f'- `{layer}` against `{other}`: {diff:+.4f} nats/node '
                   f'(mean over seeds); it {verdict}.')
  return lines


def _table(layers, unit):
  gap = any(s['true'] is not None for s in layers.values())
  rows = []
  for layer in sorted(layers, key=lambda l: layers[l]['mean']):
    s = layers[layer]
    error = ('-' if s['inverse_error'] is None
             else f'{s["inverse_error"]:.1e}')
    rows.append([f'`{layer}`', s['runs'], f'{s["parameters"]:,d}',
                 f'{s["mean"]:.4f} ± {s["sd"]:.4f}',
                 f'{s["min"]:.4f} – {s["max"]:.4f}'] +
                ([f'{s["mean"] - s["true"]:+.4f}'] if gap else []) +
                [f'{s["train"]:.4f}',
                 '-' if s['step_ms'] is None else f'{s["step_ms"]:.0f}',
                 f'{s["wall_ms_per_step"]:.0f}', f'{s["sample_seconds"]:.2f}',
                 f'{100 * s["nonfinite_samples"]:.0f}%',
                 error])
  return common.markdown_table(
      ['layer', 'seeds', 'parameters', f'test {unit} (mean ± sd)',
       'min – max'] + (['gap to the true value'] if gap else []) +
      [f'train {unit}', 'ms/step', 'run ms/step', 'sample 64 (s)',
       'non-finite samples', 'max inverse error'], rows)


def _plot(records, path, title, unit='bits/dim', truth=None):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  by_layer = {}
  for r in records:
    by_layer.setdefault(r['layer'], []).append(dict(r['test_curve']))
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for layer in sorted(by_layer):
    curves = by_layer[layer]
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    values = np.array([[c[s] for s in steps] for c in curves])
    mean = values.mean(axis=0)
    line, = ax.plot(steps, mean, label=f'{layer} ({len(curves)})')
    if len(curves) > 1:
      sd = values.std(axis=0, ddof=1)
      ax.fill_between(steps, mean - sd, mean + sd, alpha=0.2,
                      color=line.get_color())
  ax.set_xlabel('training step')
  ax.set_ylabel(f'test {unit}')
  ax.set_title(title)
  finals = [c[max(c)] for cs in by_layer.values() for c in cs]
  if truth is not None:
    ax.axhline(truth, color='grey', linestyle=':', label='the data\'s true value')
    finals.append(truth)
  if finals:  # the early, much higher points would hide the differences
    low, high = min(finals), max(finals)
    ax.set_ylim(low - 0.1 * (high - low + 0.05), high + 1.5 * (high - low + 0.05))
  ax.legend(fontsize=8, ncol=2, title='layer (seeds)')
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def write(records, planned, out, settings):
  """Writes the report of `records` (of `planned` runs) into `out`."""
  os.makedirs(out, exist_ok=True)
  samples_dir = os.path.join(out, 'study_samples')
  records = sorted(records, key=lambda r: (r['experiment'], r['dataset'],
                                           r['layer'], r['seed']))
  for r in records:  # one grid per layer: its lowest seed's last samples
    grid = f'{r["dataset"]}_{r["experiment"]}_{r["layer"]}.png'
    first = min(q['seed'] for q in records if q['dataset'] == r['dataset']
                and q['experiment'] == r['experiment']
                and q['layer'] == r['layer'])
    target = os.path.join(samples_dir, grid)
    source = r.get('samples_png')
    if (r['seed'] == first and source and os.path.exists(source) and
        os.path.abspath(source) != os.path.abspath(target)):
      os.makedirs(samples_dir, exist_ok=True)
      shutil.copyfile(source, target)
    r['samples_png'] = f'study_samples/{grid}' if source else None
  with open(os.path.join(out, 'study.json'), 'w') as f:
    json.dump({'settings': settings, 'planned_runs': planned,
               'records': records}, f, indent=1)
  stats = summary(records)
  lines = [
      '# What each layer buys: the layer study',
      '',
      f'{len(records)} of {planned} planned runs finished. Made by ' +
      ', then '.join(f'`{c}`' for c in settings.get('earlier_commands', []) +
                     [settings['command']]) +
      ' (`benchmarks/study.py`); every run is a `python -m train` work '
      'directory, and `study.json` holds one record per run.',
      '',
      f'Each image run: {settings["steps"]} steps of batch '
      f'{settings["batch_size"]} '
      f'on 2 CPU cores, 2 levels of {settings["n_subflows"]} steps, uniform '
      f'dequantization; test bits/dim is the final one-sample bound on the '
      f'whole test split (digits: 297 images, 17 levels; photos: 386 patches '
      f'of 16x16x3, 256 levels, from photographs that no training patch comes '
      f'from). Train bits/dim is the mean training bound over the last '
      f'epoch, mean over seeds; its distance below the test value is the '
      f'generalisation gap. Mixing runs share one parameter budget: the 1x1 '
      f'model at width {settings["width"]}, and every other model\'s coupling '
      f'width chosen to come closest to it; the transformation runs do not '
      f'(each is its paper layout at width {settings["width"] // 2}, so their '
      f'parameter counts differ). ms/step is one training step (loss, gradient, '
      f'Adamax update; XLA as in the runs), the median of 20 after warm-up, '
      f'every model timed in one process after the training, so the column '
      f'compares layers. Run ms/step is a run\'s wall time of training over '
      f'its steps, compilation and periodic test evaluations included, mean '
      f'over seeds; other work shared the 2 cores during some runs, so it '
      f'does not compare layers. '
      f'The sample column times 64 samples (a latent draw and the inverse) '
      f'after a warm-up, and the next column gives the share of them with a '
      f'non-finite pixel at temperature 1; the inverse error '
      f'is max |v - f^-1(f(v))| over the dequantized test images (pixel '
      f'units).',
      '',
      f'Training took {sum(r["train_seconds"] for r in records) / 3600:.1f} '
      f'hours of wall time in all (the sum over the runs, so with the '
      f'sharing above).',
      '',
      'A difference "exceeds the spread over seeds" below when the two '
      'layers\' ranges over seeds (min to max) do not overlap; with three '
      'seeds that is a coarse test, and it says nothing about other sizes '
      'or data.',
  ]
  graph_steps = sorted({r['steps'] for r in records
                        if r['experiment'] == 'graph'})
  if graph_steps:
    capped = ('' if graph_steps[-1] >= settings['steps'] else
              f' (the graph runs\' own 50 epochs of 31 steps end before the '
              f'study\'s cap of {settings["steps"]})')
    lines += [
        '',
        f'Graph runs: {" to ".join(map(str, graph_steps))} steps{capped} of '
        f'{settings["batch_size"]} graphs, a graph flow of 4 steps (masked ActNorm, the mixing, an '
        f'affine coupling whose message-passing conditioner has 2 rounds), '
        f'XLA; every mixing at the parameter budget of the `1x1` model at '
        f'width {settings["width"]}. Test nats/node is the exact negative '
        f'log-likelihood per real node, averaged over the 500 test graphs '
        f'(no dequantization, so no bound); on `community_gmrf` the data\'s '
        f'own value (its density is known in closed form) is the floor no '
        f'model beats in expectation, and the gap column is the distance to '
        f'it. The inverse error is max |x - f^-1(f(x))| over the test graphs\' '
        f'features; the sample column times one sample for each of 64 test '
        f'graphs. The paper that introduces the graph convolution exponential '
        f'describes no graph experiment in the sources this project holds; '
        f'these data sets and settings are this package\'s own '
        f'(`CONFIGS[\'graph_gmrf\'].notes`).',
    ]
  for (dataset, experiment) in sorted(stats, key=lambda k: (k[1], k[0])):
    layers = stats[(dataset, experiment)]
    unit = METRIC[experiment][1]
    plot = f'study_{dataset}_{experiment}.png'
    truths = [s['true'] for s in layers.values() if s['true'] is not None]
    _plot([r for r in records if r['dataset'] == dataset and
           r['experiment'] == experiment], os.path.join(out, plot),
          f'{experiment} on {dataset}: test {unit} (mean ± sd over seeds)',
          unit, truths[0] if truths else None)
    lines += ['', f'## {experiment.capitalize()} on {dataset}', '',
              _table(layers, unit), '']
    lines += _statements(layers, REFERENCE[experiment])
    if experiment == 'graph':
      lines += _claims(layers)
    lines += ['', f'![test {unit} against step]({plot})', '',
              'Samples (lowest seed, last evaluation): ' + ', '.join(
                  f'[{l}](study_samples/{dataset}_{experiment}_{l}.png)'
                  for l in sorted(layers) if os.path.exists(os.path.join(
                      samples_dir, f'{dataset}_{experiment}_{l}.png'))) +
              '.']
  lines += ['', PAPERS]
  with open(os.path.join(out, 'study.md'), 'w') as f:
    f.write('\n'.join(lines))
  return stats


def rebuild(out):
  """Rewrites the report from `out/study.json`."""
  with open(os.path.join(out, 'study.json')) as f:
    saved = json.load(f)
  for r in saved['records']:
    r['samples_png'] = os.path.join(out, r['samples_png'])
  return write(saved['records'], saved['planned_runs'], out, saved['settings'])


if __name__ == '__main__':
  import sys  # pylint: disable=g-import-not-at-top
  rebuild(sys.argv[1] if len(sys.argv) > 1 else os.path.join(
      os.path.dirname(os.path.abspath(__file__)), 'results'))
