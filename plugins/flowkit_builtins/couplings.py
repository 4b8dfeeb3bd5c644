"""Coupling laws of NICE (section 3.2) and RealNVP: additive, multiplicative, affine.

The scale of the multiplicative and affine laws is ``exp(s)`` with the log-scale ``s`` bounded by
construction, so that the scale never reaches 0 or overflows during training (a frequent source
of NaN losses in other libraries). ``scale_bound`` selects how:

- ``tanh`` (default): ``s = bound * tanh(u / bound)``, so the scale lies in
  ``[e^-bound, e^bound]``;
- ``softclamp``: ``s = (2 bound / pi) * atan(u / bound)``, same range, heavier tails in ``u``;
- ``sigmoid``: Glow's ``scale = sigmoid(u + 2)``, in ``[e^-15, 1)`` (contracting only; the floor
  keeps the inverse finite for extreme conditioner outputs);
- ``exp``: unbounded ``s = u``; fastest, and can overflow.

With the conditioner's last layer zeroed (the default), ``tanh``, ``softclamp`` and ``exp`` start
as the identity.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from flowkit import ConfigurationError, CouplingTransform, hookimpl

SCALE_BOUNDS = ("tanh", "softclamp", "sigmoid", "exp")
#: Lower bound of the sigmoid law's log-scale: the scale stays >= 3e-7, its inverse <= 3.3e6.
SIGMOID_FLOOR = 15.0


def bounded_log_scale(u: Tensor, kind: str, bound: float) -> Tensor:
    """The log-scale ``s`` from the raw conditioner output ``u`` (see the module docstring)."""
    if kind == "tanh":
        return bound * torch.tanh(u / bound)
    if kind == "softclamp":
        return (2.0 * bound / math.pi) * torch.atan(u / bound)
    if kind == "sigmoid":
        # log(sigmoid(u + 2)), floored: below about -88 (float32) exp(s) underflows to 0 and the
        # inverse divides by it; the floor keeps the inverse finite (scale >= e^-SIGMOID_FLOOR).
        return (-F.softplus(-(u + 2.0))).clamp(min=-SIGMOID_FLOOR)
    return u


class AdditiveCoupling(CouplingTransform):
    """``y2 = x2 + m(x1)``: unit Jacobian, exact inverse (NICE eq. 5, the paper's choice).

    References: Dinh, Krueger, Bengio. NICE (2014), https://arxiv.org/abs/1410.8516
    """

    name = "additive"

    def _transform(self, x2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return x2 + params, x2.new_zeros(x2.shape[0])

    def _inverse_transform(self, y2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return y2 - params, y2.new_zeros(y2.shape[0])


class _ScaledCoupling(CouplingTransform):
    """Shared constructor of the laws with a bounded log-scale."""

    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"hidden": 16, "depth": 2},
        {"hidden": 16, "depth": 1, "partition": "halves", "parity": 1, "scale_bound": "softclamp"},
        {"hidden": 16, "depth": 1, "scale_bound": "sigmoid"},
        {"hidden": 16, "depth": 1, "scale_bound": "exp"},
    ]

    def __init__(self, features: int, *, scale_bound: str = "tanh", bound: float = 2.0, **kwargs):
        if scale_bound not in SCALE_BOUNDS:
            raise ConfigurationError(
                f"unknown scale_bound {scale_bound!r}; choose from {', '.join(SCALE_BOUNDS)}"
            )
        if not bound > 0:
            raise ConfigurationError(f"bound must be > 0, got {bound}")
        super().__init__(features, **kwargs)
        self.scale_bound, self.bound = scale_bound, float(bound)

    @property
    def bounded_scale(self) -> bool:
        """Whether the scale is bounded away from 0 and infinity (the contract kit's extreme-input
        check holds such laws to a finite inverse); ``exp`` is unbounded by design."""
        return self.scale_bound != "exp"

    def _log_scale(self, u: Tensor) -> Tensor:
        return bounded_log_scale(u, self.scale_bound, self.bound)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, scale_bound={self.scale_bound!r}, bound={self.bound}"


class MultiplicativeCoupling(_ScaledCoupling):
    """``y2 = x2 * b(x1)`` with ``b = exp(s) > 0``: ``log|det| = sum s`` (NICE section 3.2)."""

    name = "multiplicative"

    def _transform(self, x2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        s = self._log_scale(params)
        return x2 * torch.exp(s), s.sum(dim=1)

    def _inverse_transform(self, y2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        s = self._log_scale(params)
        return y2 * torch.exp(-s), -s.sum(dim=1)


class AffineCoupling(_ScaledCoupling):
    """``y2 = x2 * exp(s(x1)) + t(x1)``: ``log|det| = sum s`` (NICE section 3.2; RealNVP).

    References: Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP (2016),
    https://arxiv.org/abs/1605.08803
    """

    name = "affine"
    params_per_dim = 2

    def _transform(self, x2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        u, shift = self._split_params(params)
        s = self._log_scale(u)
        return x2 * torch.exp(s) + shift, s.sum(dim=1)

    def _inverse_transform(self, y2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        u, shift = self._split_params(params)
        s = self._log_scale(u)
        return (y2 - shift) * torch.exp(-s), -s.sum(dim=1)


@hookimpl
def flowkit_register_couplings():
    return [AdditiveCoupling, MultiplicativeCoupling, AffineCoupling]
