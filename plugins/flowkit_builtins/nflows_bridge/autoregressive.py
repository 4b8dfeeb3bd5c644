"""nflows' masked autoregressive transforms (MAF and its spline variants)."""

from __future__ import annotations

from typing import Any, ClassVar

import nflows.transforms as nt
import torch
import torch.nn.functional as F

from flowkit import ConfigurationError

from .base import NflowsTransform

# ---- autoregressive ---------------------------------------------------------------------------

_MADE_ACTIVATIONS = {"relu": F.relu, "elu": F.elu, "gelu": F.gelu, "tanh": torch.tanh}


class _NflowsAutoregressive(NflowsTransform):
    """Shared constructor of the masked autoregressive transforms (MADE conditioner)."""

    contract_examples: ClassVar[list[dict[str, Any]]] = [{"hidden": 16, "blocks": 1}]

    def __init__(
        self,
        features: int,
        *,
        hidden: int = 64,
        blocks: int = 2,
        activation: str = "relu",
        context_features: int = 0,
        **law_options: Any,
    ) -> None:
        super().__init__(features)
        if activation not in _MADE_ACTIVATIONS:
            raise ConfigurationError(
                f"unknown activation {activation!r}; choose from {', '.join(_MADE_ACTIVATIONS)}"
            )
        self.inner = self.wraps(
            features=self.features,
            hidden_features=hidden,
            context_features=context_features or None,
            num_blocks=blocks,
            activation=_MADE_ACTIVATIONS[activation],
            **law_options,
        )


class NflowsMAF(_NflowsAutoregressive):
    """Masked affine autoregressive transform (MAF; Papamakarios et al. 2017)."""

    name = "nflows.maf"
    wraps = nt.MaskedAffineAutoregressiveTransform


class _NflowsSplineAutoregressive(_NflowsAutoregressive):
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"hidden": 16, "blocks": 1, "num_bins": 4}
    ]

    def __init__(
        self, features: int, *, num_bins: int = 8, tail_bound: float = 3.0, **options: Any
    ) -> None:
        super().__init__(
            features, num_bins=num_bins, tails="linear", tail_bound=tail_bound, **options
        )


class NflowsRQAutoregressive(_NflowsSplineAutoregressive):
    """Rational-quadratic spline autoregressive transform (Neural Spline Flows, RQ-NSF (AR))."""

    name = "nflows.maf_rq"
    wraps = nt.MaskedPiecewiseRationalQuadraticAutoregressiveTransform


class NflowsQuadraticAutoregressive(_NflowsSplineAutoregressive):
    """Piecewise-quadratic autoregressive transform with linear tails."""

    name = "nflows.maf_quadratic"
    wraps = nt.MaskedPiecewiseQuadraticAutoregressiveTransform
