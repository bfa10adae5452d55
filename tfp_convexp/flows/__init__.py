"""Whole density models: multiscale image flows (split priors,
dequantization) and graph normalizing flows."""

from tfp_convexp.flows.builder import COUPLING_NETS
from tfp_convexp.flows.builder import count_parameters
from tfp_convexp.flows.builder import DEQUANTIZATIONS
from tfp_convexp.flows.builder import LAYOUTS
from tfp_convexp.flows.builder import make_flow
from tfp_convexp.flows.builder import make_layers
from tfp_convexp.flows.builder import STEP_LAYERS
from tfp_convexp.flows.configs import build_model
from tfp_convexp.flows.configs import Config
from tfp_convexp.flows.configs import CONFIGS
from tfp_convexp.flows.configs import parameter_count
from tfp_convexp.flows.configs import TASKS
from tfp_convexp.flows.configs import TRAINING_KEYS
from tfp_convexp.flows.dequantization import UniformDequantizer
from tfp_convexp.flows.dequantization import VariationalDequantizer
from tfp_convexp.flows.graph_flow import GRAPH_MIXINGS
from tfp_convexp.flows.graph_flow import GraphFlow
from tfp_convexp.flows.graph_flow import GraphFlowBijector
from tfp_convexp.flows.graph_flow import make_graph_flow
from tfp_convexp.flows.graph_flow import nats_per_node
from tfp_convexp.flows.graph_flow import normalized_adjacency
from tfp_convexp.flows.model import bits_per_dim
from tfp_convexp.flows.model import DequantizedFlow
from tfp_convexp.flows.multiscale import Level
from tfp_convexp.flows.multiscale import MultiscaleFlow
from tfp_convexp.flows.registry import LayerContext
from tfp_convexp.flows.registry import MIXINGS
from tfp_convexp.flows.registry import MODEL_TYPES
from tfp_convexp.flows.registry import register_mixing
from tfp_convexp.flows.registry import register_transform
from tfp_convexp.flows.tfp_glow import TFPGlow

__all__ = [
    'COUPLING_NETS',
    'count_parameters',
    'DEQUANTIZATIONS',
    'LAYOUTS',
    'make_flow',
    'make_layers',
    'STEP_LAYERS',
    'build_model',
    'Config',
    'CONFIGS',
    'parameter_count',
    'TASKS',
    'TRAINING_KEYS',
    'UniformDequantizer',
    'VariationalDequantizer',
    'GRAPH_MIXINGS',
    'GraphFlow',
    'GraphFlowBijector',
    'make_graph_flow',
    'nats_per_node',
    'normalized_adjacency',
    'bits_per_dim',
    'DequantizedFlow',
    'Level',
    'MultiscaleFlow',
    'LayerContext',
    'MIXINGS',
    'MODEL_TYPES',
    'register_mixing',
    'register_transform',
    'TFPGlow',
]
