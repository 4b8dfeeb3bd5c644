"""nflows' coupling transforms as flowkit transforms, with a context-aware MLP conditioner."""

from __future__ import annotations

from typing import Any, ClassVar

import nflows.transforms as nt
import torch
from torch import Tensor, nn

from flowkit import MLP, ConfigurationError, partition_indices

from .base import NflowsTransform

# ---- couplings --------------------------------------------------------------------------------


class ContextMLP(nn.Module):
    """flowkit's :class:`flowkit.MLP` behind nflows' conditioner signature ``net(x, context)``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden: int,
        depth: int,
        activation: str,
        zero_init: bool,
        context_features: int = 0,
    ) -> None:
        super().__init__()
        # nflows' spline couplings scale their width/height logits by 1/sqrt(hidden_features).
        self.hidden_features = hidden
        self.context_features = context_features
        self.mlp = MLP(
            in_features + context_features,
            out_features,
            hidden=hidden,
            depth=depth,
            activation=activation,
            zero_init_output=zero_init,
        )

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> Tensor:
        if self.context_features:
            if context is None:
                raise ConfigurationError("this coupling was built to need a context")
            inputs = torch.cat([inputs, context], dim=1)
        return self.mlp(inputs)


class _NflowsCoupling(NflowsTransform):
    """Shared constructor: flowkit's coupling options, turned into nflows' mask and net factory.

    Accepts the options the NICE pipeline passes to a coupling law (``hidden``, ``depth``,
    ``activation``, ``partition``, ``parity``, ``zero_init``), plus ``context_features``.
    """

    contract_examples: ClassVar[list[dict[str, Any]]] = [{"hidden": 16, "depth": 1}]

    def __init__(
        self,
        features: int,
        *,
        hidden: int = 1000,
        depth: int = 5,
        partition: str = "interleaved",
        parity: int = 0,
        activation: str = "relu",
        zero_init: bool = True,
        context_features: int = 0,
        **law_options: Any,
    ) -> None:
        super().__init__(features)
        _, transformed = partition_indices(self.features, partition, parity)
        mask = torch.zeros(self.features, dtype=torch.long)
        mask[transformed] = 1  # nflows: mask > 0 marks the transformed features

        def make_net(in_features: int, out_features: int) -> ContextMLP:
            return ContextMLP(
                in_features,
                out_features,
                hidden=hidden,
                depth=depth,
                activation=activation,
                zero_init=zero_init,
                context_features=context_features,
            )

        self.inner = self.wraps(mask, make_net, **law_options)


class NflowsAdditiveCoupling(_NflowsCoupling):
    """``y2 = x2 + m(x1)`` (``nflows.transforms.AdditiveCouplingTransform``; NICE eq. 5)."""

    name = "nflows.additive_coupling"
    wraps = nt.AdditiveCouplingTransform


class NflowsAffineCoupling(_NflowsCoupling):
    """``y2 = x2 * (sigmoid(u + 2) + 1e-3) + t`` (``AffineCouplingTransform``; RealNVP)."""

    name = "nflows.affine_coupling"
    wraps = nt.AffineCouplingTransform


class _NflowsSplineCoupling(_NflowsCoupling):
    contract_examples: ClassVar[list[dict[str, Any]]] = [{"hidden": 16, "depth": 1, "num_bins": 4}]

    def __init__(
        self, features: int, *, num_bins: int = 8, tail_bound: float = 3.0, **options: Any
    ) -> None:
        super().__init__(
            features, num_bins=num_bins, tails="linear", tail_bound=tail_bound, **options
        )


class NflowsRQCoupling(_NflowsSplineCoupling):
    """Rational-quadratic spline coupling with linear tails (Durkan et al. 2019)."""

    name = "nflows.rq_coupling"
    wraps = nt.PiecewiseRationalQuadraticCouplingTransform


class NflowsQuadraticCoupling(_NflowsSplineCoupling):
    """Piecewise-quadratic coupling with linear tails (Müller et al. 2018)."""

    name = "nflows.quadratic_coupling"
    wraps = nt.PiecewiseQuadraticCouplingTransform


class NflowsCubicCoupling(_NflowsSplineCoupling):
    """Piecewise-cubic spline coupling with linear tails (Durkan et al. 2019, cubic)."""

    name = "nflows.cubic_coupling"
    wraps = nt.PiecewiseCubicCouplingTransform
