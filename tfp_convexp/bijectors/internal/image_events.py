"""Checks and reshapes shared by bijectors whose event is an `[H, W, C]` image."""

import tensorflow as tf

__all__ = ['image_event_shape', 'odd_kernel_size', 'float_dtype',
           'check_image_input', 'to_nhwc', 'from_nhwc']


def image_event_shape(event_shape, layer):
  """`event_shape` as a tuple of three positive Python ints, or a ValueError."""
  try:
    shape = tuple(int(d) for d in event_shape)
  except (TypeError, ValueError):
    shape = None
  if shape is None or len(shape) != 3 or min(shape) < 1:
    raise ValueError(f'{layer}: `event_shape` must be three positive ints '
                     f'[H, W, C]; got {event_shape!r}.')
  return shape


def odd_kernel_size(kernel_size, layer):
  """`kernel_size` (an int or a pair) as a pair of odd positive ints."""
  pair = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
  try:
    pair = tuple(pair)
    ok = (len(pair) == 2 and all(
        isinstance(k, int) and not isinstance(k, bool) and k > 0 and k % 2
        for k in pair))
  except TypeError:
    ok = False
  if not ok:
    raise ValueError(f'{layer}: `kernel_size` must be an odd positive int or '
                     f'a pair of them (the centre tap is the identity '
                     f'position); got {kernel_size!r}.')
  return pair


def float_dtype(dtype, layer):
  """`dtype` as tf.float32 or tf.float64, or a ValueError naming what came."""
  dtype = tf.as_dtype(dtype)
  # Half precision has no complex FFT, too little range for the series'
  # certificates and the log-determinants, and no tests here.
  if dtype not in (tf.float32, tf.float64):
    raise ValueError(f'{layer}: `dtype` must be float32 or float64; got '
                     f'{dtype.name}.')
  return dtype


def check_image_input(x, event_shape, layer, validate_args):
  """Static check that `x` ends in `event_shape`; runtime finiteness check."""
  shape = x.shape
  if shape.rank is not None:
    trailing = tuple(shape[-3:]) if shape.rank >= 3 else None
    if trailing is None or any(
        d is not None and d != e for d, e in zip(trailing, event_shape)):
      raise ValueError(
          f'{layer}: expected a tensor of shape [..., {", ".join(map(str, event_shape))}] '
          f'(NHWC, event [H, W, C]); got shape {shape}.')
  if validate_args:
    x = tf.debugging.assert_all_finite(
        x, f'{layer}: input has non-finite values.')
  return x


def to_nhwc(x, event_shape):
  """Flattens any batch dimensions of `x` into one: `[B, H, W, C]`."""
  return tf.reshape(x, [-1, *event_shape])


def from_nhwc(y, like):
  """Restores the batch dimensions of `like` on an `[B, H, W, C]` tensor."""
  return tf.reshape(y, tf.shape(like))
