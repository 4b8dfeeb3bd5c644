"""Coupling laws of NICE (section 3.2) and RealNVP: additive, multiplicative, affine.

Each is a :class:`flowkit.CouplingLaw`, the map ``g`` of ``y2 = g(x2; m(x1))`` applied to
every transformed value with its own parameters, so the same law drives the flat ``nice``
couplings, the convolutional couplings of ``realnvp`` and ``glow`` and the autoregressive
layers of ``maf``.

The scale of the multiplicative and affine laws is ``exp(s)`` with the log-scale ``s`` bounded by
construction, so that the scale never reaches 0 or overflows during training (a frequent source
of NaN losses in other libraries). ``scale_bound`` selects how:

- ``tanh`` (default): ``s = bound * tanh(u / bound)``, so the scale lies in
  ``[e^-bound, e^bound]``;
- ``softclamp``: ``s = (2 bound / pi) * atan(u / bound)``, same range, heavier tails in ``u``;
- ``sigmoid``: Glow's ``scale = sigmoid(u + 2)``, in ``[e^-15, 1)`` (contracting only; the floor
  keeps the inverse finite for extreme conditioner outputs);
- ``exp``: unbounded ``s = u``; fastest, and can overflow.

With zero parameters (a zeroed conditioner, the default), ``tanh``, ``softclamp`` and ``exp``
are the identity; ``sigmoid`` starts at the scale ``sigmoid(2) = 0.88``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from flowkit import ConfigurationError, CouplingLaw, hookimpl

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


class AdditiveLaw(CouplingLaw):
    """``y = x + t``: unit Jacobian, exact inverse (NICE eq. 5, the paper's choice).

    References: Dinh, Krueger, Bengio. NICE (2014), https://arxiv.org/abs/1410.8516
    """

    name = "additive"
    volume_preserving = True

    def forward(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return inputs + params[..., 0], inputs.new_zeros(()).expand(inputs.shape)

    def inverse(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return inputs - params[..., 0], inputs.new_zeros(()).expand(inputs.shape)


class _ScaledLaw(CouplingLaw):
    """Shared options of the laws with a bounded log-scale ``s = bound(u)``.

    :param scale_bound: ``tanh``, ``softclamp``, ``sigmoid`` or ``exp`` (module docstring).
    :param bound: the largest ``|s|`` for ``tanh`` and ``softclamp``.
    """

    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {},
        {"scale_bound": "softclamp", "bound": 1.5},
        {"scale_bound": "sigmoid"},
        {"scale_bound": "exp"},
    ]

    def __init__(self, *, scale_bound: str = "tanh", bound: float = 2.0) -> None:
        if scale_bound not in SCALE_BOUNDS:
            raise ConfigurationError(
                f"unknown scale_bound {scale_bound!r}; choose from {', '.join(SCALE_BOUNDS)}"
            )
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not bound > 0:
            raise ConfigurationError(f"bound must be a number > 0, got {bound!r}")
        if not math.isfinite(bound):
            raise ConfigurationError(f"bound must be finite, got {bound!r}")
        super().__init__()
        self.scale_bound, self.bound = scale_bound, float(bound)
        # ``exp`` is unbounded by design; ``sigmoid`` is not the identity at u = 0.
        self.bounded = scale_bound != "exp"
        self.identity_at_zero = scale_bound != "sigmoid"

    def _log_scale(self, u: Tensor) -> Tensor:
        return bounded_log_scale(u, self.scale_bound, self.bound)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, scale_bound={self.scale_bound!r}, bound={self.bound}"


class MultiplicativeLaw(_ScaledLaw):
    """``y = x * exp(s)``: ``log|dy/dx| = s`` (NICE section 3.2)."""

    name = "multiplicative"

    def forward(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        s = self._log_scale(params[..., 0])
        return inputs * torch.exp(s), s

    def inverse(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        s = self._log_scale(params[..., 0])
        return inputs * torch.exp(-s), -s


class AffineLaw(_ScaledLaw):
    """``y = x * exp(s) + t``: ``log|dy/dx| = s`` (NICE section 3.2; RealNVP eq. 7-8).
    Parameter 0 is the raw log-scale ``u``, parameter 1 the shift ``t``.

    References: Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP (2016),
    https://arxiv.org/abs/1605.08803
    """

    name = "affine"
    params_per_value = 2

    def forward(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        s = self._log_scale(params[..., 0])
        return inputs * torch.exp(s) + params[..., 1], s

    def inverse(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        s = self._log_scale(params[..., 0])
        return (inputs - params[..., 1]) * torch.exp(-s), -s


#: The built-in laws by name, for image layers built directly from Python with a law name.
BUILTIN_LAWS: dict[str, type[CouplingLaw]] = {
    cls.name: cls for cls in (AdditiveLaw, MultiplicativeLaw, AffineLaw)
}


def law_instance(law: str | CouplingLaw, options: Mapping[str, Any] | None = None) -> CouplingLaw:
    """A law for a layer built from Python: ``law`` itself (an instance of any registered
    law), or the built-in law of that name built with ``options``."""
    if isinstance(law, CouplingLaw):
        if options:
            raise ConfigurationError("law_options apply to a law given by name, not an instance")
        return law
    if law not in BUILTIN_LAWS:
        raise ConfigurationError(
            f"unknown built-in coupling law {law!r} (choose from {', '.join(BUILTIN_LAWS)}); "
            "pass any registered law as an instance"
        )
    return BUILTIN_LAWS[law](**dict(options or {}))


@hookimpl
def flowkit_register_coupling_laws():
    return list(BUILTIN_LAWS.values())


__all__ = [
    "BUILTIN_LAWS",
    "SCALE_BOUNDS",
    "AdditiveLaw",
    "AffineLaw",
    "MultiplicativeLaw",
    "bounded_log_scale",
    "law_instance",
]
