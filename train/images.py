"""Sample grids as PNG files and TensorBoard images, and the training curve."""

import math

import numpy as np
import tensorflow as tf

MIN_TILE = 48  # small images are enlarged (nearest neighbour) to this size
GAP = 4        # pixels between tiles and around the grid
GAP_VALUE = 128  # a mid grey, apart from black backgrounds and white strokes


def grid(images, num_bins, columns=None):
  """`uint8 [rows * H' + gaps, cols * W' + gaps, C]` of integer images in
  `[0, num_bins)`, row by row (`columns` to a row; default about square),
  each enlarged to at least `MIN_TILE` pixels on its short side and
  separated from the others by `GAP` grey pixels."""
  images = np.asarray(images)
  n, h, w, c = images.shape
  cols = columns or int(math.ceil(math.sqrt(n)))
  rows = int(math.ceil(n / cols))
  scale = max(1, int(math.ceil(MIN_TILE / min(h, w))))
  th, tw = h * scale, w * scale
  scaled = np.round(images.astype(np.float64) * (255. / (num_bins - 1)))
  scaled = np.repeat(np.repeat(scaled.astype(np.uint8), scale, 1), scale, 2)
  canvas = np.full((rows * (th + GAP) + GAP, cols * (tw + GAP) + GAP, c),
                   GAP_VALUE, np.uint8)
  for i, image in enumerate(scaled):
    r, q = divmod(i, cols)
    top, left = GAP + r * (th + GAP), GAP + q * (tw + GAP)
    canvas[top:top + th, left:left + tw] = image
  return canvas


def write_png(path, canvas):
  """Writes atomically: a crash never leaves a partial PNG."""
  tmp = path + '.tmp'
  try:
    tf.io.write_file(tmp, tf.io.encode_png(canvas))
    tf.io.gfile.rename(tmp, path, overwrite=True)
  except BaseException:  # a full disk: no partial file is left behind
    if tf.io.gfile.exists(tmp):
      tf.io.gfile.remove(tmp)
    raise


def read_scalars(tb_dir, tags, log=print):
  """`{tag: sorted [(step, value)]}` from the TensorBoard event files in
  `tb_dir` (a resumed run's files included; the last value of a step wins).

  A file that ends in a damaged record (a process killed while writing it,
  a disk that filled up) gives what it holds before that record; `log` says
  which file and how many records were read.
  """
  found = {tag: {} for tag in tags}
  for name in sorted(tf.io.gfile.listdir(tb_dir)):
    if not name.startswith('events'):
      continue
    path = f'{tb_dir}/{name}'
    records = tf.compat.v1.train.summary_iterator(path)
    read = 0
    while True:
      try:
        event = next(records)
      except StopIteration:
        break
      except tf.errors.DataLossError as e:
        log(f'{path}: record {read + 1} is unreadable ({e.message.strip()}); '
            f'using the {read} records before it')
        break
      read += 1
      for value in event.summary.value:
        if value.tag in found:
          found[value.tag][event.step] = float(tf.make_ndarray(value.tensor))
  return {tag: sorted(points.items()) for tag, points in found.items()}


def metric_plot(tb_dir, path, metric, unit, reference=None, log=print):
  """Writes a PNG of the train and test `metric` (a TensorBoard tag's name
  under `train/` and `test/`) against step, with a horizontal `reference`
  line `(value, label)` if given (`log` as in `read_scalars`)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  tags = [f'train/{metric}', f'test/{metric}']
  curves = read_scalars(tb_dir, tags, log)
  figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
  for tag, style in zip(tags, ('-', 'o-')):
    if curves[tag]:
      steps, values = zip(*curves[tag])
      axes.plot(steps, values, style, label=tag.split('/')[0])
  if reference is not None:
    axes.axhline(reference[0], color='grey', linestyle=':',
                 label=reference[1])
  axes.set_xlabel('step')
  axes.set_ylabel(unit)
  axes.grid(alpha=0.3)
  axes.legend()
  figure.tight_layout()
  figure.savefig(path + '.tmp.png')
  plt.close(figure)
  tf.io.gfile.rename(path + '.tmp.png', path, overwrite=True)
