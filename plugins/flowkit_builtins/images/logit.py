"""Logit preprocessing as a transform of the flow (RealNVP, Dinh et al. 2017, section 4.1).

``y = logit(p)``, ``p = a + (1 - 2a) x`` maps dequantised data in ``[0, 1]`` to the real line,
where an unbounded Gaussian prior fits it. Being part of the flow, its log-determinant counts in
the likelihood, so the model's density is still one over ``[0, 1]^D`` and bits/dim are those of
the 8-bit (or ``levels``-level) data: ``dy/dx = (1 - 2a) / (p (1 - p))``, hence
``log|det| = sum_i [log(1 - 2a) - log p_i - log(1 - p_i)]``. ``a`` keeps ``p`` away from 0 and 1
(RealNVP: 0.05).

Elementwise: it accepts ``[batch, features]`` and image-shaped ``[batch, C, H, W]`` inputs alike.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from flowkit import ConfigurationError, DataError, InputOutsideDomain, Transform


class Logit(Transform):
    """``y = logit(a + (1 - 2a) x)``, for data in ``[0, 1]``; ``inverse`` is the sigmoid's."""

    name = "logit"
    #: The contract kit draws this transform's forward inputs from (0, 1).
    contract_domain: ClassVar[str] = "unit"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {},
        {"alpha": 1e-3},
        {"event_shape": (1, 4, 4)},
    ]

    def __init__(self, features: Any = None, *, alpha: float = 0.05, event_shape: Any = None):
        if event_shape is None and isinstance(features, (tuple, list)):
            event_shape, features = features, None
        if event_shape is not None:
            features = math.prod(int(d) for d in event_shape)
        super().__init__(features)
        if not 0.0 < alpha < 0.5:
            raise ConfigurationError(f"alpha must lie in (0, 0.5), got {alpha}")
        self.alpha = float(alpha)
        self.event_shape = tuple(event_shape) if event_shape is not None else (self.features,)

    def check_inputs(self, inputs: Tensor) -> None:
        if inputs.dim() < 2 or inputs[0].numel() != self.features:
            raise DataError(
                f"Logit expects inputs of {self.features} values per example, got "
                f"{list(inputs.shape)}"
            )

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        p = self.alpha + (1.0 - 2.0 * self.alpha) * inputs
        if not bool(((p > 0) & (p < 1)).all()):
            raise InputOutsideDomain()
        log_p, log_q = torch.log(p), torch.log1p(-p)
        logabsdet = (math.log(1.0 - 2.0 * self.alpha) - log_p - log_q).flatten(1).sum(dim=1)
        return log_p - log_q, logabsdet

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        p = torch.sigmoid(inputs)
        # log p + log(1 - p) = -softplus(-y) - softplus(y), stable for large |y|.
        log_pq = -F.softplus(-inputs) - F.softplus(inputs)
        logabsdet = (log_pq - math.log(1.0 - 2.0 * self.alpha)).flatten(1).sum(dim=1)
        return (p - self.alpha) / (1.0 - 2.0 * self.alpha), logabsdet

    def extra_repr(self) -> str:
        return f"features={self.features}, alpha={self.alpha}"


__all__ = ["Logit"]
