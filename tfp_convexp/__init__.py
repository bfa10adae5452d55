"""Invertible convolutions for normalizing flows in TensorFlow Probability."""

from tfp_convexp import bijectors
from tfp_convexp import data
from tfp_convexp import flows
from tfp_convexp import nets
from tfp_convexp import ops

__version__ = '0.1.0'
