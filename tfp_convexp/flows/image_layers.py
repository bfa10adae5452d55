"""The built-in mixing layers and step transformations of `make_flow`,
registered through the public `register_mixing` / `register_transform`
exactly as a researcher's own layer is."""

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_convexp import bijectors
from tfp_convexp.flows import registry

tfb = tfp.bijectors

__all__ = ['affine_coupling']


def _conv1x1(ctx, parameterization, part, **kwargs):
  return bijectors.Conv1x1(ctx.event_shape, parameterization, **kwargs,
                           seed=ctx.seed(), dtype=ctx.dtype,
                           name=ctx.name(part))


def _learned_shift(ctx, part):
  """`x + b` with a learned `b` of the whole `[H, W, C]` shape."""
  return tfb.Shift(tf.Variable(tf.zeros(ctx.event_shape, ctx.dtype),
                               name='shift'), name=ctx.name(part))


def _convexp(ctx):
  return bijectors.ConvolutionExponential(
      ctx.event_shape, norm_bound=ctx.options['convexp_norm_bound'],
      seed=ctx.seed(), dtype=ctx.dtype, name=ctx.name('convexp'))


def _convexp_bundle(ctx):
  """The paper's mixing: shift, 1x1 (64 Householder reflections above 64
  channels), convolution exponential, shift."""
  wide = ctx.event_shape[-1] > 64
  first = _conv1x1(ctx, 'householder' if wide else 'plain', 'conv1x1',
                   num_reflections=64 if wide else None)
  pre = _learned_shift(ctx, 'pre_shift')
  convexp = _convexp(ctx)
  return [pre, first, convexp, _learned_shift(ctx, 'post_shift')]


def _emerging(ctx):
  return bijectors.EmergingConv(ctx.event_shape, seed=ctx.seed(),
                                dtype=ctx.dtype, name=ctx.name('emerging'))


def _woodbury(ctx):
  h, w, _ = ctx.event_shape
  return bijectors.Woodbury(ctx.event_shape, rank=(0, min(24, h * w)),
                            seed=ctx.seed(), dtype=ctx.dtype,
                            name=ctx.name('woodbury'))


def _periodic(ctx):
  h, w, _ = ctx.event_shape
  size = min(3, h - (1 - h % 2), w - (1 - w % 2))  # odd, at most the image
  return bijectors.PeriodicConv(ctx.event_shape, kernel_size=size,
                                seed=ctx.seed(), dtype=ctx.dtype,
                                name=ctx.name('mixing'))


def _matrix_exp(ctx):
  return bijectors.MatrixExponential1x1(ctx.event_shape, seed=ctx.seed(),
                                        dtype=ctx.dtype,
                                        name=ctx.name('mixing'))


for _name, _description, _build in (
    ('1x1', 'Glow\'s 1x1 convolution, a free C x C matrix',
     lambda ctx: _conv1x1(ctx, 'plain', 'mixing')),
    ('lu', 'the 1x1 convolution in LU form',
     lambda ctx: _conv1x1(ctx, 'lu', 'mixing')),
    ('qr', 'the 1x1 convolution in QR form',
     lambda ctx: _conv1x1(ctx, 'qr', 'mixing')),
    ('convexp', 'the paper\'s bundle: learned shift, 1x1 (Householder above '
     '64 channels), convolution exponential, learned shift', _convexp_bundle),
    ('convexp_only', 'the convolution exponential alone', _convexp),
    ('emerging', 'the paper\'s bundle: 1x1, then the emerging convolution',
     lambda ctx: [_conv1x1(ctx, 'plain', 'conv1x1'), _emerging(ctx)]),
    ('emerging_only', 'the emerging convolution alone', _emerging),
    ('woodbury', '1x1, then a rank-24 spatial Woodbury update',
     lambda ctx: [_conv1x1(ctx, 'plain', 'conv1x1'), _woodbury(ctx)]),
    ('periodic', 'the periodic (Fourier) convolution', _periodic),
    ('matrix_exp', 'MEF\'s matrix-exponential 1x1', _matrix_exp),
    ('none', 'no mixing (couplings then reverse the channels)',
     lambda ctx: []),
):
  registry.register_mixing(_name, _build, _description)


def affine_coupling(ctx, context_channels=0, scale_fn='tanh',
                    log_scale_range=2.):
  """An affine coupling of the second half of the channels given the first
  (and `context_channels` of context), its net from `ctx.conditioner`."""
  c = ctx.event_shape[-1]
  k = c // 2
  return bijectors.AffineCoupling(
      ctx.event_shape,
      conditioner=ctx.conditioner(k + context_channels, 2 * (c - k)),
      num_masked=k, scale_fn=scale_fn, log_scale_range=log_scale_range,
      context_channels=context_channels, dtype=ctx.dtype,
      name=ctx.name('coupling'))


def _step_coupling(ctx):
  return affine_coupling(ctx, scale_fn=ctx.options['coupling_scale'],
                         log_scale_range=ctx.options['log_scale_range'])


def _mef_coupling(ctx):
  c = ctx.event_shape[-1]
  k = c - c // 2
  rank, outputs = bijectors.matrix_exponential_coupling.rank_and_outputs(
      c - k, ctx.options['mef_rank'])
  return bijectors.MatrixExponentialCoupling(
      ctx.event_shape, conditioner=ctx.conditioner(k, outputs), num_masked=k,
      rank=rank, dtype=ctx.dtype, name=ctx.name('mef_coupling'))


def _sylvester(ctx):
  c = ctx.event_shape[-1]
  hidden = -(-ctx.options['n_internal_channels'] // c) * c  # a multiple of C
  return bijectors.ConvolutionalSylvester(
      ctx.event_shape, hidden_channels=hidden,
      norm_bound=ctx.options['convexp_norm_bound'], seed=ctx.seed(),
      dtype=ctx.dtype, name=ctx.name('sylvester'))


def _residual_block(ctx):
  return bijectors.ResidualFlowBlock(
      ctx.event_shape, hidden_channels=ctx.options['n_internal_channels'],
      log_det_estimator=ctx.options['residual_log_det'], seed=ctx.seed(),
      dtype=ctx.dtype, name=ctx.name('residual_block'))


for _name, _description, _build in (
    ('coupling', 'affine coupling', _step_coupling),
    ('mef_coupling', 'MEF\'s matrix-exponential coupling', _mef_coupling),
    ('sylvester', 'convolutional Sylvester flow', _sylvester),
    ('residual_flow', 'invertible residual block (Residual Flows)',
     _residual_block),
):
  registry.register_transform(_name, _build, _description)
