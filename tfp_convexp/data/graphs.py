"""Offline graph data sets, generated from a fixed seed (no download).

Every set is a dict of NumPy arrays, graphs padded to `N` nodes:
`features` `[G, N, F]` float32 (zero on padded nodes), `adjacency`
`[G, N, N]` float32 (0/1, symmetric, no self-loops), `node_mask` `[G, N]`
float32 (1 for real nodes). Train and test come from different seeds of
the same generator, so they are independent draws.

* `community_gmrf`: features whose density given the graph is known in
  closed form (`log_density`, float64), so a model's test NLL can be set
  against the data's own, the limit no model beats in expectation.
* `springs`: positions and velocities of particles joined by random
  springs (the "springs" simulation of Kipf et al., 2018), a physical
  system whose state follows the graph; its density is not known.

`VERSION` names the generators; a change to any number below changes it.
"""

import math

import numpy as np

__all__ = ['GRAPH_SETS', 'VERSION', 'community_gmrf', 'graph_shape', 'springs',
           'load']

VERSION = 1
# Split seeds: a set's train and test graphs are independent.
_SEEDS = {'train': 0, 'test': 1}

# community_gmrf: two random blocks, edges inside with P_IN, across with
# P_OUT; precision PRECISION_SHIFT * I + L per feature column; fixed feature
# mixing C; warp g(t) = t + WARP * tanh(WARP_RATE * t), elementwise.
GMRF = dict(min_nodes=10, max_nodes=20, num_features=4, p_in=0.7, p_out=0.05,
            precision_shift=0.5, warp=1.0, warp_rate=2.0)
# springs (Kipf et al.'s generator): spring constant, box half-width,
# initial position spread and speed, step size, steps.
SPRINGS = dict(min_nodes=5, max_nodes=10, edge_probability=0.5,
               interaction_strength=0.1, box_size=5., loc_std=0.5,
               vel_norm=0.5, delta_t=0.001, steps=2000)


def _warp(t):
  return t + GMRF['warp'] * np.tanh(GMRF['warp_rate'] * t)


def _log_warp_slope(t):
  k = GMRF['warp_rate']
  return np.log1p(GMRF['warp'] * k / np.cosh(k * t)**2)


def _mixing_matrix(num_features):
  # Fixed by VERSION, not by the split seed: both splits share it.
  rng = np.random.default_rng(12345)
  q, _ = np.linalg.qr(rng.standard_normal((num_features, num_features)))
  return q @ np.diag(np.linspace(0.6, 1.4, num_features))


def _random_graph(rng, n, blocks, p_in, p_out):
  same = blocks[:, None] == blocks[None, :]
  upper = np.triu(rng.uniform(size=(n, n)) < np.where(same, p_in, p_out), 1)
  return (upper | upper.T).astype(np.float64)


def community_gmrf(num_graphs, seed):
  """Community graphs with Gaussian-Markov-random-field features.

  Each graph has 10 to 20 nodes in two blocks of (nearly) equal size. Its
  `F = 4` feature columns are independent draws of `N(0, (a I + L)^-1)`
  (`L` the graph Laplacian, `a = 0.5`), so features of neighbours are
  correlated; each node's feature vector is then mixed by a fixed matrix `C`
  and warped elementwise by the invertible `g(t) = t + tanh(2 t)`. The exact
  `log p(X | A)` (nats) is in `log_density`:

  ```none
  sum over columns of log N(x_col; 0, (a I + L)^-1)
    - n log|det C| - sum over nodes and features of log g'(h)
  ```
  """
  p = GMRF
  rng = np.random.default_rng([VERSION, 0, seed])
  n_max, f = p['max_nodes'], p['num_features']
  c = _mixing_matrix(f)
  log_det_c = np.linalg.slogdet(c)[1]
  out = _empty(num_graphs, n_max, f)
  log_density = np.zeros(num_graphs)
  for g in range(num_graphs):
    n = int(rng.integers(p['min_nodes'], p['max_nodes'] + 1))
    blocks = (np.arange(n) >= n // 2).astype(int)
    a = _random_graph(rng, n, blocks, p['p_in'], p['p_out'])
    precision = p['precision_shift'] * np.eye(n) + np.diag(a.sum(1)) - a
    lower = np.linalg.cholesky(precision)  # precision = lower lower^T
    x = np.linalg.solve(lower.T, rng.standard_normal((n, f)))  # cov Q^-1
    h = x @ c.T
    out['features'][g, :n] = _warp(h)
    out['adjacency'][g, :n, :n] = a
    out['node_mask'][g, :n] = 1.
    log_normal = (f * np.sum(np.log(np.diag(lower)))  # 0.5 f log det Q
                  - 0.5 * np.sum(x * (precision @ x))
                  - 0.5 * n * f * math.log(2. * math.pi))
    log_density[g] = (log_normal - n * log_det_c
                      - np.sum(_log_warp_slope(h)))
  out['log_density'] = log_density
  return out


def springs(num_graphs, seed):
  """Particles joined by random springs, after a fixed simulation time.

  5 to 10 particles in a box `[-5, 5]^2` with elastic walls; each pair is
  joined by a spring with probability 1/2 (Hooke's law, constant 0.1);
  positions start `N(0, 0.5^2)`, velocities random with speed 0.5; 2000
  leapfrog steps of 0.001 (Kipf et al.'s integrator and constants). The
  node features are the final `[x, y, v_x, v_y]`.
  """
  p = SPRINGS
  rng = np.random.default_rng([VERSION, 1, seed])
  n_max = p['max_nodes']
  out = _empty(num_graphs, n_max, 4)
  sizes = rng.integers(p['min_nodes'], p['max_nodes'] + 1, num_graphs)
  mask = (np.arange(n_max)[None, :] < sizes[:, None]).astype(np.float64)
  adjacency = np.stack([
      _random_graph(rng, n_max, np.zeros(n_max, int), p['edge_probability'],
                    0.) for _ in range(num_graphs)])
  adjacency *= mask[:, :, None] * mask[:, None, :]
  loc = rng.standard_normal((num_graphs, n_max, 2)) * p['loc_std']
  vel = rng.standard_normal((num_graphs, n_max, 2))
  vel *= p['vel_norm'] / np.linalg.norm(vel, axis=-1, keepdims=True)
  loc, vel = loc * mask[..., None], vel * mask[..., None]
  k, dt, box = p['interaction_strength'], p['delta_t'], p['box_size']

  def force(x):
    # -k sum_j A_ij (x_i - x_j)
    return -k * (adjacency.sum(-1)[..., None] * x - adjacency @ x)

  f = force(loc)  # each step's last kick is the next step's first
  for _ in range(p['steps']):
    vel = vel + 0.5 * dt * f
    loc = loc + dt * vel
    over, under = loc > box, loc < -box
    loc = np.where(over, 2 * box - loc, np.where(under, -2 * box - loc, loc))
    vel = np.where(over | under, -vel, vel)
    f = force(loc)
    vel = vel + 0.5 * dt * f
  out['features'][:] = np.concatenate([loc, vel], -1) * mask[..., None]
  out['adjacency'][:] = adjacency
  out['node_mask'][:] = mask
  return out


def _empty(num_graphs, n, f):
  return dict(features=np.zeros((num_graphs, n, f), np.float32),
              adjacency=np.zeros((num_graphs, n, n), np.float32),
              node_mask=np.zeros((num_graphs, n), np.float32))


# name -> (generator, train size, test size)
GRAPH_SETS = {
    'community_gmrf': (community_gmrf, 2000, 500),
    'springs': (springs, 2000, 500),
}


def graph_shape(name):
  """`(N, F)`: the padded node count and the features of the set `name`."""
  _check(name)
  return {'community_gmrf': (GMRF['max_nodes'], GMRF['num_features']),
          'springs': (SPRINGS['max_nodes'], 4)}[name]


def _check(name):
  if name not in GRAPH_SETS:
    raise ValueError(f'graph data: `name` must be one of {tuple(GRAPH_SETS)}; '
                     f'got {name!r}.')


def load(name, split):
  """The `split` ('train' or 'test') of the set `name` in `GRAPH_SETS`."""
  _check(name)
  if split not in _SEEDS:
    raise ValueError(f'graph data: `split` must be one of {tuple(_SEEDS)}; '
                     f'got {split!r}.')
  generate, train_size, test_size = GRAPH_SETS[name]
  size = train_size if split == 'train' else test_size
  return generate(size, _SEEDS[split])
