"""`python -m train.evaluate --workdir=W`: test bits/dim of a trained model.

With variational dequantization the bound is importance-weighted over
`--num_samples` draws per image (the papers evaluate with 1000); with uniform
dequantization it is the bound of the same number of draws. Prints the
result and writes `W/eval.json`.
"""

import json
import os
import sys
import time

from absl import app
from absl import flags
from tfp_convexp import data
from train import evaluation
from train import run_config

flags.DEFINE_string('workdir', None, 'Work directory of a training run.')
flags.DEFINE_string('checkpoint', None, 'Checkpoint path; default: latest.')
flags.DEFINE_enum('split', 'test', ['train', 'test'], 'Split to evaluate.')
flags.DEFINE_integer('num_samples', 16, 'Importance samples per image.')
flags.DEFINE_integer('batch_size', 64, 'Images per batch.')
flags.DEFINE_integer('seed', 0, 'Seed of the dequantization noise.')
flags.DEFINE_boolean('jit_compile', True, 'XLA-compile the evaluation.')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  try:
    if not FLAGS.workdir:
      raise run_config.UsageError('--workdir is required.')
    if FLAGS.num_samples < 1 or FLAGS.batch_size < 1:
      raise run_config.UsageError('--num_samples and --batch_size must be '
                                  '>= 1.')
    config, model, step = run_config.restore(FLAGS.workdir, FLAGS.checkpoint)
    images, _ = data.load_images(config['dataset'], FLAGS.split,
                                 config.get('data_dir'),
                                 config.get('image_folder'))
  except (run_config.UsageError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  start = time.time()
  mean, stderr = evaluation.SplitBitsPerDim(
      model, FLAGS.num_samples, FLAGS.jit_compile)(images, FLAGS.batch_size,
                                                    FLAGS.seed)
  result = dict(step=step, split=FLAGS.split, num_images=len(images),
                num_samples=FLAGS.num_samples, bits_per_dim=mean,
                standard_error=stderr, seconds=round(time.time() - start, 1))
  with open(os.path.join(FLAGS.workdir, 'eval.json'), 'w') as f:
    json.dump(result, f, indent=1)
  print(f'{FLAGS.split} bits/dim at step {step}: {mean:.4f} +- {stderr:.4f} '
        f'({len(images)} images, {FLAGS.num_samples} importance samples)')


if __name__ == '__main__':
  app.run(main, flags_parser=run_config.parse_flags)
