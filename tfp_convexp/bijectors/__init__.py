"""Invertible layers as `tfp.bijectors.Bijector`s."""

from tfp_convexp.bijectors.convolution_exponential import ConvolutionExponential
from tfp_convexp.bijectors.squeeze import Squeeze
