"""Invertible layers as `tfp.bijectors.Bijector`s."""

from tfp_convexp.bijectors.convolution_exponential import ConvolutionExponential
from tfp_convexp.bijectors.squeeze import Squeeze
from tfp_convexp.bijectors.conv1x1 import Conv1x1
from tfp_convexp.bijectors.matrix_exponential import MatrixExponential1x1
from tfp_convexp.bijectors.emerging import EmergingConv
from tfp_convexp.bijectors.periodic import PeriodicConv
from tfp_convexp.bijectors.woodbury import Woodbury
from tfp_convexp.bijectors.graph_convolution_exponential import GraphConvolutionExponential
from tfp_convexp.bijectors.actnorm import ActNorm
from tfp_convexp.bijectors.affine_coupling import AffineCoupling
from tfp_convexp.bijectors.sylvester import ConvolutionalSylvester
from tfp_convexp.bijectors.sylvester import GeneralizedSylvester
from tfp_convexp.bijectors.residual_flow import ResidualFlowBlock
from tfp_convexp.bijectors.matrix_exponential_coupling import MatrixExponentialCoupling
from tfp_convexp.bijectors.variables import perturb_variables
from tfp_convexp.bijectors.variables import project_variables
