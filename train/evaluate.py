"""`python -m train.evaluate --workdir=W`: test bits/dim of a trained model.

With variational dequantization the bound is importance-weighted over
`--num_samples` draws per image (the papers evaluate with 1000); with uniform
dequantization it is the bound of the same number of draws. Prints the
result and writes `W/eval.json`.
"""

import os
import time

from absl import flags
from tfp_convexp import data
from train import evaluation
from train import run_config
from train import workdir as workdir_lib

flags.DEFINE_string('workdir', None, 'Work directory of a training run.',
                    required=True)
flags.DEFINE_string('checkpoint', None, 'Checkpoint path; default: latest.')
flags.DEFINE_enum('split', 'test', ['train', 'test'], 'Split to evaluate.')
flags.DEFINE_integer('num_samples', 16, 'Importance samples per image.',
                     lower_bound=1)
flags.DEFINE_integer('batch_size', 64, 'Images per batch.', lower_bound=1)
flags.DEFINE_integer('seed', 0, 'Seed of the dequantization noise.',
                     lower_bound=0)
flags.DEFINE_boolean('jit_compile', True, 'XLA-compile the evaluation.')
FLAGS = flags.FLAGS


# Importance samples above which the time is estimated before the work:
# the first batch alone may take minutes.
ESTIMATE_ABOVE = 16


def _estimate(model, batch, num_images):
  """Prints how long the evaluation will take, from one batch with one
  importance sample (timed after compiling): the cost grows linearly with
  the number of samples."""
  one = evaluation.SplitBitsPerDim(model, 1, FLAGS.jit_compile)
  one(batch, len(batch), FLAGS.seed)  # compiles
  start = time.time()
  one(batch, len(batch), FLAGS.seed)
  per_pass = (time.time() - start) / len(batch)
  print(f'  about {per_pass * num_images * FLAGS.num_samples:.0f} s for '
        f'{num_images} images x {FLAGS.num_samples} samples (one sample of '
        f'{len(batch)} images took {per_pass * len(batch):.2f} s), plus '
        f'compiling', flush=True)


@run_config.exits_2_on_usage_errors
def main(argv):
  del argv
  with run_config.restored_run(FLAGS.workdir, FLAGS.checkpoint,
                              'python -m train.evaluate') as (
                                  config, model, step):
    try:
      images, _ = data.load_images(config['dataset'], FLAGS.split,
                                   config.get('data_dir'),
                                   config.get('image_folder'))
    except ValueError as e:
      raise run_config.UsageError(str(e)) from e
    if list(images.shape[1:]) != list(config['image_shape']):
      raise run_config.UsageError(
          f'the {FLAGS.split} split of --dataset={config["dataset"]} has '
          f'images of shape {list(images.shape[1:])}, but the run in '
          f'{FLAGS.workdir!r} models images of shape {config["image_shape"]} '
          f'({run_config.CONFIG_FILE}).')
    start = time.time()
    print(f'evaluating step {step} on {len(images)} {FLAGS.split} images with '
          f'{FLAGS.num_samples} importance samples each ...', flush=True)
    if FLAGS.num_samples > ESTIMATE_ABOVE:
      _estimate(model, images[:FLAGS.batch_size], len(images))

    first = []  # (images, time) after the first batch, which compiles

    def progress(done, total):
      now = time.time()
      if not first:
        first.append((done, now))
        print(f'  {done}/{total} images, {now - start:.0f} s (with compiling)',
              flush=True)
        return
      per_image = (now - first[0][1]) / (done - first[0][0])
      print(f'  {done}/{total} images, {now - start:.0f} s, about '
            f'{per_image * (total - done):.0f} s left', flush=True)

    mean, stderr = evaluation.SplitBitsPerDim(
        model, FLAGS.num_samples, FLAGS.jit_compile)(
            images, FLAGS.batch_size, FLAGS.seed, progress=progress)
    result = dict(step=step, split=FLAGS.split, num_images=len(images),
                  num_samples=FLAGS.num_samples, bits_per_dim=mean,
                  standard_error=stderr,
                  seconds=round(time.time() - start, 1))
    # The result first: a failing write must not lose minutes of work.
    print(f'{FLAGS.split} bits/dim at step {step}: {mean:.4f} +- '
          f'{stderr:.4f} ({len(images)} images, {FLAGS.num_samples} '
          f'importance samples)', flush=True)
    path = os.path.join(FLAGS.workdir, 'eval.json')
    try:
      workdir_lib.write_json(path, result)
    except OSError as e:
      raise run_config.UsageError(f'cannot write {path!r} ({e.strerror}); '
                                  f'the result is printed above.') from e


# `python -m train.evaluate`'s parser (tests call `main` in-process with it).
flags_parser = run_config.flags_parser(__doc__)

if __name__ == '__main__':
  run_config.run_program(main, flags_parser)
