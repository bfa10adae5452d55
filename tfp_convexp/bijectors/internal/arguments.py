"""Checks of constructor arguments, with errors naming what was expected."""

__all__ = ['int_at_least', 'in_open_interval', 'tolerance_or_default']


def int_at_least(value, minimum, arg, layer):
  """`value` if it is a Python int `>= minimum`, else a ValueError."""
  if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
    kind = {0: 'a non-negative int', 1: 'a positive int'}.get(
        minimum, f'an int >= {minimum}')
    raise ValueError(f'{layer}: `{arg}` must be {kind}; got {value!r}.')
  return value


def in_open_interval(value, low, high, arg, layer, why=''):
  """`float(value)` if `low < value < high`, else a ValueError."""
  if not (isinstance(value, (int, float)) and not isinstance(value, bool)
          and low < value < high):
    interval = (f'({low}, {high})' if high != float('inf')
                else f'> {low} and finite')
    raise ValueError(f'{layer}: `{arg}` must lie in {interval}{why}; got '
                     f'{value!r}.')
  return float(value)


def tolerance_or_default(value, dtype, layer, float32=1e-6, float64=1e-12):
  """A tolerance in (0, 1), defaulting by dtype."""
  if value is None:
    return float64 if dtype.name == 'float64' else float32
  return in_open_interval(value, 0., 1., 'tolerance', layer)
