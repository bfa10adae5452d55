"""`python -m train.sample --workdir=W`: a picture of samples.

    python -m train.sample --workdir=W --num=64 --temperature=0.7 --seed=1
    python -m train.sample --workdir=W --num=50000 --npy=samples.npy

Samples are drawn `--batch_size` at a time (batch `i` from the seed
`[--seed, i]`), so memory does not grow with `--num`; with `--npy` each batch
is written as it comes. Image runs: a PNG grid of the first `MAX_GRID`
samples (`--npy`: int32 images). Graph runs: one sample of node features
for each of the first `--num` test graphs, drawn as the run's data set is
(feature histograms against the data, or particles and springs;
`--npy`: float32 `[num, N, F]`, zero on padded nodes).
"""

import math
import os
import time

from absl import flags
import numpy as np

from train import images as image_lib
from train import run_config
from train import tasks

flags.DEFINE_string('workdir', None, 'Work directory of a training run.',
                    required=True)
flags.DEFINE_string('checkpoint', None, 'Checkpoint path; default: latest.')
flags.DEFINE_integer('num', 64, 'Number of samples (graph runs: of test '
                     'graphs, one sample each).', lower_bound=1)
flags.DEFINE_integer('batch_size', 256, 'Samples drawn per call; memory '
                     'grows with it, not with --num.', lower_bound=1)
flags.DEFINE_float('temperature', 1., 'Standard deviation of the latent, '
                   '>= 0.')
flags.register_validator('temperature', lambda v: 0. <= v < math.inf,
                         '--temperature must be a finite number >= 0.')
flags.DEFINE_integer('seed', 0, 'Seed.', lower_bound=0)
flags.DEFINE_string('out', None, 'PNG path; default W/sample_T<temperature>_'
                    's<seed>.png.')
flags.DEFINE_string('npy', None, 'Also save the samples here (.npy).')
FLAGS = flags.FLAGS
MAX_GRID = 1024  # tiles in the PNG grid (1024 tiles of 48 px: 1,600 px wide)
PROGRESS_EVERY = 10.  # seconds between progress lines


def _npy_path(path):
  return path if path.endswith('.npy') else path + '.npy'  # as np.save


@run_config.exits_2_on_usage_errors
def main(argv):
  del argv
  if FLAGS.num > MAX_GRID and not FLAGS.npy:
    raise run_config.UsageError(
        f'--num={FLAGS.num} is more than the {MAX_GRID} samples a PNG grid '
        f'shows; pass --npy=PATH to write all of them (the grid shows the '
        f'first {MAX_GRID}).')
  with run_config.restored_run(FLAGS.workdir, FLAGS.checkpoint,
                              'python -m train.sample') as (
                                  config, model, step):
    task = tasks.of(config)
    split, dtype = None, np.int32
    if task.name == 'graphs':  # the samples' graphs
      split, dtype = task.load(config, 'test'), np.float32
      if FLAGS.num > len(split):
        raise run_config.UsageError(
            f'--num={FLAGS.num} exceeds the {len(split)} test graphs of '
            f'--dataset={config["dataset"]} (one sample per graph).')
    out = FLAGS.out or os.path.join(
        FLAGS.workdir, f'sample_T{FLAGS.temperature:g}_s{FLAGS.seed}.png')
    npy = _npy_path(FLAGS.npy) if FLAGS.npy else None
    try:
      written = (np.lib.format.open_memmap(
          npy + '.partial', mode='w+', dtype=dtype,
          shape=(FLAGS.num, *config[task.shape_key])) if npy else None)
      shown, start, said = [], time.time(), time.time()
      for first in range(0, FLAGS.num, FLAGS.batch_size):
        last = min(first + FLAGS.batch_size, FLAGS.num)
        batch = task.sample(
            model, None if split is None else split.rows(first, last),
            last - first,
            [FLAGS.seed, first // FLAGS.batch_size], FLAGS.temperature,
            first=first)
        if written is not None:
          written[first:first + len(batch)] = batch
        shown.append(batch[:max(0, MAX_GRID - first)])
        done = first + len(batch)
        if done < FLAGS.num and time.time() - said > PROGRESS_EVERY:
          said = time.time()
          print(f'  {done}/{FLAGS.num} samples, {said - start:.0f} s, about '
                f'{(said - start) / done * (FLAGS.num - done):.0f} s left',
                flush=True)
      image_lib.write_png(out, task.picture(config, np.concatenate(shown),
                                            split))
      if written is not None:
        written.flush()
        del written
        os.replace(npy + '.partial', npy)
    except OSError as e:
      raise run_config.UsageError(f'cannot write the samples: {e}') from e
    finally:
      if npy and os.path.exists(npy + '.partial'):
        os.remove(npy + '.partial')
  print(f'{FLAGS.num} samples of step {step} at temperature '
        f'{FLAGS.temperature:g}: {out}{f" and {npy}" if npy else ""}')


# `python -m train.sample`'s parser (tests call `main` in-process with it).
flags_parser = run_config.flags_parser(__doc__)

if __name__ == '__main__':
  run_config.run_program(main, flags_parser)
