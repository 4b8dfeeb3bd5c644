"""Checkerboard and channel-wise partitions of an image, by index buffers (RealNVP section 3.4).

A coupling layer splits its input into a conditioning part ``x1`` and a transformed part ``x2``.
RealNVP writes both of its splits with binary masks ``b * x``, which feeds the zeros of the
masked half through the conditioner and computes (then discards) outputs for the kept half.
Here both are gathers with index buffers, and each part is itself an image the conditioner
convolves:

- ``channel``: ``x1`` = the first ``ceil(C/2)`` channels, ``x2`` = the rest (``parity=1`` swaps).
- ``checkerboard``: the pixels with ``(y + x)`` even versus odd. In each 2x2 block a part holds
  two pixels (the diagonal, or the anti-diagonal), so each part is a ``[2C, H/2, W/2]`` image:
  the conditioner sees the checkerboard's neighbours at half resolution. ``H`` and ``W`` must be
  even.

``merge`` is the exact inverse of ``split``; neither changes a value, so the partition adds
nothing to the log-determinant.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from flowkit import ConfigurationError

PARTITIONS = ("channel", "checkerboard")


class ChannelPartition(nn.Module):
    """``x1`` = channels ``[0, ceil(C/2))``, ``x2`` = the rest; ``parity=1`` swaps the roles."""

    def __init__(self, shape: Sequence[int], parity: int = 0) -> None:
        super().__init__()
        c, h, w = shape
        if c < 2:
            raise ConfigurationError(f"a channel-wise partition needs 2 or more channels, got {c}")
        index = torch.arange(c)
        first, second = index[: (c + 1) // 2], index[(c + 1) // 2 :]
        identity, transformed = (first, second) if parity % 2 == 0 else (second, first)
        self.register_buffer("identity_index", identity)
        self.register_buffer("transform_index", transformed)
        self.register_buffer("output_order", torch.argsort(torch.cat([identity, transformed])))
        self.condition_shape = (len(identity), h, w)
        self.transform_shape = (len(transformed), h, w)

    def split(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        return (
            inputs.index_select(1, self.identity_index),
            inputs.index_select(1, self.transform_index),
        )

    def merge(self, x1: Tensor, x2: Tensor) -> Tensor:
        return torch.cat([x1, x2], dim=1).index_select(1, self.output_order)


def _checkerboard_positions(h: int, w: int, offsets: Sequence[tuple[int, int]]) -> Tensor:
    """Flat pixel positions ``(2Y + i) * w + 2X + j`` for each ``(i, j)`` in ``offsets``,
    ordered ``[offset, Y, X]`` so that they reshape into ``[len(offsets), h/2, w/2]``."""
    rows = torch.arange(0, h, 2).view(-1, 1)
    cols = torch.arange(0, w, 2).view(1, -1)
    return torch.cat([((rows + i) * w + cols + j).flatten() for i, j in offsets])


class CheckerboardPartition(nn.Module):
    """``x1`` = pixels with ``(y + x) % 2 == parity``, ``x2`` = the others, each as an image
    ``[2C, H/2, W/2]`` (channel ``2c + k``: the ``k``-th pixel of the part in each 2x2 block)."""

    def __init__(self, shape: Sequence[int], parity: int = 0) -> None:
        super().__init__()
        c, h, w = shape
        if h % 2 or w % 2:
            raise ConfigurationError(
                f"a checkerboard partition needs an even height and width, got {c}x{h}x{w}"
            )
        even = _checkerboard_positions(h, w, [(0, 0), (1, 1)])
        odd = _checkerboard_positions(h, w, [(0, 1), (1, 0)])
        identity, transformed = (even, odd) if parity % 2 == 0 else (odd, even)
        self.register_buffer("identity_index", identity)
        self.register_buffer("transform_index", transformed)
        self.register_buffer("output_order", torch.argsort(torch.cat([identity, transformed])))
        self.shape = (c, h, w)
        self.condition_shape = self.transform_shape = (2 * c, h // 2, w // 2)

    def _gather(self, pixels: Tensor, index: Tensor) -> Tensor:
        b, c = pixels.shape[:2]
        _, h2, w2 = self.condition_shape
        return pixels.index_select(2, index).reshape(b, 2 * c, h2, w2)

    def split(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        pixels = inputs.flatten(2)
        return self._gather(pixels, self.identity_index), self._gather(
            pixels, self.transform_index
        )

    def merge(self, x1: Tensor, x2: Tensor) -> Tensor:
        b = x1.shape[0]
        c, h, w = self.shape
        parts = torch.cat([x1.reshape(b, c, -1), x2.reshape(b, c, -1)], dim=2)
        return parts.index_select(2, self.output_order).reshape(b, c, h, w)


def make_partition(kind: str, shape: Sequence[int], parity: int) -> nn.Module:
    if kind == "channel":
        return ChannelPartition(shape, parity)
    if kind == "checkerboard":
        return CheckerboardPartition(shape, parity)
    raise ConfigurationError(f"unknown partition {kind!r}; choose from {', '.join(PARTITIONS)}")


__all__ = ["PARTITIONS", "ChannelPartition", "CheckerboardPartition", "make_partition"]
