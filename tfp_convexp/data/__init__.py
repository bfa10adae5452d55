"""Data sets for image flows, and offline graph sets (`graphs`)."""

from tfp_convexp.data.digits import IMAGE_SHAPE as DIGITS_IMAGE_SHAPE
from tfp_convexp.data.digits import NUM_BINS as DIGITS_NUM_BINS
from tfp_convexp.data.digits import digits_split
from tfp_convexp.data.digits import load_digits
from tfp_convexp.data import graphs
from tfp_convexp.data.records import ImageRecords
from tfp_convexp.data.photos import photos_split
from tfp_convexp.data.sources import DATASETS
from tfp_convexp.data.sources import TFDS_SETS
from tfp_convexp.data.sources import folder_images
from tfp_convexp.data.sources import image_shape_and_bins
from tfp_convexp.data.sources import load_images
from tfp_convexp.data.sources import load_labels
from tfp_convexp.data.sources import class_names

__all__ = [
    'DIGITS_IMAGE_SHAPE',
    'DIGITS_NUM_BINS',
    'digits_split',
    'load_digits',
    'ImageRecords',
    'photos_split',
    'DATASETS',
    'TFDS_SETS',
    'folder_images',
    'image_shape_and_bins',
    'load_images',
    'load_labels',
    'class_names',
]
