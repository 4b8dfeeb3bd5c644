"""Squeeze: the 2x2 space-to-depth reshuffle of RealNVP (Dinh et al. 2017, section 3.6).

``[C, H, W] -> [4C, H/2, W/2]``: each 2x2 block of pixels becomes 4 channels at one position
(output channel ``4c + 2i + j`` holds pixel ``(2y + i, 2x + j)`` of channel ``c``). A permutation
of the values, so ``log|det| = 0``. It trades resolution for channels, which lets channel-wise
couplings and 1x1 convolutions mix neighbouring pixels, and sets up the multi-scale factor-out.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from flowkit import ConfigurationError
from flowkit_builtins.images.base import ImageTransform, squeezed_shape


def squeeze(inputs: Tensor) -> Tensor:
    """``[B, C, H, W] -> [B, 4C, H/2, W/2]``."""
    b, c, h, w = inputs.shape
    blocks = inputs.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return blocks.reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze(inputs: Tensor) -> Tensor:
    """``[B, 4C, H, W] -> [B, C, 2H, 2W]``, the inverse of :func:`squeeze`."""
    b, c4, h, w = inputs.shape
    blocks = inputs.reshape(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return blocks.reshape(b, c4 // 4, 2 * h, 2 * w)


class Squeeze(ImageTransform):
    """2x2 space-to-depth; ``inverse`` is depth-to-space. Volume-preserving (log-det 0)."""

    name = "squeeze"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"event_shape": (1, 4, 4)},
        {"event_shape": (2, 4, 4)},
    ]

    def __init__(self, event_shape: Any) -> None:
        super().__init__(event_shape)
        self.output_shape = squeezed_shape(self.event_shape)

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        return squeeze(inputs), inputs.new_zeros(inputs.shape[0])

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return unsqueeze(inputs), inputs.new_zeros(inputs.shape[0])


class Unsqueeze(ImageTransform):
    """Depth-to-space ``[4C, H, W] -> [C, 2H, 2W]``: :class:`Squeeze` the other way round."""

    name = "unsqueeze"
    contract_examples: ClassVar[list[dict[str, Any]]] = [{"event_shape": (4, 2, 2)}]

    def __init__(self, event_shape: Any) -> None:
        super().__init__(event_shape)
        c, h, w = self.event_shape
        if c % 4:
            raise ConfigurationError(f"unsqueezing needs a multiple of 4 channels, got {c}")
        self.output_shape = (c // 4, 2 * h, 2 * w)

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        return unsqueeze(inputs), inputs.new_zeros(inputs.shape[0])

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return squeeze(inputs), inputs.new_zeros(inputs.shape[0])


__all__ = ["Squeeze", "Unsqueeze", "squeeze", "unsqueeze"]
