"""`python -m train.sample --workdir=W`: a PNG grid of samples.

    python -m train.sample --workdir=W --num=64 --temperature=0.7 --seed=1
"""

import os
import sys

from absl import app
from absl import flags
import numpy as np

from train import images as image_lib
from train import run_config

flags.DEFINE_string('workdir', None, 'Work directory of a training run.')
flags.DEFINE_string('checkpoint', None, 'Checkpoint path; default: latest.')
flags.DEFINE_integer('num', 64, 'Number of samples.')
flags.DEFINE_float('temperature', 1., 'Standard deviation of the latent.')
flags.DEFINE_integer('seed', 0, 'Seed.')
flags.DEFINE_string('out', None, 'PNG path; default W/sample_T<temperature>_'
                    's<seed>.png.')
flags.DEFINE_string('npy', None, 'Also save the integer images here (.npy).')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  try:
    if not FLAGS.workdir:
      raise run_config.UsageError('--workdir is required.')
    if FLAGS.num < 1 or FLAGS.temperature < 0:
      raise run_config.UsageError('--num must be >= 1 and --temperature >= 0.')
    config, model, step = run_config.restore(FLAGS.workdir, FLAGS.checkpoint)
  except run_config.UsageError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  samples = model.sample(FLAGS.num, seed=[FLAGS.seed, 0],
                         temperature=FLAGS.temperature).numpy()
  out = FLAGS.out or os.path.join(
      FLAGS.workdir, f'sample_T{FLAGS.temperature:g}_s{FLAGS.seed}.png')
  image_lib.write_png(out, image_lib.grid(samples, config['model']['num_bins']))
  if FLAGS.npy:
    np.save(FLAGS.npy, samples)
  print(f'{FLAGS.num} samples of step {step} at temperature '
        f'{FLAGS.temperature:g}: {out}')


if __name__ == '__main__':
  app.run(main, flags_parser=run_config.parse_flags)
