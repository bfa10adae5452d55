"""The layer study: the papers' comparisons rerun on the two offline data sets.

    python benchmarks/study.py [--runs=PATTERN,...] [--workdir=runs/study]
                               [--out=benchmarks/results]

Runs every run of the study that has not finished, each as a normal
`python -m train` work directory under `--workdir` (a stopped study resumes
from the runs' checkpoints), evaluates every finished run once, and writes
the report (`study_report.py`): `study.json`, `study.md`, the bits/dim plots
and a sample grid per layer.

The study (3 seeds each, `--steps` training steps of batch 64):
  * mixing, on `digits` and `photos`: the paper's mixing-ablation layout
    (`CONFIGS['mixing_1x1']`: [coupling, mixing] steps after one initial
    mixing layer, split priors, learned top) with each mixing layer, and
    TFP's own `tfb.Glow` (`layout='tfp_glow'`), all at one parameter budget:
    each model's coupling-net width is chosen so that its parameter count is
    the closest to that of `1x1` at `--width`;
  * transformation, on `digits`: the convolutional Sylvester flow, the
    residual block flow and the coupling baseline, each in its paper layout
    (`CONFIGS['<name>_unif']`, uniform dequantization, Adam with quadratic
    warm-up and clipping) at one width;
  * graph, on the offline graph sets `community_gmrf` and `springs`: the
    graph flow of `CONFIGS['graph_gmrf']` / `['graph_springs']` with each
    graph mixing choice, at one parameter budget as the mixing runs (the
    `1x1` graph model at `--width`), in nats per node; each trains its named
    run's 50 epochs (1,550 steps) or `--steps`, whichever ends first.
Every model is smaller than the papers' (2 levels of `--n_subflows` steps,
uniform dequantization), so that the whole study fits in about 4 hours on
2 CPU cores (its 63 runs trained for 3.7 hours in all, other work sharing the
cores at times); see study.md for what that does and does not show.

`--runs` takes glob patterns over run names, `DATASET/EXPERIMENT/LAYER/sSEED`
(e.g. `digits/mixing/*`, `*/convexp/s0`, `*/graph/*`), to run a subset. The
report holds the records of the selected runs and, for every other planned
run, the record kept in `--out`'s `study.json` (so the graph experiment can
be added to a report whose image runs' work directories are gone).
"""

import dataclasses
import fnmatch
import json
import os
import subprocess
import sys
import time

from absl import app
from absl import flags

from checkout import ROOT

flags.DEFINE_list('runs', ['*'], 'Glob patterns of the run names to run and '
                  'report (DATASET/EXPERIMENT/LAYER/sSEED).')
flags.DEFINE_string('workdir', os.path.join('runs', 'study'),
                    'Folder of the runs\' work directories.')
flags.DEFINE_string('out', os.path.join('benchmarks', 'results'),
                    'Folder of the report.')
flags.DEFINE_integer('steps', 2000, 'Training steps per run.', lower_bound=1)
flags.DEFINE_integer('seeds', 3, 'Seeds per layer (0, 1, ...).', lower_bound=1)
flags.DEFINE_integer('width', 64, 'Coupling-net width of the 1x1 model, '
                     'which sets the mixing runs\' parameter budget; the '
                     'transformation runs use half of it.', lower_bound=2)
flags.DEFINE_integer('n_subflows', 4, 'Steps per level.', lower_bound=1)
flags.DEFINE_integer('eval_every', 5, 'Test evaluation every this many '
                     'epochs (the points of the plots).', lower_bound=1)
flags.DEFINE_integer('time_steps', 20, 'Timed training steps per model, '
                     'after the training (0: no timing).', lower_bound=0)
flags.DEFINE_boolean('report_only', False, 'Write the report from the runs '
                     'already finished; train nothing.')
FLAGS = flags.FLAGS

MIXING_LAYERS = ('1x1', 'qr', 'convexp', 'emerging', 'periodic', 'woodbury',
                 'matrix_exp', 'none', 'glow')
TRANSFORMATIONS = {'conv_sylvester': 'conv_sylvester_unif',
                   'residual_block': 'residual_block_unif',
                   'coupling': 'coupling_baseline_unif'}
GRAPH_MIXINGS = ('none', '1x1', 'graph_convexp', 'graph_convexp_only')
GRAPH_RUNS = {'community_gmrf': 'graph_gmrf', 'springs': 'graph_springs'}
BATCH_SIZE = 64
SAMPLES_PER_GRID = 16
# Bumped whenever `evaluate` records something new, so that records kept
# from an older version of this program are computed again.
RECORD_VERSION = 2


@dataclasses.dataclass(frozen=True)
class Run:
  dataset: str
  experiment: str
  layer: str
  seed: int

  @property
  def name(self):
    return f'{self.dataset}/{self.experiment}/{self.layer}/s{self.seed}'


def all_runs(seeds):
  """Every run, the cheapest groups first (so a stopped study has whole
  groups to report): mixing on the digits, transformations, mixing on the
  photos."""
  return [Run(dataset, experiment, layer, seed)
          for dataset, experiment, layers in (
              ('digits', 'mixing', MIXING_LAYERS),
              ('digits', 'transformation', TRANSFORMATIONS),
              ('springs', 'graph', GRAPH_MIXINGS),
              ('community_gmrf', 'graph', GRAPH_MIXINGS),
              ('photos', 'mixing', MIXING_LAYERS))
          for layer in layers for seed in range(seeds)]


def selected(runs, patterns):
  return [r for r in runs if any(fnmatch.fnmatchcase(r.name, p)
                                 for p in patterns)]


# The models: a `--model` entry and the make_flow arguments that override it,
# which become `python -m train` flags (`as_flags`) and are counted here
# with the same make_flow call the trainer makes.
def mixing_model(layer, width):
  overrides = dict(n_levels=2, n_subflows=FLAGS.n_subflows,
                   coupling_net='plain', dequantize_distribution='uniform',
                   n_intermediate_channels=width)
  if layer == 'glow':
    overrides['layout'] = 'tfp_glow'
  else:
    overrides['mixing'] = layer
  return 'mixing_1x1', overrides


def transformation_model(layer, width):
  return TRANSFORMATIONS[layer], dict(
      n_levels=2, n_subflows=FLAGS.n_subflows, densenet_depth=2,
      densenet_growth=16, n_intermediate_channels=width,
      n_internal_channels=width)


def graph_model(dataset, layer, width):
  return GRAPH_RUNS[dataset], dict(mixing=layer, n_intermediate_channels=width)


def model_of(run, width):
  """The `(--model entry, overrides)` of `run` at coupling width `width`."""
  if run.experiment == 'mixing':
    return mixing_model(run.layer, width)
  if run.experiment == 'graph':
    return graph_model(run.dataset, run.layer, width)
  return transformation_model(run.layer, width)


def as_flags(model):
  config, overrides = model
  return [f'--model={config}'] + [f'--{k}={v}' for k, v in overrides.items()]


def model_arguments(dataset, model, seed=0):
  """`(task, event shape, builder kwargs)` of what `python -m train`
  builds."""
  from tfp_convexp import data  # pylint: disable=g-import-not-at-top
  from tfp_convexp import flows  # pylint: disable=g-import-not-at-top
  config, overrides = model
  kwargs = {**flows.CONFIGS[config], **overrides, 'seed': seed}
  if flows.CONFIGS[config].task == 'graphs':
    return 'graphs', data.graphs.graph_shape(dataset), kwargs
  shape, bins = data.image_shape_and_bins(dataset)
  return 'images', shape, {**kwargs, 'num_bins': bins}


def parameter_count(dataset, model):
  from tfp_convexp import flows  # pylint: disable=g-import-not-at-top
  task, shape, kwargs = model_arguments(dataset, model)
  return flows.count_parameters(flows.build_model(task, shape, **kwargs))


def matched_width(run, budget, cache):
  """The coupling width whose model of `run`'s layer has the parameter count
  closest to `budget` (the count is quadratic in the width: fitted on three
  widths, then the nearest integers are counted)."""
  key = f'{run.dataset}/{run.layer}/{budget}/{FLAGS.n_subflows}'
  if run.experiment == 'graph':  # a graph model's own number of steps
    key = f'{run.dataset}/{run.layer}/{budget}'
  if key not in cache:
    import numpy as np  # pylint: disable=g-import-not-at-top

    def count(width):
      return parameter_count(run.dataset, model_of(run, width))
    widths = [max(FLAGS.width // 2, 2), FLAGS.width, FLAGS.width * 2]
    a, b, c = np.polyfit(widths, [count(w) for w in widths], 2)
    roots = [r.real for r in np.roots([a, b, c - budget])
             if abs(r.imag) < 1e-9 and r.real > 0]
    guess = int(round(max(roots))) if roots else FLAGS.width
    candidates = {w: count(w) for w in (guess - 1, guess, guess + 1) if w > 1}
    cache[key] = min(candidates,
                     key=lambda w: (abs(candidates[w] - budget), w))
  return cache[key]


def plan(runs, workdir):
  """`{run: (model, jit, train flags)}`; the widths are cached in
  `workdir/widths.json`."""
  path = os.path.join(workdir, 'widths.json')
  cache = json.load(open(path)) if os.path.exists(path) else {}
  budgets = {}
  out = {}
  for run in runs:
    if run.experiment in ('mixing', 'graph'):
      if run.dataset not in budgets:
        budgets[run.dataset] = parameter_count(
            run.dataset, model_of(dataclasses.replace(run, layer='1x1'),
                                  FLAGS.width))
      model = model_of(run, matched_width(run, budgets[run.dataset], cache))
    else:
      model = transformation_model(run.layer, max(FLAGS.width // 2, 2))
    # XLA for every mixing run: before the study, the training step of
    # 1x1, convexp, emerging and tfb.Glow at 16x16 and of 1x1 and convexp at
    # 8x8 ran faster with it (convexp at 16x16: 141 against 267 ms), where
    # the trainer's default (tuned on 32x32) leaves 16x16 off. The
    # transformation runs keep the trainer's default. Graph runs: XLA, the
    # trainer's default for them.
    jit = run.experiment in ('mixing', 'graph')
    out[run] = model, jit, (as_flags(model) + ['--jit_compile'] * jit + [
        # The study's own protocol, not the CIFAR-10 entries' it starts
        # from: no augmentation, no held-out split, the last model tested.
        '--augment=none', '--validation_size=0', '--final_num_samples=0',
        f'--dataset={run.dataset}', f'--seed={run.seed}',
        f'--max_steps={FLAGS.steps}', f'--batch_size={BATCH_SIZE}',
        f'--eval_every={FLAGS.eval_every}', '--checkpoint_every=500',
        f'--num_grid_samples={SAMPLES_PER_GRID}', '--noprogress',
        f'--workdir={os.path.join(workdir, *run.name.split("/"))}'])
  os.makedirs(workdir, exist_ok=True)
  with open(path, 'w') as f:
    json.dump(cache, f, indent=1, sort_keys=True)
  return out


def step_times(todo, workdir):
  """`{DATASET/EXPERIMENT/LAYER: ms}`: each model's training step timed in
  this one process after the training (`common.step_time_ms`: median of
  `--time_steps` steps after warm-up, batch 64, XLA as in the runs), so that
  the layers' times are comparable; kept in `workdir/step_times.json`."""
  import common  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, 'step_times.json')
  times = json.load(open(path)) if os.path.exists(path) else {}
  for run, (model, jit, _) in todo.items():
    key = run.name.rsplit('/', 1)[0]
    if key in times or not FLAGS.time_steps:
      continue
    task, shape, kwargs = model_arguments(run.dataset, model)
    ms, _ = common.step_time_ms(shape, kwargs, jit, FLAGS.time_steps,
                                BATCH_SIZE, task)
    times[key] = round(ms, 1)
    print(f'{key}: {ms:.0f} ms per training step', flush=True)
    with open(path, 'w') as f:
      json.dump(times, f, indent=1, sort_keys=True)
  return times


def train(run, train_flags, workdir):
  """Runs (or resumes) one run's `python -m train`; True when it finished."""
  run_dir = os.path.join(workdir, *run.name.split('/'))
  if os.path.exists(os.path.join(run_dir, 'final.json')):
    return True
  # Beside the work directory: the trainer wants that to be its own.
  log = run_dir + '.log'
  os.makedirs(os.path.dirname(run_dir), exist_ok=True)
  start = time.time()
  with open(log, 'a') as f:
    code = subprocess.call([sys.executable, '-m', 'train', *train_flags],
                           cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
  print(f'{run.name}: python -m train exited {code} after '
        f'{time.time() - start:.0f} s (log: {log})', flush=True)
  return code == 0 and os.path.exists(os.path.join(run_dir, 'final.json'))


def evaluate(run, workdir):
  """The run's study record, computed once and kept in its work directory."""
  run_dir = os.path.join(workdir, *run.name.split('/'))
  path = os.path.join(run_dir, 'study_record.json')
  if os.path.exists(path):
    with open(path) as f:
      record = json.load(f)
    if record.get('record_version') == RECORD_VERSION:
      return record
  import numpy as np  # pylint: disable=g-import-not-at-top
  from tfp_convexp import flows  # pylint: disable=g-import-not-at-top
  from train import images as image_lib  # pylint: disable=g-import-not-at-top
  from train import run_config  # pylint: disable=g-import-not-at-top
  from train import tasks  # pylint: disable=g-import-not-at-top
  with open(os.path.join(run_dir, 'final.json')) as f:
    final = json.load(f)
  config, model, step = run_config.restore(run_dir)
  task = tasks.of(config)
  measured = (_graph_measures if task.name == 'graphs' else _image_measures)(
      run, model, task.load(config, 'test'))
  metric = task.metric
  curve = image_lib.read_scalars(os.path.join(run_dir, 'tb'),
                                 [f'test/{metric}'])[f'test/{metric}']
  trained = final['step'] - final.get('started_at_step', 0)
  record = {
      'record_version': RECORD_VERSION,
      'dataset': run.dataset, 'experiment': run.experiment,
      'layer': run.layer, 'seed': run.seed, 'name': run.name,
      'parameters': flows.count_parameters(model),
      'model': {k: config['model'][k] for k in (
          'layout', 'mixing', 'model_type', 'coupling_net', 'n_levels',
          'n_subflows', 'n_intermediate_channels', 'n_internal_channels',
          'message_steps') if k in config['model']},
      'steps': int(step), 'batch_size': BATCH_SIZE,
      f'test_{metric}': final[f'test_{metric}'],
      f'train_{metric}': final[f'train_{metric}_last_epoch'],
      'train_seconds': final['seconds'],
      'seconds_per_step': final['seconds'] / max(trained, 1),
      'resumed': bool(final.get('started_at_step', 0)),
      **measured,
      'test_curve': [[int(s), float(b)] for s, b in curve],
      'samples_png': _last_samples(run_dir),
  }
  if f'true_test_{metric}' in final:
    record[f'true_test_{metric}'] = final[f'true_test_{metric}']
  if not np.isfinite(record['inverse_error']):
    record['inverse_error'] = None
  with open(path, 'w') as f:
    json.dump(record, f, indent=1)
  return record


def _image_measures(run, model, split):
  """Sampling time, non-finite samples and the inverse error of an image
  model."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  test = split.arrays[0]
  v = tf.cast(test, tf.float32) + tf.random.stateless_uniform(
      test.shape, [run.seed, 7])
  errors = []
  for i in range(0, len(test), BATCH_SIZE):
    x = v[i:i + BATCH_SIZE]
    z = model.bijector.forward(x, seed=[run.seed, 8])
    back = model.bijector.inverse(tf.identity(z), seed=[run.seed, 8])
    errors.append(float(tf.reduce_max(tf.abs(back - x))))
  # Sampling = a latent draw and the flow's inverse, timed without the
  # decoder's finiteness check, which TFP's Glow can fail at temperature 1.
  def sample(n, seed):
    z = model.flow.distribution.sample(n, seed=seed)
    return model.bijector.inverse(z, seed=seed).numpy()
  sample(SAMPLES_PER_GRID, [run.seed, 9])  # traces and warms up
  start = time.perf_counter()
  samples = sample(64, [run.seed, 10])
  sample_seconds = time.perf_counter() - start
  return {'sample_seconds': sample_seconds,
          'nonfinite_samples': float(np.mean(~np.isfinite(samples).all(
              axis=(1, 2, 3)))),
          'inverse_error': max(errors)}


def _graph_measures(run, model, split):
  """The same for a graph model: 64 samples (one for each of the first 64
  test graphs), and max |x - f^-1(f(x))| over the test graphs' features."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  x, adjacency, mask = (tf.constant(a) for a in split.arrays)
  graph = dict(adjacency=adjacency, node_mask=mask)
  z = model.bijector.forward(x, **graph)
  back = model.bijector.inverse(tf.identity(z), **graph)
  error = float(tf.reduce_max(tf.abs(back - x)))
  first = dict(adjacency=adjacency[:64], node_mask=mask[:64])
  model.sample(seed=[run.seed, 9], **first)  # traces and warms up
  start = time.perf_counter()
  samples = model.sample(seed=[run.seed, 10], **first).numpy()
  sample_seconds = time.perf_counter() - start
  return {'sample_seconds': sample_seconds,
          'nonfinite_samples': float(np.mean(~np.isfinite(samples).all(
              axis=(1, 2)))),
          'inverse_error': error}


def _last_samples(run_dir):
  grids = sorted(f for f in os.listdir(run_dir) if f.startswith('samples_'))
  return os.path.join(run_dir, grids[-1]) if grids else None


def _kept_records(out, finished, planned):
  """`(records, commands)` of the report in `out` for planned runs that
  this call did not evaluate, with the commands that made them."""
  path = os.path.join(out, 'study.json')
  if not os.path.exists(path):
    return [], []
  with open(path) as f:
    saved = json.load(f)
  kept = [r for r in saved['records']
          if r['name'] not in finished and r['name'] in planned]
  for r in kept:  # as `evaluate` gives it: a path the report can copy
    if r.get('samples_png'):
      r['samples_png'] = os.path.join(out, r['samples_png'])
  settings = saved['settings']
  commands = settings.get('earlier_commands', []) + [settings['command']]
  return kept, commands if kept else []


def main(argv):
  del argv
  import study_report  # pylint: disable=g-import-not-at-top
  runs = selected(all_runs(FLAGS.seeds), FLAGS.runs)
  if not runs:
    raise app.UsageError(f'--runs={",".join(FLAGS.runs)} matches no run; '
                         f'names look like {all_runs(1)[0].name}.')
  workdir = os.path.abspath(FLAGS.workdir)
  todo = plan(runs, workdir)
  failed = []
  if not FLAGS.report_only:
    for i, (run, (_, _, train_flags)) in enumerate(todo.items()):
      print(f'[{i + 1}/{len(todo)}] {run.name}', flush=True)
      if not train(run, train_flags, workdir):
        failed.append(run.name)
  records = []
  for run in runs:
    if os.path.exists(os.path.join(workdir, *run.name.split('/'),
                                   'final.json')):
      records.append(evaluate(run, workdir))
  finished = {r['name'] for r in records}
  planned = [r.name for r in all_runs(FLAGS.seeds)]
  kept, commands = _kept_records(FLAGS.out, finished, planned)
  times = step_times({r: p for r, p in todo.items() if r.name in finished},
                     workdir)
  for r in records:
    r['step_ms'] = times.get(r['name'].rsplit('/', 1)[0])
  command = ' '.join(['python', 'benchmarks/study.py'] + sys.argv[1:])
  study_report.write(
      records + kept, len(runs) + len({r['name'] for r in kept}),
      FLAGS.out, dict(
          steps=FLAGS.steps, seeds=FLAGS.seeds, width=FLAGS.width,
          n_subflows=FLAGS.n_subflows, batch_size=BATCH_SIZE,
          command=command,
          earlier_commands=[c for c in commands if c != command]))
  print(f'{len(records)} of {len(runs)} runs finished'
        f'{f", {len(kept)} records kept from the report" if kept else ""}; '
        f'report in {FLAGS.out}', flush=True)
  if failed:
    print(f'failed: {", ".join(failed)} (see their logs beside the work directories)',
          file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
