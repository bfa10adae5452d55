"""Pure tensor functions (no variables) used by the bijectors."""

from tfp_convexp.ops.autoregressive_solve import solve_autoregressive
from tfp_convexp.ops.conv import adjoint_kernel
from tfp_convexp.ops.conv import channel_matmul
from tfp_convexp.ops.conv import circular_pad
from tfp_convexp.ops.conv import conv2d
from tfp_convexp.ops.conv import conv2d_kernel_grad
from tfp_convexp.ops.conv import conv_matrix
from tfp_convexp.ops.conv_exp import conv_exp
from tfp_convexp.ops.conv_exp import conv_exp_and_terms
from tfp_convexp.ops.conv_exp import conv_exp_fourier
from tfp_convexp.ops.conv_exp import conv_exp_log_det
from tfp_convexp.ops.conv_exp import conv_exp_matrix
from tfp_convexp.ops.conv_exp import inverse_conv_exp
from tfp_convexp.ops.conv_exp import inverse_conv_exp_and_terms
from tfp_convexp.ops.conv_exp import inverse_conv_exp_fourier
from tfp_convexp.ops.conv_exp import inverse_conv_exp_matrix
from tfp_convexp.ops.expm import expm
from tfp_convexp.ops.householder import householder_product
from tfp_convexp.ops.operator_norm import conv_operator_norm_bound
from tfp_convexp.ops.operator_norm import conv_symbol
from tfp_convexp.ops.operator_norm import gram_spectral_norm_bound
from tfp_convexp.ops.operator_norm import assert_norm_within
from tfp_convexp.ops.operator_norm import norm_projection
from tfp_convexp.ops.operator_norm import rescale_to_norm_bound
from tfp_convexp.ops.qr_determinant import assert_nonsingular
from tfp_convexp.ops.qr_determinant import log_abs_det_from_r
from tfp_convexp.ops.qr_determinant import qr_log_abs_det
from tfp_convexp.ops.residual_log_det import exact_residual_log_det
from tfp_convexp.ops.residual_log_det import residual_fixed_point
from tfp_convexp.ops.residual_log_det import russian_roulette_log_det
from tfp_convexp.ops.series import exp_series_tail_bound
from tfp_convexp.ops.series import exp_series_terms
from tfp_convexp.ops.series import exp_series_until_certified
from tfp_convexp.ops.series import exp_series_matrix

__all__ = [
    'solve_autoregressive',
    'adjoint_kernel',
    'channel_matmul',
    'circular_pad',
    'conv2d',
    'conv2d_kernel_grad',
    'conv_matrix',
    'conv_exp',
    'conv_exp_and_terms',
    'conv_exp_fourier',
    'conv_exp_log_det',
    'conv_exp_matrix',
    'inverse_conv_exp',
    'inverse_conv_exp_and_terms',
    'inverse_conv_exp_fourier',
    'inverse_conv_exp_matrix',
    'expm',
    'householder_product',
    'conv_operator_norm_bound',
    'conv_symbol',
    'gram_spectral_norm_bound',
    'assert_norm_within',
    'norm_projection',
    'rescale_to_norm_bound',
    'assert_nonsingular',
    'log_abs_det_from_r',
    'qr_log_abs_det',
    'exact_residual_log_det',
    'residual_fixed_point',
    'russian_roulette_log_det',
    'exp_series_tail_bound',
    'exp_series_terms',
    'exp_series_until_certified',
    'exp_series_matrix',
]
