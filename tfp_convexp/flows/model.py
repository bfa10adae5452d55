"""A density over integer images: a continuous flow plus dequantization."""

import math

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = ['DequantizedFlow', 'bits_per_dim']


class DequantizedFlow(tfd.Distribution):
  r"""A distribution over `[H, W, C]` images with values in `{0, ..., bins-1}`.

  `flow` is a `tfd.TransformedDistribution` over continuous images
  `v in [0, bins)^D` (a standard-normal base through a multiscale flow), and
  `dequantizer` draws `u in [0, 1)^D` given `x` with density `q(u | x)`:

  ```none
  log P(x) >= E_q [ log p(x + u) - log q(u | x) ]                 (K = 1)
  log P(x) >= E_q [ log (1/K) sum_k p(x + u_k) / q(u_k | x) ]     (K samples)
  ```

  `log_prob(x, seed=..., num_samples=K)` returns this importance-weighted
  lower bound in nats, from `K` draws (one for training, many for
  evaluation: the bound tightens towards `log P(x)` as `K` grows). With
  uniform dequantization `q = 1` and the bound is the usual
  `E_u log p(x + u)`. Without a `seed`, a random one is drawn. More than
  `samples_per_chunk` (16) draws are taken that many at a time with a
  running log-sum-exp, so memory does not grow with `K`.

  `log_prob(x, base_noise=e)` takes the dequantizer's base draws
  (`[K, ..., H, W, C]`: uniform, or standard normal for the variational
  one) instead of drawing them; a training pipeline uses it to give every
  example its own fixed noise, independent of how batches are sharded.

  `sample(n, seed=..., temperature=T)` draws the flow's latent from
  `N(0, T^2 I)`, decodes it and floors it to integer pixels (int32); `T`
  must be finite and >= 0.

  A class-conditional model (`num_classes`, `make_flow(num_classes=K)`) is
  a density `P(x | y)`: `log_prob(x, label=y)`, `sample(n, label=y)`,
  `encode` and `decode` take the class (ints in `[0, K)`, one per image or
  one for all), and `class_log_probs(x)` gives `log P(x | y)` for every
  class at once.

  With `validate_args=True` (the default) pixel values are checked (in
  `[0, bins)`, whole numbers; also for NumPy float arrays, which are checked
  before they are cast), and `decode` refuses non-finite latents and
  non-finite decoded images instead of casting them to int32.

  The continuous model is `flow` and the noise model `dequantizer`; both are
  `tf.Module`s, so `trainable_variables` covers everything.
  """

  def __init__(self, flow, dequantizer, num_bins, num_classes=None,
               validate_args=True, name='dequantized_flow'):
    """Builds the distribution.

    Args:
      flow: `tfd.TransformedDistribution` over continuous `[H, W, C]` images
        in `[0, num_bins)`, whose bijector is `tfb.Invert(MultiscaleFlow)`.
      dequantizer: a `UniformDequantizer` or `VariationalDequantizer`.
      num_bins: number of pixel levels.
      num_classes: the number of labels of a class-conditional `flow` (its
        layers take the `label` keyword); None for an unconditional one.
      validate_args: check pixel values (range, integrality) on every call.
      name: name scope.
    """
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      self._flow = flow
      self._dequantizer = dequantizer
      self._num_bins = int(num_bins)
      self._num_classes = num_classes
      self._image_shape = tuple(dequantizer.image_shape)
      self._float_dtype = dequantizer.dtype
      super().__init__(
          dtype=tf.int32,
          reparameterization_type=tfd.NOT_REPARAMETERIZED,
          validate_args=validate_args,
          allow_nan_stats=True,
          parameters=parameters,
          name=name)

  @classmethod
  def _parameter_properties(cls, dtype, num_classes=None):
    return dict()

  @property
  def flow(self):
    """The continuous model, a `tfd.TransformedDistribution`."""
    return self._flow

  @property
  def bijector(self):
    """The data-to-latent `MultiscaleFlow`."""
    return self._flow.bijector.bijector

  @property
  def dequantizer(self):
    """The noise model `q(u | x)`: a `UniformDequantizer` or
    `VariationalDequantizer`."""
    return self._dequantizer

  @property
  def num_bins(self):
    """The number of pixel levels."""
    return self._num_bins

  @property
  def image_shape(self):
    """`(H, W, C)`."""
    return self._image_shape

  @property
  def num_classes(self):
    """The number of labels of a class-conditional model, else None."""
    return self._num_classes

  def _flow_kwargs(self, seed, label, what):
    """The flow's keyword arguments: the seed, and the label of a
    class-conditional model (which needs one; others take none)."""
    kwargs = {'seed': seed}
    if self._num_classes is None:
      if label is not None:
        raise ValueError(f'{self.name}: {what} got a `label`, but this model '
                         f'is not class-conditional (make_flow(..., '
                         f'num_classes=K) builds one).')
      return kwargs
    if label is None:
      raise ValueError(f'{self.name}: this model is class-conditional '
                       f'(num_classes={self._num_classes}); {what} needs '
                       f'`label=` (ints in [0, {self._num_classes}), one per '
                       f'image or one for all).')
    kwargs['label'] = label  # checked by the class-conditional layers
    return kwargs

  def _event_shape(self):
    return tf.TensorShape(self._image_shape)

  def _event_shape_tensor(self):
    return tf.constant(self._image_shape, tf.int32)

  def _batch_shape(self):
    return tf.TensorShape([])

  def _batch_shape_tensor(self):
    return tf.constant([], tf.int32)

  def _checked_images(self, x):
    """`x` as floats, after static shape and dtype checks and, with
    `validate_args`, runtime range and integrality checks."""
    x = tf.convert_to_tensor(x)
    if not (x.dtype.is_integer or x.dtype.is_floating):
      raise ValueError(f'{self.name}: images must have an integer or float '
                       f'dtype; got {x.dtype.name}.')
    shape = x.shape
    if shape.rank is not None and (shape.rank < 3 or not tf.TensorShape(
        shape[-3:]).is_compatible_with(self._image_shape)):
      raise ValueError(
          f'{self.name}: expected images of shape [..., '
          f'{", ".join(map(str, self._image_shape))}] (NHWC); got shape '
          f'{shape}.')
    values = tf.cast(x, self._float_dtype)
    if not self.validate_args:
      return values
    checks = [
        tf.debugging.assert_greater_equal(
            values, tf.constant(0., self._float_dtype),
            message=f'{self.name}: pixel values must be in [0, '
                    f'{self._num_bins}) (num_bins={self._num_bins}).'),
        tf.debugging.assert_less(
            values, tf.constant(self._num_bins, self._float_dtype),
            message=f'{self.name}: pixel values must be in [0, '
                    f'{self._num_bins}) (num_bins={self._num_bins}).'),
    ]
    if x.dtype.is_floating:
      checks.append(tf.debugging.assert_equal(
          values, tf.floor(values),
          message=f'{self.name}: pixel values must be whole numbers (this '
                  f'is a distribution over integer images).'))
    with tf.control_dependencies(checks):
      return tf.identity(values)

  def sample(self, sample_shape=(), seed=None, name='sample', **kwargs):
    if not tf.is_tensor(sample_shape):
      dims = np.asarray(sample_shape).reshape([-1])
      if dims.size and (dims.dtype.kind not in 'iu' or (dims < 0).any()):
        raise ValueError(f'{self.name}: sample_shape must be ints >= 0; got '
                         f'{sample_shape!r}.')
    return super().sample(sample_shape, seed=seed, name=name, **kwargs)

  def integer_images(self, x):
    """`x` as int32 images, its values checked first (under `validate_args`):
    for inputs of another dtype, which a plain cast would truncate (3.5 -> 3)
    or wrap."""
    return tf.cast(self._checked_images(x), tf.int32)

  def log_prob(self, value, name='log_prob', **kwargs):
    # TFP would cast a NumPy float array to int32 (3.5 -> 3, -0.5 -> 0)
    # before `_log_prob` sees it; check the values first, then cast.
    if not tf.is_tensor(value):
      value = tf.convert_to_tensor(value)
      if value.dtype.is_floating:
        value = self.integer_images(value)
    return super().log_prob(value, name=name, **kwargs)

  def _log_prob(self, x, seed=None, num_samples=1, base_noise=None,
                samples_per_chunk=16, label=None):
    x = self._checked_images(x)
    self._flow_kwargs(None, label, 'log_prob')  # checked before any work
    num_samples = self._checked_num_samples(num_samples)
    noise_seed, flow_seed = tfp.random.split_seed(
        tfp.random.sanitize_seed(seed, salt='dequantized_flow'), 2)
    chunked = (base_noise is None and isinstance(num_samples, int) and
               num_samples > samples_per_chunk)
    if not chunked:
      weights = self._log_weights(x, num_samples, noise_seed, flow_seed,
                                  base_noise, label)
      if isinstance(num_samples, int) and num_samples == 1:
        return weights[0]
      return tf.reduce_logsumexp(weights, axis=0) - tf.math.log(
          tf.cast(num_samples, weights.dtype))
    return self._chunked_log_mean_exp(x, num_samples, samples_per_chunk,
                                      noise_seed, flow_seed, label)

  def _log_weights(self, x, num_samples, noise_seed, flow_seed,
                   base_noise=None, label=None):
    """`log p(x + u_k) - log q(u_k | x)`, `[K, ...batch]`."""
    u, log_q = self._dequantizer.sample_and_log_prob(
        x, num_samples, noise_seed, base_noise=base_noise)
    log_p = self._flow.log_prob(
        x + u, bijector_kwargs=self._flow_kwargs(flow_seed, label,
                                                 'log_prob'))
    return log_p - log_q

  def _chunked_log_mean_exp(self, x, num_samples, chunk, noise_seed,
                            flow_seed, label):
    """The importance-weighted bound over `num_samples` draws, `chunk` at a
    time with a running log-sum-exp: memory does not grow with the number
    of samples. Chunk `i` draws from seeds folded with `i`; the last chunk's
    draws beyond `num_samples` get weight zero."""
    chunks = -(-num_samples // chunk)
    batch = tf.shape(x)[:-3]
    dtype = self._float_dtype

    def body(i, top, total):
      fold = tf.random.experimental.stateless_fold_in
      weights = self._log_weights(x, chunk, fold(noise_seed, i),
                                  fold(flow_seed, i), label=label)
      index = i * chunk + tf.range(chunk)
      weights = tf.where(
          tf.reshape(index < num_samples,
                     tf.concat([[chunk], tf.ones_like(batch)], 0)),
          weights, tf.constant(-math.inf, dtype))
      new_top = tf.maximum(top, tf.reduce_max(weights, axis=0))
      total = total * tf.exp(top - new_top) + tf.reduce_sum(
          tf.exp(weights - new_top), axis=0)
      return i + 1, new_top, total

    _, top, total = tf.while_loop(
        lambda i, *_: i < chunks, body,
        (tf.constant(0), tf.fill(batch, tf.constant(-math.inf, dtype)),
         tf.zeros(batch, dtype)),
        maximum_iterations=chunks)
    return top + tf.math.log(total) - math.log(num_samples)

  def class_log_probs(self, x, seed=None, num_samples=1):
    """`log P(x | y)` (nats, the bound of `log_prob`) for every class `y`,
    `[..., K]`, of a class-conditional model: every class sees the same
    dequantization draws, so the comparison across classes has no noise of
    its own. `argmax` over the last axis is the Bayes classifier under a
    uniform class prior. The classes run one after another, each on all
    `num_samples` draws at once (`log_prob` takes more than 16 in chunks).

    Args:
      x: integer images `[..., H, W, C]`.
      seed: stateless seed of the dequantization draws.
      num_samples: importance samples, a Python int >= 1.
    """
    if self._num_classes is None:
      raise ValueError(f'{self.name}: class_log_probs needs a '
                       f'class-conditional model (make_flow(..., '
                       f'num_classes=K)).')
    x = self._checked_images(x)
    num_samples = self._checked_num_samples(num_samples)
    if not isinstance(num_samples, int):
      raise TypeError(f'{self.name}: class_log_probs takes a Python int '
                      f'num_samples; got {num_samples!r}.')
    noise_seed, flow_seed = tfp.random.split_seed(
        tfp.random.sanitize_seed(seed, salt='dequantized_flow'), 2)
    u, log_q = self._dequantizer.sample_and_log_prob(x, num_samples,
                                                     noise_seed)
    bounds = []
    for y in range(self._num_classes):  # one class at a time: memory as S x B
      weights = self._flow.log_prob(
          x + u, bijector_kwargs=self._flow_kwargs(
              flow_seed, tf.constant(y), 'class_log_probs')) - log_q
      bounds.append(tf.reduce_logsumexp(weights, axis=0) - tf.math.log(
          tf.cast(num_samples, weights.dtype)))
    return tf.stack(bounds, axis=-1)

  def _checked_num_samples(self, num_samples):
    """A count of importance samples: a Python int >= 1 (the bound's
    `log K` and the chunking are static), or an int tensor checked at run
    time under `validate_args`."""
    if isinstance(num_samples, (int, np.integer)) and not isinstance(
        num_samples, bool):
      if num_samples < 1:
        raise ValueError(f'{self.name}: num_samples must be an int >= 1; got '
                         f'{num_samples!r}.')
      return int(num_samples)
    if not tf.is_tensor(num_samples) or not num_samples.dtype.is_integer:
      raise TypeError(f'{self.name}: num_samples must be an int >= 1 (or an '
                      f'int tensor); got {num_samples!r}.')
    if self.validate_args:
      with tf.control_dependencies([tf.debugging.assert_positive(
          num_samples, message=f'{self.name}: num_samples must be >= 1.')]):
        num_samples = tf.identity(num_samples)
    return num_samples

  def _sample_n(self, n, seed=None, temperature=1., label=None):
    latent_seed, flow_seed = tfp.random.split_seed(
        tfp.random.sanitize_seed(seed, salt='dequantized_flow_sample'), 2)
    temperature = self._checked_temperature(temperature)
    self._flow_kwargs(None, label, 'sample')  # checked before any work
    if tf.get_static_value(n) is None:  # a count given at run time
      with tf.control_dependencies([tf.debugging.assert_non_negative(
          n, message=f'{self.name}: the number of samples must be >= 0.')]):
        n = tf.identity(n)
    z = self._flow.distribution.sample(n, seed=latent_seed)
    decode = lambda: self.decode(z * temperature, seed=flow_seed, label=label)
    if tf.get_static_value(n) is not None:
      return decode()
    # A count known only at run time (a SavedModel signature) may be 0, which
    # oneDNN's convolutions answer with wrongly shaped tensors (`ops.conv2d`).
    return tf.cond(n > 0, decode,
                   lambda: tf.zeros([0, *self.image_shape], tf.int32))

  def _checked_temperature(self, temperature):
    message = (f'{self.name}: temperature must be a finite number >= 0; got '
               f'{temperature!r}.')
    if isinstance(temperature, (int, float, np.number)):
      if not 0. <= float(temperature) < math.inf:
        raise ValueError(message)
      return tf.constant(temperature, self._float_dtype)
    temperature = tf.cast(temperature, self._float_dtype)
    if self.validate_args:
      temperature = tf.debugging.assert_all_finite(
          temperature, f'{self.name}: temperature must be finite.')
      with tf.control_dependencies([tf.debugging.assert_non_negative(
          temperature, message=f'{self.name}: temperature must be >= 0.')]):
        temperature = tf.identity(temperature)
    return temperature

  def encode(self, x, seed=None, label=None):
    """The latent `[..., D]` of integer images: of `x + u` with uniform
    noise `u` drawn from `seed`, or of the bin centres `x + 1/2` without.
    A class-conditional model needs the images' `label`."""
    x = self._checked_images(x)
    kwargs = self._flow_kwargs(_flow_seed(seed), label, 'encode')
    if seed is None:
      v = x + 0.5
    else:
      v = x + tf.random.stateless_uniform(tf.shape(x), seed, dtype=x.dtype)
    return self.bijector.forward(v, **kwargs)

  def decode(self, z, seed=None, label=None):
    """Integer images (int32) from latents `[..., D]`; a class-conditional
    model decodes them as images of class `label`."""
    kwargs = self._flow_kwargs(_flow_seed(seed), label, 'decode')
    z = tf.convert_to_tensor(z, self._float_dtype)
    if self.validate_args:
      z = tf.debugging.assert_all_finite(
          z, f'{self.name}: decode: the latent has non-finite values.')
    v = self.bijector.inverse(z, **kwargs)
    if self.validate_args:
      v = tf.debugging.assert_all_finite(
          v, f'{self.name}: decode: the flow\'s inverse gave non-finite '
             f'images (is the latent far outside the trained range?).')
    return tf.cast(tf.clip_by_value(tf.floor(v), 0., self._num_bins - 1.),
                   tf.int32)


def _flow_seed(seed):
  # Only Russian-roulette layers use it, and only for log-determinants.
  return tfp.random.sanitize_seed(seed, salt='decode') if seed is not None else (
      tf.constant([0, 0], tf.int32))


def bits_per_dim(model, x, seed=None, num_samples=1, base_noise=None,
                 label=None):
  """`-log2 P(x) / D` per image, for integer images `x`.

  Args:
    model: a `DequantizedFlow` (it knows its number of bins), or any
      distribution over integer images whose `log_prob` is in nats.
    x: images `[..., H, W, C]`.
    seed: stateless seed of the dequantization noise.
    num_samples: importance samples for a `DequantizedFlow`.
    base_noise: the dequantizer's base draws instead of `seed`'s (see
      `DequantizedFlow`).
    label: the images' classes, for a class-conditional model.
  """
  x = tf.convert_to_tensor(x)
  dims = float(np.prod(x.shape[-3:]))
  if isinstance(model, DequantizedFlow):
    log_prob = model.log_prob(x, seed=seed, num_samples=num_samples,
                              base_noise=base_noise, label=label)
  else:
    log_prob = model.log_prob(x)
  return -log_prob / (dims * math.log(2.))
