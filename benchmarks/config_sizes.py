"""Parameter counts of every named configuration at its own image size.

    python benchmarks/config_sizes.py

Writes benchmarks/results/configs.{json,md}: each count beside the
reference code's count of the same run (`reference_parameters`, measured by
benchmarks/reference_counts.py), where there is one.
"""

import os
import time

import common
from tfp_convexp import flows


def main():
  rows = []
  for name in sorted(flows.CONFIGS):
    config = flows.CONFIGS[name]
    start = time.time()
    count = flows.parameter_count(name)
    reference = config.reference_parameters
    rows.append(dict(config=name, event_shape=list(config.event_shape),
                     parameters=count, reference_parameters=reference,
                     difference_percent=(
                         None if reference is None else
                         round(100. * (count - reference) / reference, 4)),
                     paper=config.paper,
                     build_seconds=round(time.time() - start, 1)))
    print(f'{name:36s} {count:>12,d} {reference or 0:>12,d}  '
          f'({rows[-1]["build_seconds"]} s)', flush=True)
  table = ['| config | event | parameters | reference code | difference | '
           'meant to reproduce |', '|---|---|---:|---:|---:|---|']
  for r in rows:
    reference = ('—' if r['reference_parameters'] is None else
                 f'{r["reference_parameters"]:,d}')
    difference = ('—' if r['difference_percent'] is None else
                  f'{r["difference_percent"]:+.4f}%')
    table.append(f'| `{r["config"]}` | {"x".join(map(str, r["event_shape"]))} '
                 f'| {r["parameters"]:,d} | {reference} | {difference} '
                 f'| {r["paper"]} |')
  common.write_results(os.path.join(os.path.dirname(__file__), 'results'),
                       'configs', rows, '\n'.join(table) + '\n')


if __name__ == '__main__':
  main()
