"""Image components: exact maths at tiny shapes, and the contract kit's image mode."""

from __future__ import annotations

import math

import pytest
import torch

from flowkit.testing import ContractError, check_transform
from flowkit_builtins.images.actnorm import ChannelActNorm
from flowkit_builtins.images.invconv import InvertibleConv1x1
from flowkit_builtins.images.logit import Logit
from flowkit_builtins.images.partitions import ChannelPartition, CheckerboardPartition
from flowkit_builtins.images.squeeze import squeeze, unsqueeze


def test_squeeze_moves_2x2_blocks_into_channels():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y = squeeze(x)
    assert y.shape == (1, 4, 2, 2)
    assert y[0, :, 0, 0].tolist() == [0.0, 1.0, 4.0, 5.0]
    assert torch.equal(unsqueeze(y), x)


def test_checkerboard_partition_splits_by_parity_of_y_plus_x():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    part = CheckerboardPartition((1, 4, 4), parity=0)
    x1, x2 = part.split(x)
    assert x1.shape == x2.shape == (1, 2, 2, 2)
    assert all((int(v) // 4 + int(v) % 4) % 2 == 0 for v in x1.flatten())
    assert all((int(v) // 4 + int(v) % 4) % 2 == 1 for v in x2.flatten())
    assert torch.equal(part.merge(x1, x2), x)
    assert not any("mask" in name for name, _ in part.named_buffers())


def test_channel_partition_parity_swaps_roles():
    x = torch.randn(2, 4, 2, 2)
    a1, _ = ChannelPartition((4, 2, 2), 0).split(x)
    b1, b2 = ChannelPartition((4, 2, 2), 1).split(x)
    assert torch.equal(a1, x[:, :2]) and torch.equal(b1, x[:, 2:])
    assert torch.equal(ChannelPartition((4, 2, 2), 1).merge(b1, b2), x)


def test_actnorm_data_init_normalises_each_channel():
    layer = ChannelActNorm((2, 4, 4))
    x = torch.randn(64, 2, 4, 4) * torch.tensor([3.0, 0.5]).view(1, 2, 1, 1) + 2.0
    layer.initialize(x)
    y, logabsdet = layer(x)
    per_channel = y.transpose(0, 1).flatten(1)
    assert torch.allclose(per_channel.mean(1), torch.zeros(2), atol=1e-5)
    assert torch.allclose(per_channel.std(1), torch.ones(2), atol=1e-4)
    assert torch.allclose(logabsdet, torch.full((64,), 16 * layer.log_scale.sum().item()))


def test_invconv_logdet_is_log_det_of_w_times_pixels():
    layer = InvertibleConv1x1((3, 2, 2), seed=1).double()
    with torch.no_grad():
        layer.log_s.add_(0.3)
    _, logabsdet = layer(torch.randn(2, 3, 2, 2, dtype=torch.float64))
    expected = 4 * torch.linalg.slogdet(layer.weight())[1]
    assert torch.allclose(logabsdet, expected.expand(2))


def test_logit_logdet_keeps_data_density():
    layer = Logit(4, alpha=0.05)
    x = torch.tensor([[0.0, 0.25, 0.5, 1.0]])
    y, logabsdet = layer(x)
    p = 0.05 + 0.9 * x
    assert torch.allclose(y, torch.log(p / (1 - p)))
    expected = (math.log(0.9) - torch.log(p) - torch.log1p(-p)).sum()
    assert torch.allclose(logabsdet, expected.view(1))


def test_kit_image_mode_catches_a_wrong_logdet():
    class Wrong(ChannelActNorm):
        def _logabsdet(self, inputs):
            return super()._logabsdet(inputs) * 0.5

    with pytest.raises(ContractError, match="logabsdet"):
        check_transform(lambda: Wrong((2, 4, 4)), 32, event_shape=(2, 4, 4))
    check_transform(lambda: ChannelActNorm((2, 4, 4)), 32, event_shape=(2, 4, 4))
