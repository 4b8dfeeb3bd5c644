"""Likelihood unit conversions."""

import math

import pytest

from flowkit import bits_per_dim, nats_from_bits_per_dim


def test_nice_paper_mnist_figure():
    # NICE (Dinh et al. 2014), section 5.1: 1980.50 nats on MNIST is 4.36 bits/dim.
    assert bits_per_dim(1980.50, 784, levels=256) == pytest.approx(4.356, abs=5e-4)
    assert round(bits_per_dim(1980.50, 784), 2) == 4.36


def test_cifar_at_128_levels():
    # Data in [-1, 1] has 128 bins per unit: 5371.78 nats -> 4.48 bits/dim (ANCHORS.md).
    assert round(bits_per_dim(5371.78, 3072, levels=128), 2) == 4.48


def test_continuous_data_has_no_quantisation_term():
    assert bits_per_dim(-2 * math.log(2.0), 2, levels=None) == pytest.approx(1.0)


def test_round_trip():
    assert nats_from_bits_per_dim(bits_per_dim(123.4, 64, 17), 64, 17) == pytest.approx(123.4)
