"""Certified truncation of the exponential power series."""

import math

__all__ = ['exp_series_tail_bound', 'exp_series_terms']


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
