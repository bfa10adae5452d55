"""Pure tensor functions (no variables) used by the bijectors."""

from tfp_convexp.ops.conv import adjoint_kernel
from tfp_convexp.ops.conv import channel_matmul
from tfp_convexp.ops.conv import circular_pad
from tfp_convexp.ops.conv import conv2d
from tfp_convexp.ops.conv import conv2d_kernel_grad
from tfp_convexp.ops.conv_exp import conv_exp
from tfp_convexp.ops.conv_exp import conv_exp_fourier
from tfp_convexp.ops.conv_exp import conv_exp_log_det
from tfp_convexp.ops.conv_exp import inverse_conv_exp
from tfp_convexp.ops.conv_exp import inverse_conv_exp_fourier
from tfp_convexp.ops.expm import expm
from tfp_convexp.ops.householder import householder_product
from tfp_convexp.ops.operator_norm import conv_operator_norm_bound
from tfp_convexp.ops.operator_norm import conv_symbol
from tfp_convexp.ops.operator_norm import gram_spectral_norm_bound
from tfp_convexp.ops.operator_norm import rescale_to_norm_bound
from tfp_convexp.ops.qr_determinant import assert_nonsingular
from tfp_convexp.ops.qr_determinant import log_abs_det_from_r
from tfp_convexp.ops.qr_determinant import qr_log_abs_det
from tfp_convexp.ops.series import exp_series_tail_bound
from tfp_convexp.ops.series import exp_series_terms
