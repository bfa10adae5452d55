"""Timing, memory and reporting helpers shared by the benchmark programs."""

import json
import os
import platform
import statistics
import time

import tensorflow as tf


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
