"""Memory of the importance-weighted bound against the number of samples.

    python benchmarks/importance_sampling_bench.py

`log_prob(x, num_samples=K)` of a CIFAR-size variational-dequantization
model on 4 images, taken 16 samples at a time (the default) and in one pass
(`samples_per_chunk=K`, what the code did before). Each case runs in its own
process; reported are the process's peak resident memory after one K=1
call (model, TensorFlow) and after the measured call, and its seconds.
Writes benchmarks/results/importance_sampling.{json,md}.
"""

import json
import os
import subprocess
import sys

import common

SAMPLES = (16, 250, 1000)

_CASE = '''
import json, resource, sys, time
import numpy as np, tensorflow as tf
from tfp_convexp import flows
k, chunk = int(sys.argv[1]), int(sys.argv[2])
model = flows.make_flow(
    (32, 32, 3), mixing='convexp', n_levels=2, n_subflows=2,
    densenet_depth=2, densenet_growth=16, n_intermediate_channels=32,
    dequantize_distribution='flow', n_context=8, dequantize_subflows=2)
x = tf.constant(np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)))
model.log_prob(x, seed=[1, 2])
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
before = rss()
start = time.time()
model.log_prob(x, seed=[1, 2], num_samples=k, samples_per_chunk=chunk)
print(json.dumps(dict(base_mib=before, peak_mib=rss(),
                      seconds=time.time() - start)))
'''


def main():
  rows = []
  for k in SAMPLES:
    for chunk, label in ((16, 'chunks of 16'), (k, 'one pass')):
      if label == 'one pass' and k == 16:
        continue  # the same computation as chunks of 16
      out = subprocess.run(
          [sys.executable, '-c', _CASE, str(k), str(chunk)], check=True,
          capture_output=True, text=True,
          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')).stdout
      row = dict(num_samples=k, mode=label,
                 **json.loads(out.strip().splitlines()[-1]))
      rows.append(row)
      print(f'K={k:5d} {label:13s} peak {row["peak_mib"]:7.0f} MiB (after '
            f'a K=1 call: {row["base_mib"]:.0f}), {row["seconds"]:.1f} s',
            flush=True)
  table = common.markdown_table(
      ['importance samples', 'mode', 'peak RSS MiB', 'after a K=1 call MiB',
       'seconds'],
      [(r['num_samples'], r['mode'], f'{r["peak_mib"]:.0f}',
        f'{r["base_mib"]:.0f}', f'{r["seconds"]:.1f}') for r in rows])
  common.write_results(
      os.path.join(os.path.dirname(__file__), 'results'),
      'importance_sampling', {'machine': common.machine(), 'rows': rows},
      '4 images of 32x32x3, variational dequantization, 2 levels x 2 steps '
      '(see the program\'s docstring); one run on the CPU.\n\n' + table + '\n')


if __name__ == '__main__':
  main()
