"""Invertible layers as `tfp.bijectors.Bijector`s."""

from tfp_convexp.bijectors.convolution_exponential import ConvolutionExponential
