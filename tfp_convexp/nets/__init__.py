"""Conditioner networks as `tf.Module`s (variables visible to TFP)."""

from tfp_convexp.nets.autoregressive import AutoregressiveResidual
from tfp_convexp.nets.densenet import DenseInResidualNet
from tfp_convexp.nets.densenet import DenseNet
from tfp_convexp.nets.layers import Conv2D
from tfp_convexp.nets.layers import GatedConv2D
from tfp_convexp.nets.layers import INITS
from tfp_convexp.nets.lipschitz import CertifiedConv2D
from tfp_convexp.nets.lipschitz import LipSwish
from tfp_convexp.nets.lipschitz import LipschitzResidualNet
from tfp_convexp.nets.masked import MaskedConv2D
from tfp_convexp.nets.message_passing import MessagePassingNet
from tfp_convexp.nets.masked import MaskedDense
from tfp_convexp.nets.convnets import PlainConvNet
from tfp_convexp.nets.convnets import ResidualConvNet

__all__ = [
    'AutoregressiveResidual',
    'DenseInResidualNet',
    'DenseNet',
    'Conv2D',
    'GatedConv2D',
    'INITS',
    'CertifiedConv2D',
    'LipSwish',
    'LipschitzResidualNet',
    'MaskedConv2D',
    'MessagePassingNet',
    'MaskedDense',
    'PlainConvNet',
    'ResidualConvNet',
]
