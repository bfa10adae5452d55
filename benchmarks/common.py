"""Timing, memory and reporting helpers shared by the benchmark programs."""

import json
import os
import platform
import statistics
import time

import tensorflow as tf

import checkout

# Importing `checkout` put this repository first on the path, before any
# installed copy of the package.
ROOT = checkout.ROOT


def _fetch(out):
  tf.nest.map_structure(lambda t: t.numpy(), out)


def paired_median_ms(fn, baseline, *args, repeats=20, warmup=3):
  """Median wall times (ms) of `fn(*args)` and `baseline(*args)`.

  The two are called alternately, so drifts of the machine (frequency,
  the other core's load) fall on both sides of the ratio alike.
  """
  for _ in range(warmup):
    _fetch(fn(*args))
    _fetch(baseline(*args))
  times = ([], [])
  for _ in range(repeats):
    for f, acc in ((fn, times[0]), (baseline, times[1])):
      start = time.perf_counter()
      _fetch(f(*args))
      acc.append(time.perf_counter() - start)
  return tuple(1e3 * statistics.median(t) for t in times)


def peak_bytes(fn, *args):
  """Peak CPU allocator bytes above the level before `fn(*args)` ran."""
  fn(*args)  # trace / compile outside the measurement
  tf.config.experimental.reset_memory_stats('CPU:0')
  before = tf.config.experimental.get_memory_info('CPU:0')['current']
  out = fn(*args)
  peak = tf.config.experimental.get_memory_info('CPU:0')['peak']
  del out
  return peak - before


def step_time_ms(shape, kwargs, jit, steps, batch_size, task='images'):
  """`(median ms, first-step s)` of the training step `python -m train` runs
  (`train/step.py`, Adamax, no clipping) on `make_flow(shape, **kwargs)`
  (`task='graphs'`: `make_graph_flow(*shape, **kwargs)`), one replica,
  random images (random graphs with every node real); the median of `steps`
  after 3 warm-up steps."""
  return step_times_ms(shape, kwargs, [jit], steps, batch_size, task)[0]


def step_times_ms(shape, kwargs, jits, steps, batch_size, task='images'):
  """`step_time_ms` for each of `jits`, one model per entry built alike,
  whose steps are taken in turn, so that the machine's drifts fall on all
  of them alike."""
  runs, compile_s = [], []
  for jit in jits:
    run, _ = training_step(shape, kwargs, jit, batch_size, task)
    start = time.perf_counter()
    run()
    compile_s.append(time.perf_counter() - start)
    runs.append(run)
  for run in runs:
    for _ in range(2):
      run()
  times = [[] for _ in runs]
  for _ in range(steps):
    for run, acc in zip(runs, times):
      start = time.perf_counter()
      run()
      acc.append(time.perf_counter() - start)
  return [(1e3 * statistics.median(t), c) for t, c in zip(times, compile_s)]


def training_step(shape, kwargs, jit, batch_size, task='images',
                  images=None):
  """`(run, model)`: `run()` takes one training step of `step_time_ms` on
  its fixed batch (the first call compiles): the first `batch_size` of
  `images` (uint8 `[N, *shape]`) if given, else random images."""
  import functools  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from tfp_convexp import flows  # pylint: disable=g-import-not-at-top
  from train import step as step_lib  # pylint: disable=g-import-not-at-top
  from train import tasks  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  if task == 'graphs':
    model = tasks.TASKS[task].build(dict(graph_shape=shape, model=kwargs))
    n, f = shape
    edges = np.triu(rng.random((batch_size, n, n)) < 0.3, 1)
    mask = np.ones((batch_size, n), np.float32)
    batch = (tf.constant(rng.standard_normal((batch_size, n, f)), tf.float32),
             flows.normalized_adjacency((edges | np.swapaxes(edges, 1, 2))
                                        .astype(np.float32)),
             tf.constant(mask))
  else:
    model = flows.make_flow(shape, **kwargs)
    bins = kwargs['num_bins']
    pixels = (rng.integers(0, bins, (batch_size, *shape)) if images is None
              else np.asarray(images[:batch_size]))
    batch = (tf.constant(pixels, tf.int32),
             tf.random.stateless_uniform([batch_size, *shape], seed=[1, 2]))
  tasks.TASKS[task].initialise(model, batch)  # ActNorm init
  optimizer = keras.optimizers.Adamax(1e-3)
  optimizer.build(model.trainable_variables)
  train_step = step_lib.make_train_step(
      functools.partial(tasks.TASKS[task].loss, model),
      model.trainable_variables, optimizer, tf.distribute.get_strategy(),
      batch_size, clip_grad_norm=0., seed=2, jit=jit)
  batch_index, clean = tf.constant(0, tf.int64), tf.constant(False)

  def run():
    loss, _, applied = train_step(batch, batch_index, clean)
    assert bool(applied), f'non-finite step (loss {float(loss)})'
  return run, model


def machine():
  return {'tensorflow': tf.__version__, 'python': platform.python_version(),
          'cpu_count': os.cpu_count(), 'machine': platform.machine(),
          'time': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}


def markdown_table(header, rows):
  lines = ['| ' + ' | '.join(header) + ' |',
           '|' + '|'.join('---' for _ in header) + '|']
  lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
  return '\n'.join(lines)


def write_results(out_dir, name, payload, markdown):
  os.makedirs(out_dir, exist_ok=True)
  with open(os.path.join(out_dir, f'{name}.json'), 'w') as f:
    json.dump(payload, f, indent=1)
  with open(os.path.join(out_dir, f'{name}.md'), 'w') as f:
    f.write(markdown)
