"""The adapter base class: a flowkit Transform forwarding to an nflows transform."""

from __future__ import annotations

from typing import ClassVar

import nflows.transforms as nt
from torch import Tensor, nn

from flowkit import Transform


class NflowsTransform(Transform):
    """Base of the adapters: forwards to the nflows transform in ``self.inner``."""

    #: The wrapped nflows class (shown in the docs).
    wraps: ClassVar[type] = nt.Transform
    inner: nn.Module

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        return self.inner(inputs, context)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        return self.inner.inverse(inputs, context)
