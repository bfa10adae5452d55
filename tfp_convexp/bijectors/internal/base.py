"""What every tfp_convexp bijector shares with TFP's conventions."""

import functools
import inspect
import threading

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_convexp.bijectors import variables
from tfp_convexp.bijectors.internal import image_events

__all__ = ['OwnsVariables', 'ImageBijector']


class OwnsVariables(tfp.bijectors.Bijector):
  """A bijector that creates its own variables in `__init__`.

  TFP's contract is that `copy()`, `type(b)(**b.parameters)` and batch
  slicing give the same bijector. A layer that draws fresh weights would break
  it silently, so every subclass constructor takes one more keyword,
  `variables`: the variables of an existing layer, in the order it created
  them, which the new layer then uses instead of creating its own (TFP's
  `ScaleMatvecLU` takes its variable as an argument the same way). After
  construction `parameters['variables']` holds the layer's own, so the three
  routes above share them. Overrides that change the variables' shapes or
  dtypes (another `event_shape`, say) are refused with the mismatch named.

  Two instances with equal static arguments would compare equal and TFP's
  class-wide cache would hand one instance's outputs to the other; the cache
  key is therefore the instance itself. There are no batchable tensor
  parameters.
  """

  # Neither the record nor `parameters` may reorder `trainable_variables`.
  _TF_MODULE_IGNORED_PROPERTIES = (
      tfp.bijectors.Bijector._TF_MODULE_IGNORED_PROPERTIES |
      {'_created_variables'})

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    if '__init__' in cls.__dict__:
      cls.__init__ = _sharing_init(cls.__init__)

  def project(self):
    """Applies every variable constraint (the certified norm bounds); call
    it after assigning weights by hand. Returns the grouped assignments."""
    return variables.project_variables(self)

  @property
  def call_keywords(self):
    """Keyword arguments this layer's calls need besides the input
    (`tfp_convexp.flows.chain` hands them out)."""
    return frozenset()

  @property
  def created_variables(self):
    """The variables this layer created (or was given), in creation order."""
    return self._created_variables

  @property
  def parameters(self):
    return dict(self._parameters, variables=self._created_variables)

  def copy(self, **override_parameters_kwargs):
    return type(self)(**dict(self.parameters, **override_parameters_kwargs))

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  def _get_parameterization(self):
    return id(self)


_constructing = threading.local()


def _sharing_init(init):
  """`init` with the `variables` keyword of `OwnsVariables`."""
  signature = inspect.signature(init)
  params = list(signature.parameters.values())
  if 'variables' not in signature.parameters:
    params.append(inspect.Parameter('variables', inspect.Parameter.KEYWORD_ONLY,
                                    default=None))

  @functools.wraps(init)
  def wrapped(self, *args, variables=None, **kwargs):
    outer = getattr(_constructing, 'instances', ())
    if any(o is self for o in outer):  # a base constructor of this instance
      return init(self, *args, **kwargs)
    _constructing.instances = (*outer, self)
    created = []
    given = None if variables is None else _checked_variables(self, variables)
    try:
      with tf.variable_creator_scope(
          functools.partial(_create_or_share, self, created, given)):
        init(self, *args, **kwargs)
    finally:
      _constructing.instances = outer
    if given is not None and len(created) != len(given):
      raise ValueError(
          f'{type(self).__name__}: `variables` holds {len(given)} variables, '
          f'but a layer with these arguments has {len(created)}.')
    self._created_variables = self._no_dependency(tuple(created))

  wrapped.__signature__ = signature.replace(parameters=params)
  return wrapped


def _checked_variables(layer, variables):
  if (not isinstance(variables, (list, tuple)) or
      not all(isinstance(v, tf.Variable) for v in variables)):
    raise TypeError(f'{type(layer).__name__}: `variables` must be a list of '
                    f'tf.Variables (another layer\'s `created_variables`); '
                    f'got {type(variables).__name__}.')
  return tuple(variables)


def _create_or_share(layer, created, given, next_creator, **kwargs):
  """Creates the next variable, or hands out the next given one."""
  if given is None:
    variable = next_creator(**kwargs)
  else:
    i = len(created)
    if i >= len(given):
      raise ValueError(f'{type(layer).__name__}: `variables` holds '
                       f'{len(given)} variables; this layer needs more.')
    variable = given[i]
    initial = kwargs.get('initial_value')
    initial = initial() if callable(initial) else initial
    want = tf.TensorShape(getattr(initial, 'shape', None))
    dtype = kwargs.get('dtype') or getattr(initial, 'dtype', None)
    dtype = None if dtype is None else tf.as_dtype(dtype)
    if not want.is_compatible_with(variable.shape) or (
        dtype is not None and dtype != variable.dtype):
      raise ValueError(
          f'{type(layer).__name__}: variable {i} of `variables` '
          f'({variable.name}) is {variable.dtype.name}{variable.shape}; this '
          f'layer needs {getattr(dtype, "name", "?")}{want}. A copy shares '
          f'the original\'s variables, so it cannot change their shapes or '
          f'dtype.')
  created.append(variable)
  return variable


class ImageBijector(OwnsVariables):
  """A layer on `[H, W, C]` events (NHWC): `forward_min_event_ndims=3`.

  Subclasses set `self._event_shape` (via `image_events.image_event_shape`)
  before they create their variables, then call this constructor.
  """

  def __init__(self, *, is_constant_jacobian, dtype, validate_args,
               parameters, name):
    super().__init__(
        forward_min_event_ndims=3,
        is_constant_jacobian=is_constant_jacobian,
        dtype=dtype,
        validate_args=validate_args,
        parameters=parameters,
        name=name)

  @property
  def event_shape(self):
    """`(H, W, C)`."""
    return self._event_shape

  def _checked(self, x):
    """`x` checked against the event shape, and `x` as `[B, H, W, C]`."""
    x = image_events.check_image_input(x, self._event_shape,
                                       type(self).__name__, self.validate_args)
    return x, image_events.to_nhwc(x, self._event_shape)


def checked_convergence(bijector, x, residual, limit):
  """`x`, after a check (with `validate_args`) that an iterative inverse
  ended with `residual <= limit`; the error names the layer and its
  `tolerance` and `max_iterations` settings."""
  if not bijector.validate_args:
    return x
  with tf.control_dependencies([tf.debugging.assert_less_equal(
      residual, tf.cast(limit, residual.dtype),
      message=f'{type(bijector).__name__} {bijector.name!r}: the inverse did '
              f'not reach tolerance={bijector._tolerance} within '  # pylint: disable=protected-access
              f'max_iterations={bijector._max_iterations} (x: the final '  # pylint: disable=protected-access
              f'residual, y: the limit).')]):
    return tf.identity(x)
