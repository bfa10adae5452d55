"""Pictures of graph samples that a person can read, per graph data set.

Each takes the samples (`[G, N, F]` node features, one per graph) and the
split they were drawn for (the same graphs' features, adjacency and mask)
and returns an RGB `uint8` array.
"""

import numpy as np


def _pyplot():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def _rgb(figure):
  plt = _pyplot()
  figure.tight_layout()
  figure.canvas.draw()
  out = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
  plt.close(figure)
  return out


def feature_histograms(samples, split):
  """community_gmrf: for each feature, the histogram of the samples' values
  over the real nodes against that of the data on the same graphs."""
  plt = _pyplot()
  features, _, mask = split.arrays
  real = mask[:len(samples)] > 0
  data = features[:len(samples)][real]
  drawn = samples[real]
  count = data.shape[-1]
  figure, axes = plt.subplots(1, count, figsize=(2.4 * count, 2.4), dpi=80)
  for j, ax in enumerate(np.atleast_1d(axes)):
    finite = drawn[:, j][np.isfinite(drawn[:, j])]
    low, high = np.percentile(data[:, j], [0.5, 99.5])
    bins = np.linspace(low - 0.5, high + 0.5, 31)
    ax.hist(data[:, j], bins, density=True, alpha=0.5, label='data')
    ax.hist(np.clip(finite, bins[0], bins[-1]), bins, density=True,
            histtype='step', linewidth=1.5, label='samples')
    ax.set_title(f'feature {j}', fontsize=9)
    ax.tick_params(labelsize=7)
  np.atleast_1d(axes)[0].legend(fontsize=7)
  return _rgb(figure)


MAX_DRAWN = 8  # graphs drawn by `particles`


def particles(samples, split):
  """springs: the particles' positions (the first two features) with their
  springs, the data's graphs on the top row and samples for the same graphs
  below."""
  plt = _pyplot()
  features, adjacency, mask = (a[:MAX_DRAWN] for a in split.arrays)
  samples = samples[:MAX_DRAWN]
  cols = len(samples)
  figure, axes = plt.subplots(2, cols, figsize=(1.8 * cols, 3.8), dpi=80,
                              squeeze=False)
  for row, (label, positions) in enumerate((('data', features),
                                            ('sample', samples))):
    for g in range(cols):
      ax = axes[row, g]
      real = np.flatnonzero(mask[g] > 0)
      xy = positions[g][real, :2]
      for a, i in enumerate(real):
        for b in range(a + 1, len(real)):
          if adjacency[g, i, real[b]] > 0:
            ax.plot(xy[[a, b], 0], xy[[a, b], 1], color='0.6', linewidth=0.8)
      ax.scatter(xy[:, 0], xy[:, 1], s=12, zorder=3)
      ax.set_xticks([])
      ax.set_yticks([])
      ax.set_aspect('equal', adjustable='datalim')
      if g == 0:
        ax.set_ylabel(label, fontsize=9)
  return _rgb(figure)


PICTURES = {'community_gmrf': feature_histograms, 'springs': particles}
