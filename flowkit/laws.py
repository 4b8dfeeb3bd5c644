"""Coupling laws: the elementwise invertible map ``g`` of NICE's general coupling layer.

NICE (Dinh et al. 2014, section 3.2) writes a coupling layer as ``y1 = x1``,
``y2 = g(x2; m(x1))`` where ``g`` is invertible in ``x2`` for every value of ``m(x1)``. The
law ``g`` is independent of how ``x`` is split and of what network computes ``m``: the same
law drives a flat coupling (an MLP conditioner), an image coupling (a convolutional
conditioner) and an autoregressive layer (MADE, Papamakarios et al. 2017, where ``m`` of
value ``i`` sees only the values before it). So a law is a part of its own:
:class:`CouplingLaw` maps each value with its own parameters, and the layer types
(:class:`flowkit.LawCoupling`, the image and ``maf`` plugins) only arrange the conditioner's
output into those parameters (:func:`arrange_params`) and sum the log-derivatives.

Every law here is elementwise: ``y[i] = g(x[i]; params[i, :])``, so the Jacobian of the
transformed part is diagonal and ``log|det| = sum_i log|g'(x[i])|``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from flowkit.errors import ConfigurationError

#: How the conditioner's output channels map to ``(value, parameter)`` pairs, see
#: :func:`arrange_params`.
PARAM_LAYOUTS = ("grouped", "interleaved")


class CouplingLaw(nn.Module):
    """An elementwise, strictly monotonic map ``y = g(x; params)`` with its log-derivative.

    Subclasses set :attr:`name` (the name users type: ``--coupling NAME``), implement
    :meth:`forward` and :meth:`inverse`, and set :attr:`params_per_value` (a class attribute,
    or an attribute set in ``__init__`` when it depends on an option, e.g. a spline's bins).
    Options are keyword arguments of ``__init__`` with defaults; check them there and raise
    :class:`flowkit.ConfigurationError` for bad values.

    ``x`` has any shape (``[B, D]`` in a flat coupling, ``[B, C, H, W]`` in an image one) and
    ``params`` has shape ``[*x.shape, params_per_value]``: ``params[..., k]`` is the ``k``-th
    parameter of each value. Both methods return the mapped values and the elementwise
    log-derivative ``log|dy/dx|`` (of the inverse map, for :meth:`inverse`), each of ``x``'s
    shape; the layer sums it into the per-example log-determinant.
    """

    name: ClassVar[str] = ""
    #: Conditioner outputs each transformed value needs.
    params_per_value: int = 1
    #: ``grouped``: parameter ``k`` of value ``i`` is conditioner channel ``k * n + i`` (all
    #: first parameters, then all second ones); ``interleaved``: channel ``i * P + k``.
    params_layout: ClassVar[str] = "grouped"
    #: Whether all-zero parameters make ``g`` the identity, so that a zero-initialised
    #: conditioner starts its layer as the identity (the contract kit checks the claim).
    identity_at_zero: bool = True
    #: Whether the map stays finite, and its inverse too, for any finite parameters (a bounded
    #: scale); the contract kit then checks extreme conditioner outputs. Set it False for an
    #: unbounded law (``affine`` with ``scale_bound=exp``).
    bounded: bool = True
    #: Whether ``log|dy/dx|`` is zero everywhere (``additive``): layers skip summing it.
    volume_preserving: ClassVar[bool] = False
    #: Options of each law the contract kit checks (``cls(**example)``).
    contract_examples: ClassVar[list[dict[str, Any]]] = [{}]

    def forward(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        """``(g(inputs; params), log|g'(inputs; params)|)``, both of ``inputs``' shape."""
        raise NotImplementedError

    def inverse(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        """``(g^-1(inputs; params), log|d g^-1 / d inputs|)``: the negated forward one at
        the preimage."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"name={self.name!r}, params_per_value={self.params_per_value}"


def arrange_params(raw: Tensor, law: CouplingLaw, dim: int = 1) -> Tensor:
    """A conditioner's output as the law's parameters: ``[..., n * P, ...]`` along ``dim``
    becomes ``[..., n, ..., P]`` (the values' shape with the ``P = law.params_per_value``
    parameters last), read in the law's :attr:`CouplingLaw.params_layout`.

    A view, no copy: ``dim`` of a flat conditioner's ``[B, n * P]`` and of a convolutional
    one's ``[B, C * P, H, W]`` is 1.
    """
    count = law.params_per_value
    if raw.shape[dim] % count:
        raise ConfigurationError(
            f"the conditioner gave {raw.shape[dim]} outputs along dimension {dim}, not a "
            f"multiple of the {law.name!r} law's {count} parameters per value"
        )
    values = raw.shape[dim] // count
    if law.params_layout == "interleaved":
        return raw.unflatten(dim, (values, count)).movedim(dim + 1, -1)
    if law.params_layout == "grouped":
        return raw.unflatten(dim, (count, values)).movedim(dim, -1)
    raise ConfigurationError(
        f"law {law.name!r} has params_layout {law.params_layout!r}; choose from "
        f"{', '.join(PARAM_LAYOUTS)}"
    )


def sum_log_derivative(law: CouplingLaw, log_derivative: Tensor) -> Tensor:
    """The per-example log-determinant ``[B]``: the elementwise log-derivatives summed over
    every dimension but the first (zeros for a volume-preserving law, without the sum)."""
    if law.volume_preserving:
        return log_derivative.new_zeros(log_derivative.shape[0])
    return log_derivative.flatten(1).sum(dim=1)


def apply_law(
    law: CouplingLaw, values: Tensor, raw_params: Tensor, inverse: bool
) -> tuple[Tensor, Tensor]:
    """The law (or its inverse) on ``values`` with the conditioner output ``raw_params``
    (``[B, n * P, ...]``): ``(outputs, per-example log|det|)``. Every layer type calls this."""
    params = arrange_params(raw_params, law)
    outputs, log_derivative = (law.inverse if inverse else law.forward)(values, params)
    return outputs, sum_log_derivative(law, log_derivative)


__all__ = [
    "PARAM_LAYOUTS",
    "CouplingLaw",
    "apply_law",
    "arrange_params",
    "sum_log_derivative",
]
