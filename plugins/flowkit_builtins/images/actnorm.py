"""Per-channel ActNorm with data-dependent initialisation (Glow, Kingma & Dhariwal 2018, 3.1).

``y[c, h, w] = (x[c, h, w] + b[c]) * exp(s[c])``: one scale and bias per channel, shared by all
positions, so ``log|det| = H * W * sum_c s[c]`` (Glow, Table 1). On the first training batch
``b = -mean`` and ``s = log(target_std / std)`` of each channel: every channel then starts with
zero mean and the prior's standard deviation. The ``initialized`` buffer keeps a loaded model
from being re-initialised.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from flowkit_builtins.images.base import ImageTransform


class ChannelActNorm(ImageTransform):
    """Glow's ActNorm on ``[B, C, H, W]``: per-channel affine map fitted on the first batch."""

    name = "channel_actnorm"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"event_shape": (1, 4, 4)},
        {"event_shape": (2, 4, 4), "target_std": 0.5},
    ]

    def __init__(self, event_shape: Any, *, target_std: float = 1.0, eps: float = 1e-6) -> None:
        super().__init__(event_shape)
        channels = self.event_shape[0]
        self.target_std, self.eps = float(target_std), float(eps)
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.enable_data_initialization()

    def _initialize(self, inputs: Tensor) -> None:
        self.check_inputs(inputs)
        per_channel = inputs.transpose(0, 1).flatten(1)
        std = per_channel.std(dim=1) if per_channel.shape[1] > 1 else torch.ones_like(self.bias)
        self.bias.copy_(-per_channel.mean(dim=1))
        self.log_scale.copy_(math.log(self.target_std) - torch.log(std + self.eps))

    def _logabsdet(self, inputs: Tensor) -> Tensor:
        _, h, w = self.event_shape
        return (h * w * self.log_scale.sum()).expand(inputs.shape[0])

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        scale, bias = self.log_scale.exp().view(1, -1, 1, 1), self.bias.view(1, -1, 1, 1)
        return (inputs + bias) * scale, self._logabsdet(inputs)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        scale, bias = (-self.log_scale).exp().view(1, -1, 1, 1), self.bias.view(1, -1, 1, 1)
        return inputs * scale - bias, -self._logabsdet(inputs)


__all__ = ["ChannelActNorm"]
