"""The conditioners' convolution initialisations."""

import numpy as np
import pytest

from tfp_convexp import nets


def test_uniform_fan_in_is_pytorchs_default():
  conv = nets.Conv2D(16, 64, 3, seed=1, init='uniform_fan_in')
  bound = 1. / np.sqrt(3 * 3 * 16)
  for v in (conv.kernel.numpy(), conv.bias.numpy()):
    assert np.abs(v).max() <= bound
    assert np.abs(v).max() > 0.9 * bound  # fills the interval
  # U(-b, b) has standard deviation b / sqrt(3).
  np.testing.assert_allclose(conv.kernel.numpy().std(), bound / np.sqrt(3),
                             rtol=0.05)


def test_he_normal_starts_with_zero_bias_and_zero_init_with_zeros():
  conv = nets.Conv2D(16, 64, 3, seed=1)
  np.testing.assert_allclose(conv.kernel.numpy().std(), np.sqrt(2. / 144),
                             rtol=0.05)
  assert not conv.bias.numpy().any()
  zero = nets.Conv2D(4, 8, 1, zero_init=True, init='uniform_fan_in')
  assert not zero.kernel.numpy().any() and not zero.bias.numpy().any()


def test_the_init_reaches_every_layer_of_a_densenet():
  net = nets.DenseInResidualNet(3, 6, intermediate_channels=8, depth=2,
                                growth=4, seed=0, init='uniform_fan_in')
  biases = [v for v in net.trainable_variables if 'bias' in v.name]
  # All biases but the zero-initialised last layer's are drawn.
  assert sum(bool(b.numpy().any()) for b in biases) == len(biases) - 1


def test_unknown_init_is_refused():
  with pytest.raises(ValueError, match=r"`init` must be one of .*got 'xavier'"):
    nets.Conv2D(1, 1, init='xavier')
