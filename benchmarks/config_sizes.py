"""Parameter counts of every named configuration at its own image size.

    python benchmarks/config_sizes.py

Writes benchmarks/results/configs.{json,md}.
"""

import os
import time

from tfp_convexp import flows

import common


def main():
  rows = []
  for name in sorted(flows.CONFIGS):
    config = flows.CONFIGS[name]
    start = time.time()
    count = flows.parameter_count(name)
    rows.append(dict(config=name, image_shape=list(config.image_shape),
                     parameters=count, paper=config.paper,
                     build_seconds=round(time.time() - start, 1)))
    print(f'{name:36s} {count:>12,d}  ({rows[-1]["build_seconds"]} s)',
          flush=True)
  table = ['| config | image | parameters | meant to reproduce |',
           '|---|---|---:|---|']
  for r in rows:
    table.append(f'| `{r["config"]}` | {"x".join(map(str, r["image_shape"]))} '
                 f'| {r["parameters"]:,d} | {r["paper"]} |')
  common.write_results(os.path.join(os.path.dirname(__file__), 'results'),
                       'configs', rows, '\n'.join(table) + '\n')


if __name__ == '__main__':
  main()
