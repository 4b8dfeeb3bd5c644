"""The multi-scale architecture (RealNVP, Dinh et al. 2017, section 3.6; Glow section 3).

A flow over flat ``[batch, C * H * W]`` vectors (what flowkit's training, evaluation, sampling
and inpainting use) built from image-shaped levels:

    x -> reshape to [C, H, W] -> level 1 -> factor out -> level 2 -> ... -> level L -> flatten

Each level is a :class:`flowkit.CompositeTransform` of image transforms (typically starting with
a squeeze). After every level but the last, the first ``ceil(C / 2)`` channels leave (they are
modelled at that scale and go straight to the output) and only the rest continue, so deeper
levels work on fewer values at lower resolution. Factoring out is a re-arrangement of values,
so ``log|det|`` is the sum of the levels' log-dets. The output concatenates the factored-out
parts (flattened, level 1 first) and the last level's output; a factorised prior over the whole
vector then gives RealNVP's model, and a :class:`.SplitPrior` at the end of a level Glow's
learned prior.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from flowkit import Transform
from flowkit_builtins.images.base import image_shape


class MultiScale(Transform):
    """Image levels with a factor-out between consecutive ones, on flat vectors.

    :param event_shape: ``(C, H, W)`` (or ``(H, W)``) of the data.
    :param levels: one transform per level, each mapping ``[B, *shape_in]`` to
        ``[B, *shape_out]``.
    :param level_shapes: the output shape of each level (before its factor-out).
    """

    def __init__(
        self,
        event_shape: Any,
        levels: Sequence[nn.Module],
        level_shapes: Sequence[Sequence[int]],
    ) -> None:
        self.event_shape = image_shape(event_shape)
        super().__init__(math.prod(self.event_shape))
        self.levels = nn.ModuleList(levels)
        self.level_shapes = [tuple(int(d) for d in s) for s in level_shapes]
        #: Channels that leave after each level but the last.
        self.factored = [(s[0] + 1) // 2 for s in self.level_shapes[:-1]]

    def _run(self, inputs: Tensor, initialize: bool) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        h = inputs.reshape(inputs.shape[0], *self.event_shape)
        total = inputs.new_zeros(inputs.shape[0])
        outputs = []
        for index, level in enumerate(self.levels):
            if initialize and getattr(level, "needs_initialization", False):
                level.initialize(h)
            h, logabsdet = level(h)
            total = total + logabsdet
            if index < len(self.factored):
                k = self.factored[index]
                outputs.append(h[:, :k].flatten(1))
                h = h[:, k:]
        outputs.append(h.flatten(1))
        return torch.cat(outputs, dim=1), total

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._run(inputs, initialize=False)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        batch = inputs.shape[0]
        sizes = [k * s[1] * s[2] for k, s in zip(self.factored, self.level_shapes)]
        pieces = list(inputs.split([*sizes, inputs.shape[1] - sum(sizes)], dim=1))
        h = inputs  # replaced by the last level's part below
        total = inputs.new_zeros(batch)
        for index in reversed(range(len(self.levels))):
            shape = self.level_shapes[index]
            if index == len(self.levels) - 1:
                h = pieces[-1].reshape(batch, *shape)
            else:
                k = self.factored[index]
                z = pieces[index].reshape(batch, k, shape[1], shape[2])
                h = torch.cat([z, h], dim=1)
            h, logabsdet = self.levels[index].inverse(h)
            total = total + logabsdet
        return h.reshape(batch, -1), total

    @property
    def needs_initialization(self) -> bool:
        return any(getattr(level, "needs_initialization", False) for level in self.levels)

    @torch.no_grad()
    def initialize(self, inputs: Tensor) -> None:
        """Fit each level's data-dependent layers on the data as the levels before leave it."""
        self._run(inputs, initialize=True)

    def extra_repr(self) -> str:
        shapes = ", ".join("x".join(str(d) for d in s) for s in self.level_shapes)
        return f"features={self.features}, level outputs: {shapes}"


__all__ = ["MultiScale"]
