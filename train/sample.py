"""`python -m train.sample --workdir=W`: a PNG grid of samples.

    python -m train.sample --workdir=W --num=64 --temperature=0.7 --seed=1
"""

import math
import os

from absl import flags
import numpy as np

from train import images as image_lib
from train import run_config

flags.DEFINE_string('workdir', None, 'Work directory of a training run.',
                    required=True)
flags.DEFINE_string('checkpoint', None, 'Checkpoint path; default: latest.')
flags.DEFINE_integer('num', 64, 'Number of samples.', lower_bound=1)
flags.DEFINE_float('temperature', 1., 'Standard deviation of the latent, '
                   '>= 0.')
flags.register_validator('temperature', lambda v: 0. <= v < math.inf,
                         '--temperature must be a finite number >= 0.')
flags.DEFINE_integer('seed', 0, 'Seed.', lower_bound=0)
flags.DEFINE_string('out', None, 'PNG path; default W/sample_T<temperature>_'
                    's<seed>.png.')
flags.DEFINE_string('npy', None, 'Also save the integer images here (.npy).')
FLAGS = flags.FLAGS


@run_config.exits_2_on_usage_errors
def main(argv):
  del argv
  with run_config.restored_run(FLAGS.workdir, FLAGS.checkpoint,
                              'python -m train.sample') as (
                                  config, model, step):
    samples = model.sample(FLAGS.num, seed=[FLAGS.seed, 0],
                           temperature=FLAGS.temperature).numpy()
    out = FLAGS.out or os.path.join(
        FLAGS.workdir, f'sample_T{FLAGS.temperature:g}_s{FLAGS.seed}.png')
    try:
      image_lib.write_png(out, image_lib.grid(samples,
                                              config['model']['num_bins']))
      if FLAGS.npy:
        np.save(FLAGS.npy, samples)
    except OSError as e:
      raise run_config.UsageError(f'cannot write the samples: {e}') from e
  print(f'{FLAGS.num} samples of step {step} at temperature '
        f'{FLAGS.temperature:g}: {out}')


# `python -m train.sample`'s parser (tests call `main` in-process with it).
flags_parser = run_config.flags_parser(__doc__)

if __name__ == '__main__':
  run_config.run_program(main, flags_parser)
