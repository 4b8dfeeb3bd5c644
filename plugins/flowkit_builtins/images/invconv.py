"""Glow's invertible 1x1 convolution, LU-parametrised (Kingma & Dhariwal 2018, section 3.2).

``y[:, h, w] = W x[:, h, w]`` at every position with one learned ``C x C`` matrix
``W = P L (U + diag(sign * exp(log_s)))``: ``P`` a fixed permutation, ``L`` unit lower
triangular, ``U`` strictly upper triangular, ``sign`` fixed. Then ``log|det W| = sum log_s``
and, applied at all ``H * W`` positions, ``log|det| = H * W * sum log_s`` (Glow eq. 10, Table 1):
O(C) instead of the O(C^3) of a determinant. ``W`` starts as a random rotation, decomposed once.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowkit_builtins.images.base import ImageTransform


class InvertibleConv1x1(ImageTransform):
    """A learned channel-mixing matrix at every pixel, with an O(C) log-determinant."""

    name = "invconv1x1"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"event_shape": (2, 4, 4)},
        {"event_shape": (4, 2, 2), "seed": 3},
    ]

    def __init__(self, event_shape: Any, *, seed: int = 0) -> None:
        super().__init__(event_shape)
        channels = self.event_shape[0]
        # The seeded rotation and its LU factors are computed on the CPU even when the model is
        # built under another default device (a run file is first rebuilt on "meta").
        gen = torch.Generator(device="cpu").manual_seed(seed)
        noise = torch.randn(channels, channels, generator=gen, device="cpu")
        rotation = torch.linalg.qr(noise)[0]
        permutation, lower, upper = torch.linalg.lu(rotation)
        diagonal = torch.diagonal(upper)
        self.register_buffer("permutation", permutation)
        self.register_buffer("sign", torch.sign(diagonal))
        self.lower = nn.Parameter(torch.tril(lower, -1))
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(diagonal.abs()))

    def weight(self) -> Tensor:
        """``W = P L (U + diag(sign * exp(log_s)))``; only the triangles of L and U are used."""
        eye = torch.eye(self.event_shape[0], dtype=self.lower.dtype, device=self.lower.device)
        lower = torch.tril(self.lower, -1) + eye
        upper = torch.triu(self.upper, 1) + torch.diag(self.sign * self.log_s.exp())
        return self.permutation @ lower @ upper

    def _logabsdet(self, inputs: Tensor) -> Tensor:
        _, h, w = self.event_shape
        return (h * w * self.log_s.sum()).expand(inputs.shape[0])

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        channels = self.event_shape[0]
        outputs = F.conv2d(inputs, self.weight().view(channels, channels, 1, 1))
        return outputs, self._logabsdet(inputs)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        channels = self.event_shape[0]
        inverse = torch.linalg.inv(self.weight())
        outputs = F.conv2d(inputs, inverse.view(channels, channels, 1, 1))
        return outputs, -self._logabsdet(inputs)


__all__ = ["InvertibleConv1x1"]
