"""The nflows bridge: nflows' own transforms as flowkit components (kind ``transform``).

Each class here is a thin adapter: a :class:`flowkit.Transform` that takes ``features`` (plus
options with defaults), builds one nflows transform as ``self.inner`` and forwards ``forward`` /
``inverse`` to it, so the registry, pipelines and the contract kit treat it like any flowkit
component. Registry names are ``nflows.<name>``.

Only transforms that pass flowkit's contract kit on torch 2.x are wrapped; :data:`EXCLUDED`
lists the others and why (see ``docs/nflows-bridge.md``). nflows' couplings call their
conditioner as ``net(inputs, context)``, which nflows' own MLP does not accept, so they get
:class:`ContextMLP`: flowkit's MLP with an optional context appended to its input.

References: Durkan, Bekasov, Murray, Papamakarios. nflows (2020),
https://github.com/bayesiains/nflows (release 0.14).
"""

from __future__ import annotations

from typing import Any, ClassVar

import nflows.transforms as nt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowkit import MLP, ConfigurationError, Transform, hookimpl, partition_indices


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


# ---- linear maps and permutations ------------------------------------------------------------


class NflowsReversePermutation(NflowsTransform):
    """Reverses the order of the features (``nflows.transforms.ReversePermutation``)."""

    name = "nflows.reverse"
    wraps = nt.ReversePermutation

    def __init__(self, features: int) -> None:
        super().__init__(features)
        self.inner = nt.ReversePermutation(self.features)


class NflowsRandomPermutation(NflowsTransform):
    """A fixed random permutation drawn from ``seed``, kept in a buffer (``RandomPermutation``)."""

    name = "nflows.random_permutation"
    wraps = nt.RandomPermutation

    def __init__(self, features: int, seed: int = 0) -> None:
        super().__init__(features)
        with torch.random.fork_rng(devices=[]):  # nflows draws from the global RNG
            torch.manual_seed(seed)
            self.inner = nt.RandomPermutation(self.features)


class NflowsHouseholder(NflowsTransform):
    """An orthogonal map as a product of Householder reflections (log|det| = 0)."""

    name = "nflows.householder"
    wraps = nt.HouseholderSequence

    def __init__(self, features: int, num_transforms: int | None = None) -> None:
        super().__init__(features)
        self.inner = nt.HouseholderSequence(self.features, num_transforms or self.features)


class NflowsSVDLinear(NflowsTransform):
    """A learned linear map ``U diag(s) V^T + b`` with Householder factors (``SVDLinear``)."""

    name = "nflows.svd_linear"
    wraps = nt.SVDLinear

    def __init__(self, features: int, num_householder: int | None = None) -> None:
        super().__init__(features)
        count = num_householder or self.features + self.features % 2
        if count % 2:
            raise ConfigurationError(f"num_householder must be even, got {count}")
        self.inner = nt.SVDLinear(self.features, num_householder=count)


class NflowsActNorm(NflowsTransform):
    """Glow's ActNorm (``nflows.transforms.ActNorm``): data-dependent per-feature scale and shift.

    flowkit's :meth:`initialize` runs nflows' initialisation; its ``initialized`` flag is
    nflows' own buffer, so it survives a state_dict round trip.
    """

    name = "nflows.actnorm"
    wraps = nt.ActNorm

    def __init__(self, features: int) -> None:
        super().__init__(features)
        self.inner = nt.ActNorm(self.features)

    @property
    def needs_initialization(self) -> bool:
        return not bool(self.inner.initialized)

    @torch.no_grad()
    def initialize(self, inputs: Tensor) -> None:
        self.check_inputs(inputs)
        self.inner._initialize(inputs)
        # nflows replaces the flag by a new CPU tensor; keep it where the module lives.
        self.inner.initialized = torch.ones((), dtype=torch.bool, device=inputs.device)


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


# ---- element-wise -----------------------------------------------------------------------------


class _NflowsElementwiseSpline(NflowsTransform):
    """A learned, unconditional spline per feature with linear tails outside the bound."""

    contract_examples: ClassVar[list[dict[str, Any]]] = [{"num_bins": 4}]

    def __init__(self, features: int, num_bins: int = 8, tail_bound: float = 3.0) -> None:
        super().__init__(features)
        self.inner = self.wraps(
            [self.features], num_bins=num_bins, tails="linear", tail_bound=tail_bound
        )


class NflowsRQCDF(_NflowsElementwiseSpline):
    name = "nflows.rq_cdf"
    wraps = nt.PiecewiseRationalQuadraticCDF


class NflowsQuadraticCDF(_NflowsElementwiseSpline):
    name = "nflows.quadratic_cdf"
    wraps = nt.PiecewiseQuadraticCDF


class NflowsCubicCDF(_NflowsElementwiseSpline):
    name = "nflows.cubic_cdf"
    wraps = nt.PiecewiseCubicCDF


class NflowsLogTanh(NflowsTransform):
    """``tanh`` near 0, logarithmic beyond ``cut_point``: a bijection of R without parameters."""

    name = "nflows.log_tanh"
    wraps = nt.LogTanh

    def __init__(self, features: int, cut_point: float = 1.0) -> None:
        super().__init__(features)
        self.inner = nt.LogTanh(cut_point=cut_point)


WRAPPED: list[type[NflowsTransform]] = [
    NflowsReversePermutation,
    NflowsRandomPermutation,
    NflowsHouseholder,
    NflowsSVDLinear,
    NflowsActNorm,
    NflowsAdditiveCoupling,
    NflowsAffineCoupling,
    NflowsRQCoupling,
    NflowsQuadraticCoupling,
    NflowsCubicCoupling,
    NflowsMAF,
    NflowsRQAutoregressive,
    NflowsQuadraticAutoregressive,
    NflowsRQCDF,
    NflowsQuadraticCDF,
    NflowsCubicCDF,
    NflowsLogTanh,
]

#: nflows 0.14 transforms that are *not* wrapped, and why (measured with flowkit.testing on
#: torch 2.13; tests/test_nflows_bridge.py re-checks the reasons that can be re-checked).
EXCLUDED: dict[str, str] = {
    "NaiveLinear": "its inverse and log-det call torch.solve, removed from torch (RuntimeError)",
    "LULinear": "its inverse uses the deprecated torch.triangular_solve (warns; due for removal); "
    "use flowkit's own `lu` permutation",
    "QRLinear": "its inverse uses the deprecated torch.triangular_solve",
    "OneByOneConvolution": "4-D image inputs only, and built on LULinear",
    "BatchNorm": "passes the kit in eval mode, but in training mode each example's output and "
    "density depend on the rest of the batch and the inverse raises InverseNotAvailable",
    "LeakyReLU": "fails the device/dtype check: its log-det is always a float32 CPU tensor",
    "Tanh, Sigmoid, Logit, CauchyCDF": "not bijections of R^D: InputOutsideDomain on "
    "ordinary inputs",
    "MaskedPiecewiseLinearAutoregressiveTransform, MaskedPiecewiseCubicAutoregressiveTransform": (
        "no tails option in 0.14: inputs must lie in [0, 1] (InputOutsideDomain)"
    ),
    "PiecewiseLinearCouplingTransform, PiecewiseLinearCDF": "fail the round-trip check: "
    "inverse(forward(x)) is off by 1e-6 to 1e-5 in float64 (with linear tails; without, inputs "
    "must lie in [0, 1])",
    "GatedLinearUnit": "needs a context to compute anything",
    "SqueezeTransform, MultiscaleCompositeTransform": "image/multi-scale plumbing, not a map of "
    "flat vectors",
    "IdentityTransform, PointwiseAffineTransform, AffineTransform": "pass the kit but have "
    "nothing to learn",
}


@hookimpl
def flowkit_register_transforms() -> list[type]:
    return list(WRAPPED)
