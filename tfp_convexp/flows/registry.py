"""The registries of image layers that researchers extend: mixing layers and
step transformations, and what a layer's builder receives.

```python
import tensorflow as tf
import tensorflow as tf
import tensorflow_probability as tfp
from tfp_convexp import flows

def build_channel_scale(ctx):
  # A learned per-channel scale: invertible, log-det H * W * sum(log|s|).
  scale = tf.Variable(tf.ones([ctx.event_shape[-1]], ctx.dtype), name='scale')
  return tfp.bijectors.Scale(scale, name=ctx.name('channel_scale'))

flows.register_mixing('channel_scale', build_channel_scale,
                      'a learned scale per channel')
model = flows.make_flow([8, 8, 1], mixing='channel_scale')
```

`python -m train --import=my_layers --mixing=channel_scale` imports
`my_layers` (a module that registers when imported) before it reads its
flags. The built-in layers enter the registries through the same functions
(`flows/image_layers.py`).
"""

import collections
import re
import types

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ['Choice', 'LayerContext', 'MIXINGS', 'MODEL_TYPES', 'Registry',
           'register_mixing', 'register_transform']


class Choice(collections.namedtuple('Choice', ['description', 'build'])):
  """One entry of a registry: what it is (for `--help`) and how it is built.
  The image layers' `build(context)` takes a `LayerContext` and returns a
  bijector or a list of them; the other registries' builders are the
  package's own (see each registry)."""


# A flag value and a part of a TF name scope.
_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_]*\Z')


class Registry(collections.abc.Mapping):
  """name -> `Choice`, read-only except through `register`, which refuses a
  name that is taken (a built-in layer's included)."""

  def __init__(self, what, register_fn):
    self._what, self._register_fn = what, register_fn
    self._choices = {}

  def register(self, name, build, description):
    owner = f'flows.{self._register_fn}'
    if not isinstance(name, str) or not _NAME.match(name):
      raise ValueError(f'{owner}: `name` must be a string of letters, digits '
                       f'and underscores, not starting with an underscore '
                       f'(it is a flag value); got {name!r}.')
    if name in self._choices:
      raise ValueError(f'{owner}: {self._what} {name!r} is already '
                       f'registered ({self._choices[name].description}); '
                       f'choose another name.')
    if not callable(build):
      raise TypeError(f'{owner}: `build` must be a function of a '
                      f'LayerContext returning bijectors; got {build!r}.')
    if not isinstance(description, str) or not description.strip():
      raise ValueError(f'{owner}: `description` must be a non-empty string '
                       f'(`python -m train --help` shows it); got '
                       f'{description!r}.')
    self._choices[name] = Choice(description.strip(), build)
    return build

  def build(self, name, context):
    """The layers `name` builds in `context`, a list, checked: bijectors
    that keep the event shape."""
    built = self._choices[name].build(context)
    layers = list(built) if isinstance(built, (list, tuple)) else [built]
    shape = tf.TensorShape(context.event_shape)
    for layer in layers:
      if not isinstance(layer, tfb.Bijector):
        raise TypeError(f'{self._what} {name!r}: its `build` must return a '
                        f'tfp.bijectors.Bijector or a list of them; got '
                        f'{type(layer).__name__} {layer!r:.80}.')
      if layer.forward_event_shape(shape) != shape:
        raise ValueError(f'{self._what} {name!r}: layer {layer.name!r} maps '
                         f'events {shape} to '
                         f'{layer.forward_event_shape(shape)}; a step\'s '
                         f'layers keep the event shape.')
    return layers

  def __getitem__(self, name):
    return self._choices[name]

  def __iter__(self):
    return iter(self._choices)

  def __len__(self):
    return len(self._choices)

  def __repr__(self):
    return f'Registry({self._what}: {", ".join(self._choices)})'


# The `mixing` and the `model_type` (`'transform'`) of `make_flow`'s steps.
MIXINGS = Registry('mixing', 'register_mixing')
"""`make_flow`'s `mixing` layers, name -> `Choice` (`register_mixing`)."""
MODEL_TYPES = Registry('transform', 'register_transform')
"""`make_flow`'s `model_type` transformations, name -> `Choice`
(`register_transform`)."""


def register_mixing(name, build, description):
  """Adds a mixing layer under `name`, for `make_flow(mixing=name)` and
  `python -m train --mixing=name`.

  Args:
    name: letters, digits and underscores; not a registered name.
    build: `build(context) -> bijector or list of bijectors` (run data to
      latent in list order), from a `LayerContext`. Each layer maps
      `[..., H, W, C]` events (`context.event_shape`) to the same shape and
      owns its `tf.Variable`s, so that checkpoints and SavedModels hold it.
      An empty list is no mixing.
    description: one line for `--help` and error messages.

  Returns:
    `build`, so that this works as a decorator's body.

  Raises:
    ValueError: a bad or taken name, or an empty description.
    TypeError: `build` is not callable.
  """
  return MIXINGS.register(name, build, description)


def register_transform(name, build, description):
  """Adds a step transformation (a coupling, a residual block, ...) under
  `name`, for `make_flow(model_type=name)` and `python -m train
  --model_type=name`. Same arguments as `register_mixing`; a coupling
  takes its conditioner network from `context.conditioner`."""
  return MODEL_TYPES.register(name, build, description)


class LayerContext(object):
  """What a registered layer's `build` receives.

  Attributes:
    event_shape: `(H, W, C)` of the layer's events (after the level's
      squeezes).
    dtype: the flow's floating dtype.
    options: `make_flow`'s arguments (read-only), for a layer that follows
      the run's settings, e.g. `options['n_intermediate_channels']`.
  """

  def __init__(self, event_shape, dtype, options, next_seed, name_of,
               conditioner):
    self.event_shape = tuple(event_shape)
    self.dtype = dtype
    self.options = types.MappingProxyType(dict(options))
    self._next_seed, self._name_of = next_seed, name_of
    self._conditioner = conditioner

  def seed(self):
    """A fresh int seed from the run's seed: one per call, so that two
    layers (or two calls) never share their initialisation."""
    return self._next_seed()

  def name(self, part):
    """A name for one layer, unique in the model: the step's position,
    `part` and the count of the last `seed()`."""
    return self._name_of(part)

  def conditioner(self, in_channels, out_channels):
    """The run's coupling network (`coupling_net`, of width
    `n_intermediate_channels`, freshly seeded; its last convolution starts
    at zero): a `tf.Module` mapping NHWC `[B, H, W, in_channels]` to
    `[B, H, W, out_channels]`. It takes one batch dimension; a layer keeps
    TFP's contract (any batch shape, none included) by flattening the
    others, `tf.reshape(x, [-1, H, W, in_channels])`, and restoring them."""
    return self._conditioner(in_channels, out_channels)

