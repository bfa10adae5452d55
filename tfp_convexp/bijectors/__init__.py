"""Invertible layers as `tfp.bijectors.Bijector`s."""

from tfp_convexp.bijectors.convolution_exponential import ConvolutionExponential
from tfp_convexp.bijectors.convolution_exponential import recording_terms
from tfp_convexp.bijectors.squeeze import Squeeze
from tfp_convexp.bijectors.conv1x1 import Conv1x1
from tfp_convexp.bijectors.matrix_exponential import MatrixExponential1x1
from tfp_convexp.bijectors.emerging import EmergingConv
from tfp_convexp.bijectors.periodic import PeriodicConv
from tfp_convexp.bijectors.woodbury import Woodbury
from tfp_convexp.bijectors.graph_convolution_exponential import GraphConvolutionExponential
from tfp_convexp.bijectors.actnorm import ActNorm
from tfp_convexp.bijectors.class_conditional import ClassConditionalAffine
from tfp_convexp.bijectors.graph_coupling import GraphAffineCoupling
from tfp_convexp.bijectors.graph_nodes import GraphActNorm
from tfp_convexp.bijectors.graph_nodes import NodeLinear
from tfp_convexp.bijectors.affine_coupling import AffineCoupling
from tfp_convexp.bijectors.sylvester import ConvolutionalSylvester
from tfp_convexp.bijectors.sylvester import GeneralizedSylvester
from tfp_convexp.bijectors.residual_flow import ResidualFlowBlock
from tfp_convexp.bijectors.matrix_exponential_coupling import MatrixExponentialCoupling
from tfp_convexp.bijectors.variables import perturb_variables
from tfp_convexp.bijectors.variables import project_variables

__all__ = [
    'ConvolutionExponential',
    'recording_terms',
    'Squeeze',
    'Conv1x1',
    'MatrixExponential1x1',
    'EmergingConv',
    'PeriodicConv',
    'Woodbury',
    'GraphConvolutionExponential',
    'ActNorm',
    'ClassConditionalAffine',
    'GraphAffineCoupling',
    'GraphActNorm',
    'NodeLinear',
    'AffineCoupling',
    'ConvolutionalSylvester',
    'GeneralizedSylvester',
    'ResidualFlowBlock',
    'MatrixExponentialCoupling',
    'perturb_variables',
    'project_variables',
]
