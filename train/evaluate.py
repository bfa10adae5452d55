"""`python -m train.evaluate --workdir=W`: the test metric of a trained model.

Image runs: bits/dim. With variational dequantization the bound is
importance-weighted over `--num_samples` draws per image (the papers
evaluate with 1000); with uniform dequantization it is the bound of the same
number of draws. Graph runs: nats per node, exact (`--num_samples` is not
read), beside the data's true value where it is known. Prints the result and
writes `W/eval.json`.
"""

import os
import time

from absl import flags
from train import evaluation
from train import run_config
from train import tasks
from train import workdir as workdir_lib

flags.DEFINE_string('workdir', None, 'Work directory of a training run.',
                    required=True)
flags.DEFINE_string('checkpoint', None, 'Checkpoint path (W/best/ckpt-N: the '
                    'best-validation model); default: the latest.')
flags.DEFINE_enum('split', 'test', ['train', 'validation', 'test'],
                  'Split to evaluate (train: without the examples the run '
                  'held out for validation).')
flags.DEFINE_integer('num_samples', 16, 'Importance samples per image (image '
                     'runs).', lower_bound=1)
flags.DEFINE_integer('batch_size', 64, 'Examples per batch.', lower_bound=1)
flags.DEFINE_integer('seed', 0, 'Seed of the dequantization noise.',
                     lower_bound=0)
flags.DEFINE_boolean('jit_compile', True, 'XLA-compile the evaluation.')
FLAGS = flags.FLAGS


# Importance samples above which the time is estimated before the work:
# the first batch alone may take minutes.
ESTIMATE_ABOVE = 16


def _estimate(task, model, batch, num_images):
  """Prints how long the evaluation will take, from one batch with one
  importance sample (timed after compiling): the cost grows linearly with
  the number of samples."""
  one = evaluation.SplitMean(task.evaluation(model, 1), FLAGS.jit_compile)
  one(batch, len(batch[0]), FLAGS.seed)  # compiles
  start = time.time()
  one(batch, len(batch[0]), FLAGS.seed)
  per_pass = (time.time() - start) / len(batch[0])
  print(f'  about {per_pass * num_images * FLAGS.num_samples:.0f} s for '
        f'{num_images} images x {FLAGS.num_samples} samples (one sample of '
        f'{len(batch[0])} images took {per_pass * len(batch[0]):.2f} s), '
        f'plus compiling', flush=True)


@run_config.exits_2_on_usage_errors
def main(argv):
  del argv
  with run_config.restored_run(FLAGS.workdir, FLAGS.checkpoint,
                              'python -m train.evaluate') as (
                                  config, model, step):
    task = tasks.of(config)
    try:
      split = tasks.load_split(task, config, FLAGS.split)
    except ValueError as e:
      raise run_config.UsageError(str(e)) from e
    expected = list(config[task.shape_key])
    if split.shape != expected:
      raise run_config.UsageError(
          f'the {FLAGS.split} split of --dataset={config["dataset"]} has '
          f'{task.examples} of shape {split.shape}, but the run in '
          f'{FLAGS.workdir!r} models {task.examples} of shape {expected} '
          f'({run_config.CONFIG_FILE}).')
    sampled = task.importance_sampled
    num_samples = FLAGS.num_samples if sampled else None
    examples = f'{len(split)} {FLAGS.split} {task.examples}'
    start = time.time()
    print(f'evaluating step {step} on {examples}'
          f'{f" with {num_samples} importance samples each" if sampled else ""}'
          f' ...', flush=True)
    if sampled and num_samples > ESTIMATE_ABOVE:
      _estimate(task, model, tuple(a[:FLAGS.batch_size] for a in split.arrays),
                len(split))

    first = []  # (examples, time) after the first batch, which compiles

    def progress(done, total):
      now = time.time()
      if not first:
        first.append((done, now))
        print(f'  {done}/{total} {task.examples}, {now - start:.0f} s (with '
              f'compiling)', flush=True)
        return
      per_example = (now - first[0][1]) / (done - first[0][0])
      print(f'  {done}/{total} {task.examples}, {now - start:.0f} s, about '
            f'{per_example * (total - done):.0f} s left', flush=True)

    mean, stderr = evaluation.SplitMean(
        task.evaluation(model, num_samples), FLAGS.jit_compile)(
            split.arrays, FLAGS.batch_size, FLAGS.seed, progress=progress)
    result = {'step': step, 'split': FLAGS.split,
              f'num_{task.examples}': len(split), 'num_samples': num_samples,
              task.metric: mean, 'standard_error': stderr,
              'seconds': round(time.time() - start, 1)}
    accuracy = ''
    if config['model'].get('num_classes'):
      correct, stderr_correct = evaluation.SplitMean(
          task.classification(model, num_samples), FLAGS.jit_compile)(
              split.arrays, FLAGS.batch_size, FLAGS.seed)
      result.update(bayes_classifier_accuracy=correct,
                    bayes_classifier_standard_error=stderr_correct)
      accuracy = (f'\n{FLAGS.split} accuracy of the Bayes classifier argmax_y '
                  f'P(x | y) at step {step}: {correct:.4f} +- '
                  f'{stderr_correct:.4f}')
    truth = ''
    if split.truth is not None:
      result[f'true_{task.metric}'] = float(split.truth.mean())
      truth = f'; the data\'s true value {split.truth.mean():.4f}'
    # The result first: a failing write must not lose minutes of work.
    print(f'{FLAGS.split} {task.unit} at step {step}: {mean:.4f} +- '
          f'{stderr:.4f} ({examples}'
          f'{f", {num_samples} importance samples" if sampled else ""}'
          f'{truth}){accuracy}', flush=True)
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
