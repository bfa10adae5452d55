"""Data sets for image flows."""

from tfp_convexp.data.digits import IMAGE_SHAPE as DIGITS_IMAGE_SHAPE
from tfp_convexp.data.digits import NUM_BINS as DIGITS_NUM_BINS
from tfp_convexp.data.digits import digits_split
from tfp_convexp.data.digits import load_digits
