"""The training data at the papers' scale: start-up time and peak memory
against the set's size, and the input pipeline's throughput against the
training step's demand.

    python benchmarks/data_bench.py            # 50k and 500k images, ~25 min

It builds local tensorflow-datasets sets of 64x64x3 PNG images (each an
8x8 random tile repeated, so that 500k images take about 1 GB) under
`--data_dir`, once, then:

  * start-up: a fresh process per (size, reader) loads the training split
    as `python -m train` does (`data.sources.tfds_images`, read by index
    from the ArrayRecord files), makes the first batch of the training
    pipeline (with `--augment=flip_translate` and uniform noise) and runs
    one training step of a small flow on it; it reports the seconds from
    the process's start and its peak RSS. `in_memory` is the reader before
    records.py: every image decoded into one array (`np.stack`; here from
    the same ArrayRecord files, through tfds' data source).
  * throughput: images/s of the training pipeline alone (augmented, with
    noise, batches of 64; the median of three timings) at 32x32 and 64x64, against the images/s of the
    training step of the study's smallest mixing model (1x1, plain coupling
    nets of width 64, 2 levels of 4 steps) at the same batch.
"""

import json
import os
import resource
import subprocess
import sys
import time

from absl import app
from absl import flags

from checkout import ROOT

import numpy as np  # pylint: disable=g-import-not-at-top
import psutil  # pylint: disable=g-import-not-at-top
import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

flags.DEFINE_list('sizes', ['50000', '500000'], 'Training images per set.')
flags.DEFINE_string('data_dir', '/tmp/tfp_convexp_data_bench',
                    'Where the sets are built (kept for later runs).')
flags.DEFINE_string('out', os.path.join(ROOT, 'benchmarks', 'results'),
                    'Where data.json and data.md are written.')
flags.DEFINE_integer('batch_size', 64, 'Images per batch.', lower_bound=1)
flags.DEFINE_integer('throughput_batches', 50, 'Timed batches (three '
                     'times; the median rate is reported).',
                     lower_bound=1)
flags.DEFINE_integer('repeats', 3, 'Start-ups per size of the streamed '
                     'reader (the median is reported).', lower_bound=1)
flags.DEFINE_enum('child', None, ['streamed', 'in_memory'],
                  'Internal: measure one start-up in this process.')
flags.DEFINE_integer('size', 0, 'Internal: the set of --child.')
FLAGS = flags.FLAGS

TEST_IMAGES = 1000
_TILES = 256  # distinct images, repeated through the set


def _pngs(size):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  tiles = rng.integers(0, 256, (_TILES, 8, 8, 3), np.uint8)
  return [tf.io.encode_png(np.tile(t, (size // 8, size // 8, 1))).numpy()
          for t in tiles]


class BenchImages(tfds.core.GeneratorBasedBuilder):
  """`IMAGES` training images of `SIZE`x`SIZE`x3 and 1,000 test images."""
  VERSION = tfds.core.Version('1.0.0')
  IMAGES = 0  # set before preparing
  SIZE = 64

  def _info(self):
    return tfds.core.DatasetInfo(
        builder=self, features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(self.SIZE, self.SIZE, 3))}))

  def _split_generators(self, dl_manager):
    del dl_manager
    pngs = _pngs(self.SIZE)
    return {'train': self._generate_examples(pngs, 0, self.IMAGES),
            'test': self._generate_examples(pngs, self.IMAGES, TEST_IMAGES)}

  def _generate_examples(self, pngs, start, count):  # pylint: disable=arguments-differ
    for i in range(start, start + count):
      yield i, {'image': pngs[i % len(pngs)]}


def _set_dir(images, size=64):
  return os.path.join(FLAGS.data_dir, f'{images}x{size}')


def _build(images, size=64):
  BenchImages.IMAGES, BenchImages.SIZE = images, size
  builder = BenchImages(data_dir=_set_dir(images, size),
                        file_format='array_record')
  if not builder.is_prepared():
    start = time.time()
    print(f'building {images} images of {size}x{size} in {builder.data_dir}',
          flush=True)
    builder.download_and_prepare()
    print(f'  built in {time.time() - start:.0f} s', flush=True)
  return builder


def _small_flow(size):
  from tfp_convexp import flows  # pylint: disable=g-import-not-at-top
  return flows.make_flow((size, size, 3), num_bins=256, n_levels=2,
                         n_subflows=4, mixing='1x1', coupling_net='plain',
                         n_intermediate_channels=64,
                         dequantize_distribution='uniform')


def _child(reader, images):
  """One start-up: load, first batch, one step; prints a JSON line."""
  import functools  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tfp_convexp import data  # pylint: disable=g-import-not-at-top
  from train import input_pipeline  # pylint: disable=g-import-not-at-top
  from train import step as step_lib  # pylint: disable=g-import-not-at-top
  from train import tasks  # pylint: disable=g-import-not-at-top
  started = psutil.Process().create_time()
  BenchImages.IMAGES = images
  load_start = time.time()
  if reader == 'streamed':  # what `python -m train` does
    train = data.sources.tfds_images('bench_images', 'train',
                                     _set_dir(images))
  else:  # every image decoded into one array, as before records.py
    source = BenchImages(data_dir=_set_dir(images)).as_data_source('train')
    train = np.stack([e['image'] for i in range(0, len(source), 1000)
                      for e in source.__getitems__(
                          range(i, min(i + 1000, len(source))))])
  loaded = time.time() - load_start
  model = _small_flow(64)
  task = tasks.TASKS['images']
  batch = next(iter(input_pipeline.training_batches(
      (train,), FLAGS.batch_size, 0, 0, 'uniform',
      augmentation='flip_translate')))
  task.initialise(model, batch)
  optimizer = keras.optimizers.Adamax(1e-3)
  optimizer.build(model.trainable_variables)
  train_step = step_lib.make_train_step(
      functools.partial(task.loss, model), model.trainable_variables,
      optimizer, tf.distribute.get_strategy(), FLAGS.batch_size, 0., 2,
      jit=False)
  loss, _, applied = train_step(batch, tf.constant(0, tf.int64),
                                tf.constant(False))
  assert bool(applied), float(loss)
  print(json.dumps(dict(
      reader=reader, images=images, load_s=round(loaded, 2),
      first_step_s=round(time.time() - started, 2),
      peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss /
                        1024.))), flush=True)


def _start_up(reader, images):
  proc = subprocess.run(
      [sys.executable, os.path.abspath(__file__), f'--child={reader}',
       f'--size={images}', f'--data_dir={FLAGS.data_dir}',
       f'--batch_size={FLAGS.batch_size}'],
      capture_output=True, text=True, check=False,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=ROOT))
  if proc.returncode:
    raise RuntimeError(f'{reader} {images}: {proc.stderr[-2000:]}')
  return json.loads(proc.stdout.strip().splitlines()[-1])


def _throughput(size, images):
  """`(pipeline images/s, training step images/s)` at `size`x`size`."""
  import common  # pylint: disable=g-import-not-at-top
  from tfp_convexp import data  # pylint: disable=g-import-not-at-top
  from train import input_pipeline  # pylint: disable=g-import-not-at-top
  _build(images, size)
  BenchImages.SIZE = size
  train = data.sources.tfds_images('bench_images', 'train',
                                   _set_dir(images, size))
  batches = iter(input_pipeline.training_batches(
      (train,), FLAGS.batch_size, 0, 0, 'uniform',
      augmentation='flip_translate'))
  for _ in range(10):  # tf.data's autotuning settles
    next(batches)
  rates = []
  for _ in range(3):
    start = time.perf_counter()
    for _ in range(FLAGS.throughput_batches):
      next(batches)
    rates.append(FLAGS.throughput_batches * FLAGS.batch_size / (
        time.perf_counter() - start))
  pipeline = sorted(rates)[1]  # the median of three
  kwargs = dict(num_bins=256, n_levels=2, n_subflows=4, mixing='1x1',
                coupling_net='plain', n_intermediate_channels=64,
                dequantize_distribution='uniform')
  step_ms, _ = common.step_time_ms((size, size, 3), kwargs, False, 10,
                                   FLAGS.batch_size)
  return pipeline, FLAGS.batch_size / (step_ms / 1e3)


def _median(starts, reader, images):
  """The start-up of median time among the repeats of (reader, images)."""
  runs = sorted((s for s in starts
                 if (s['reader'], s['images']) == (reader, images)),
                key=lambda s: s['first_step_s'])
  return dict(runs[len(runs) // 2], repeats=len(runs),
              first_step_s_all=[s['first_step_s'] for s in runs])


def main(argv):
  del argv
  if FLAGS.child:
    _child(FLAGS.child, FLAGS.size)
    return
  import common  # pylint: disable=g-import-not-at-top
  sizes = [int(s) for s in FLAGS.sizes]
  for images in sizes:
    _build(images)
  starts = []
  # The sizes alternate within each round, so a drift of the machine falls
  # on all of them; the in-memory reader (minutes at 500k) runs once.
  for round_ in range(FLAGS.repeats):
    for images in sizes:
      for reader in ('streamed', 'in_memory')[:1 if round_ else 2]:
        print(f'start-up: {reader}, {images} images', flush=True)
        starts.append(_start_up(reader, images))
        print(f'  {starts[-1]}', flush=True)
  starts = [_median(starts, reader, images) for images in sizes
            for reader in ('streamed', 'in_memory')]
  flows = []
  for size in (32, 64):
    pipeline, step = _throughput(size, sizes[0])
    flows.append(dict(size=size, pipeline_images_per_s=round(pipeline),
                      step_images_per_s=round(step, 1),
                      ratio=round(pipeline / step, 1)))
    print(f'  {flows[-1]}', flush=True)
  rows = [(s['reader'], f'{s["images"]:,}', s['load_s'],
           f'{s["first_step_s"]} (of {s["first_step_s_all"]})',
           f'{s["peak_rss_mb"]:,.0f}') for s in starts]
  markdown = '\n\n'.join([
      '# Training data at the papers\' scale (`benchmarks/data_bench.py`)',
      f'Local tensorflow-datasets sets of 64x64x3 PNG images; batch '
      f'{FLAGS.batch_size}; `flip_translate` and uniform noise. One run, '
      f'{common.machine()["time"]}, {os.cpu_count()} cores.',
      '## Start-up: a fresh process to its first training step',
      common.markdown_table(
          ['reader', 'training images', 'load (s)',
           'first step (s): median (of all)', 'peak RSS (MB)'], rows),
      '## Input throughput alone against the training step',
      common.markdown_table(
          ['image', 'pipeline images/s', 'step images/s (1x1 model)',
           'ratio'],
          [(f'{f["size"]}x{f["size"]}', f['pipeline_images_per_s'],
            f['step_images_per_s'], f['ratio']) for f in flows]),
  ]) + '\n'
  common.write_results(FLAGS.out, 'data', dict(
      machine=common.machine(), batch_size=FLAGS.batch_size,
      start_up=starts, throughput=flows), markdown)
  print(markdown)


if __name__ == '__main__':
  app.run(main)
