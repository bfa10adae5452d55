"""Invertible convolutions for normalizing flows in TensorFlow Probability.

- `tfp_convexp.bijectors`: the layers, each a `tfp.bijectors.Bijector`: the
  convolution exponential, the graph convolution exponential, Sylvester
  flows, matrix-exponential, emerging, periodic, 1x1 and Woodbury layers,
  couplings, residual blocks, class-conditional priors.
- `tfp_convexp.flows`: whole models: `make_flow` (multiscale image flows
  with split priors and dequantization, class-conditional with
  `num_classes`), `make_graph_flow`, the named runs (`CONFIGS`) and the
  registries a layer of one's own enters (`register_mixing`,
  `register_transform`).
- `tfp_convexp.nets`: conditioner networks; `tfp_convexp.ops`: the pure
  tensor functions (series, norm bounds, solvers); `tfp_convexp.data`: the
  data sets.

Examples (run from the repository root; each writes a picture):

- [convexp_by_hand.py](examples/convexp_by_hand.py): a flow built from
  the layers, trained in a `tf.GradientTape` loop with a Keras optimizer;
- [own_layer.py](examples/own_layer.py) with
  [my_layers.py](examples/my_layers.py): a layer of one's own in
  `make_flow` and in `python -m train --import=my_layers`;
- [class_conditional_digits.py](examples/class_conditional_digits.py):
  samples of each digit, and the flow as a Bayes classifier;
- [convexp_exactness.py](examples/convexp_exactness.py): the layer's
  matrix against `expm` of the dense convolution.
"""

from tfp_convexp import bijectors
from tfp_convexp import data
from tfp_convexp import flows
from tfp_convexp import nets
from tfp_convexp import ops

__version__ = '0.1.0'
"""The package's version."""
