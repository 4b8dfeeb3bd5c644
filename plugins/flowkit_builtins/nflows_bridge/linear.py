"""nflows' permutations, linear maps, ActNorm and element-wise maps as flowkit transforms."""

from __future__ import annotations

from typing import Any, ClassVar

import nflows.transforms as nt
import torch
from torch import Tensor

from flowkit import ConfigurationError

from .base import NflowsTransform

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
