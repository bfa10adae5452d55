"""Certified truncation of the exponential power series."""

import math

import tensorflow as tf

__all__ = ['exp_series_tail_bound', 'exp_series_terms',
           'exp_series_until_certified', 'exp_series_matrix']


def exp_series_tail_bound(norm_bound, terms):
  """Upper bound on `||exp(M) - sum_{k<=terms} M^k / k!||` for `||M|| <= b`.

  The tail `sum_{k>T} b^k / k!` is at most `b^(T+1) / (T+1)! * e^b`, because
  `(T+1)! / (T+1+j)! <= 1 / j!` for every `j >= 0`.

  Args:
    norm_bound: Python float `b >= 0`, an upper bound on the operator norm.
    terms: Python int `T >= 0`, the highest power kept.

  Returns:
    The bound, a Python float.
  """
  b = float(norm_bound)
  return math.exp((terms + 1) * math.log(b) - math.lgamma(terms + 2) + b) if b > 0 else 0.


def exp_series_terms(norm_bound, tolerance, max_terms=200):
  """Smallest `T` with `b^(T+1) / (T+1)! * e^b <= tolerance`.

  The result is a static Python int, so the series unrolls into a fixed
  number of operations (XLA-friendly) while its truncation error relative to
  `||x||` stays certified below `tolerance`.

  Args:
    norm_bound: Python float `b > 0`.
    tolerance: Python float in `(0, 1)`.
    max_terms: Python int; a `ValueError` is raised if more would be needed.

  Returns:
    T, a Python int.
  """
  b = float(norm_bound)
  tol = float(tolerance)
  if not b > 0:
    raise ValueError(f'`norm_bound` must be > 0; got {norm_bound!r}.')
  if not 0 < tol < 1:
    raise ValueError(f'`tolerance` must lie in (0, 1); got {tolerance!r}.')
  for terms in range(max_terms + 1):
    if exp_series_tail_bound(b, terms) <= tol:
      return terms
  raise ValueError(
      f'More than {max_terms} terms are needed for norm_bound={b} and '
      f'tolerance={tol}; lower `norm_bound`.')


def _tail_factor(norm_bound, done):
  """`c_k` with `||sum_{j>k} M^j x / j!|| <= c_k ||M^k x / k!||`, k = `done`.

  Each next term is at most `b / (j + 1)` times the last, so the tail is a
  geometric series: `c_k = b / (k + 1) / (1 - b / (k + 2))` (infinite when
  `b >= k + 2`, where the bound says nothing).
  """
  b = tf.cast(norm_bound, done.dtype)
  return tf.where(b < done + 2., b / (done + 1.) / (1. - b / (done + 2.)),
                  float('inf'))


def exp_series_until_certified(step, x, max_terms, norm_bound, tolerance,
                               event_ndims):
  """`(sum_{k<=T} M^k x / k!, T)` with the smallest `T <= max_terms` whose
  certified remainder is within `tolerance * ||x||` for every event.

  The remainder after `k` terms is bounded from the last term the batch
  really produced, `||M^k x / k!|| * c_k` (`_tail_factor`), which for most
  operators and inputs is far below the worst case that fixes `max_terms`.
  A bounded `tf.while_loop`, so XLA compiles it; it stops at `max_terms` in
  any case, which `exp_series_terms` certifies from the norm bound alone.

  Args:
    step: `step(term, k)` returns `M term / k` for an int32 scalar `k >= 1`.
    x: float tensor `[batch..., event...]`.
    max_terms: Python int, the most terms.
    norm_bound: Python float, a bound on `||M||_2` the operator meets.
    tolerance: Python float, the relative error certified per event.
    event_ndims: Python int, the number of trailing event dimensions.

  Returns:
    The truncated series (shaped like `x`) and `T` (an int32 scalar).
  """
  axes = list(range(-event_ndims, 0))

  def norm(v):
    return tf.sqrt(tf.reduce_sum(tf.square(v), axis=axes))
  limit = tolerance * norm(x)

  def unfinished(done, term, unused_result):
    tail = _tail_factor(norm_bound, tf.cast(done, x.dtype)) * norm(term)
    return tf.logical_and(done < max_terms, tf.reduce_any(tail > limit))

  def body(done, term, result):
    term = step(term, done + 1)
    return done + 1, term, result + term

  terms, _, result = tf.while_loop(unfinished, body,
                                   (tf.constant(0), x, x),
                                   maximum_iterations=max_terms)
  return result, terms


def exp_series_matrix(a, terms):
  """`sum_{k<=terms} A^k / k!` for a square matrix `A`, by Paterson and
  Stockmeyer's scheme: about `2 sqrt(terms)` matrix products instead of
  Horner's `terms` (5 instead of 9 for `terms=9`).

  With `s` the block size, the powers `A^2 .. A^s` are formed once, and the
  polynomial is evaluated as Horner's scheme in `A^s` whose coefficients are
  the blocks `sum_{i<s} A^i / (j s + i)!`, which need no products.

  Args:
    a: `[D, D]` float tensor.
    terms: Python int `T >= 0`, the highest power kept.

  Returns:
    `[D, D]` tensor, the same truncated series as `T` applications of `A`.

  #### References

  Michael S. Paterson and Larry J. Stockmeyer. On the number of nonscalar
  multiplications necessary to evaluate polynomials. SIAM Journal on
  Computing, 2(1), 1973.
  """
  a = tf.convert_to_tensor(a)
  eye = tf.eye(int(a.shape[-1]), dtype=a.dtype)
  if terms == 0:
    return eye
  # The s with the fewest products: s - 1 powers, ceil((T+1)/s) - 1 steps.
  size = min(range(1, terms + 2),
             key=lambda s: s - 1 + -(-(terms + 1) // s) - 1)
  blocks = -(-(terms + 1) // size)
  powers = [eye, a]
  while len(powers) <= (size if blocks > 1 else size - 1):
    powers.append(tf.matmul(powers[-1], a))

  def block(j):
    return tf.add_n([powers[i] / math.factorial(j * size + i)
                     for i in range(size) if j * size + i <= terms])
  result = block(blocks - 1)
  for j in range(blocks - 2, -1, -1):
    result = block(j) + tf.matmul(powers[size], result)
  return result
