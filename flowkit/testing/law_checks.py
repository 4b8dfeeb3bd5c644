"""Contract checks of coupling laws and conditioners, on their own and in every layer type.

A law (:class:`flowkit.CouplingLaw`) is an elementwise map, so it is checked on its own first:
invertibility, the log-derivative against autograd's derivative of the elementwise map, a
diagonal Jacobian, strict monotonicity, the identity at zero parameters where it claims it,
float32 and float64, and finite results at extreme parameters where it claims a bounded scale.
A conditioner (:class:`flowkit.Conditioner`) is checked for its output shape, its zeroed last
layer, its use of a context and, for the autoregressive type, that output ``i`` depends only on
the values before ``i``. Then :func:`layer_factories` pairs every registered law with every
registered conditioner through each layer class of that conditioner's type, and the transform
checks of :mod:`flowkit.testing.transform_checks` run on the result: a third-party law is
checked in image and autoregressive layers without its author writing a test for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import torch
from torch import Tensor

from flowkit.conditioners import Conditioner
from flowkit.coupling import LawCoupling
from flowkit.laws import CouplingLaw
from flowkit.testing.transform_checks import ContractError, Factory

#: Value shapes a law is checked at: flat ``[B, D]`` and image ``[B, C, H, W]``.
LAW_SHAPES = ((6, 5), (2, 3, 2, 2))
#: Sizes of the conditioners built for their checks, per layer type.
_CONDITIONER_SIZES: dict[str, tuple[tuple[int, int], tuple[int, ...]]] = {
    "flat": ((3, 8), (4, 3)),  # (constructor positionals, input shape)
    "image": ((2, 6), (4, 2, 4, 4)),
    "autoregressive": ((5, 2), (4, 5)),
}


def _data(shape: tuple[int, ...], dtype: torch.dtype, seed: int, scale: float = 1.0) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype)


def _law_case(make: Factory, shape, dtype=torch.float64, seed=0, scale=1.0):
    law = make().to(dtype)
    if not isinstance(law, CouplingLaw):
        raise ContractError(f"a law must be a flowkit.CouplingLaw, got {type(law).__name__}")
    params = _data((*shape, law.params_per_value), dtype, seed + 1, scale)
    return law, _data(shape, dtype, seed), params


def _first(
    function: Callable[..., tuple[Tensor, Tensor]], values: Tensor, params: Tensor
) -> Tensor:
    return function(values, params)[0]


def _one_row(net: Callable[[Tensor], Tensor], point: Tensor) -> Tensor:
    return net(point[None])[0]


def _close(a: Tensor, b: Tensor, atol: float, what: str) -> None:
    if a.shape != b.shape:
        raise ContractError(f"{what}: shapes differ, {list(a.shape)} vs {list(b.shape)}")
    error = (a - b).abs().max().item() if a.numel() else 0.0
    if not error <= atol:
        raise ContractError(f"{what}: max abs difference {error:.3g} > {atol:.1g}")


@torch.no_grad()
def check_law_invertibility(make: Factory, atol: float = 1e-9) -> None:
    """``inverse(forward(x)) == x`` at every shape, with log-derivatives that are negatives
    and have the values' shape."""
    for shape in LAW_SHAPES:
        law, x, params = _law_case(make, shape)
        y, ld = law(x, params)
        if y.shape != x.shape or ld.shape != x.shape:
            raise ContractError(
                f"forward on values {list(x.shape)} returned {list(y.shape)} and a "
                f"log-derivative {list(ld.shape)}; both must have the values' shape"
            )
        back, ld_back = law.inverse(y, params)
        _close(back, x, atol, f"inverse(forward(x)) vs x at {list(shape)}")
        _close(ld_back, -ld, atol, "inverse log-derivative vs minus the forward one")


def check_law_log_derivative(make: Factory, atol: float = 1e-7) -> None:
    """The log-derivative equals autograd's ``log|dy/dx|`` and the Jacobian is diagonal
    (value ``i`` of the output depends on value ``i`` of the input only), both directions."""
    law, x, params = _law_case(make, (3, 4))
    for direction in ("forward", "inverse"):
        function = getattr(law, direction)
        jacobian = torch.autograd.functional.jacobian(partial(_first, function, params=params), x)
        jacobian = jacobian.reshape(x.numel(), x.numel())
        diagonal = torch.diagonal(jacobian)
        off = (jacobian - torch.diag(diagonal)).abs().max().item()
        if off > atol:
            raise ContractError(
                f"{direction}: the Jacobian is not diagonal (off-diagonal {off:.3g})"
            )
        _close(
            function(x, params)[1].reshape(-1),
            diagonal.abs().log(),
            atol,
            f"{direction} log-derivative vs autograd",
        )


@torch.no_grad()
def check_law_monotonic(make: Factory) -> None:
    """For fixed parameters, ``g`` is strictly increasing in ``x`` on a grid over [-6, 6]."""
    law = make().to(torch.float64)
    grid = torch.linspace(-6.0, 6.0, 241, dtype=torch.float64)
    params = _data((1, 5, law.params_per_value), torch.float64, 7).expand(len(grid), -1, -1)
    y, _ = law(grid[:, None].expand(-1, 5).contiguous(), params.contiguous())
    steps = y.diff(dim=0)
    if not bool((steps > 0).all()):
        raise ContractError(
            f"not strictly increasing in x (smallest step {steps.min().item():.3g})"
        )


@torch.no_grad()
def check_law_identity_at_zero(make: Factory) -> None:
    """Where the law claims ``identity_at_zero``, zero parameters give ``y = x`` and log 0."""
    law, x, params = _law_case(make, LAW_SHAPES[1])
    if not law.identity_at_zero:
        return
    y, ld = law(x, torch.zeros_like(params))
    _close(y, x, 1e-12, "forward at zero parameters vs the identity")
    _close(ld, torch.zeros_like(x), 1e-12, "log-derivative at zero parameters")


@torch.no_grad()
def check_law_dtypes(make: Factory) -> None:
    """float32 and float64 values give outputs of the same dtype that agree."""
    results = {}
    for dtype in (torch.float32, torch.float64):
        law, x, params = _law_case(make, LAW_SHAPES[0], dtype)
        y, ld = law(x, params)
        if y.dtype != dtype or ld.dtype != dtype:
            raise ContractError(f"{dtype} values gave outputs of {y.dtype} and {ld.dtype}")
        results[dtype] = y.double()
    _close(results[torch.float32], results[torch.float64], 1e-4, "float32 vs float64")


@torch.no_grad()
def check_law_extremes(make: Factory) -> None:
    """A bounded law: wherever forward is finite at huge parameters and inputs (float32), the
    inverse of its outputs is finite too (a scale that underflows to 0 is caught here)."""
    law, x, params = _law_case(make, LAW_SHAPES[0], torch.float32, 3, scale=200.0)
    if not law.bounded:
        return
    y, ld = law(x * 50.0, params)
    finite = torch.isfinite(y) & torch.isfinite(ld)
    back, ld_back = law.inverse(torch.where(finite, y, 0.0), params)
    if not (torch.isfinite(back[finite]).all() and torch.isfinite(ld_back[finite]).all()):
        raise ContractError("forward is finite at extreme parameters but the inverse is not")


LAW_CHECKS: dict[str, Callable[[Factory], None]] = {
    "law_invertibility": check_law_invertibility,
    "law_log_derivative": check_law_log_derivative,
    "law_monotonic": check_law_monotonic,
    "law_identity_at_zero": check_law_identity_at_zero,
    "law_dtypes": check_law_dtypes,
    "law_extremes": check_law_extremes,
}


def iter_law_checks(make: Factory) -> Iterator[tuple[str, Callable[[], None]]]:
    for name, check in LAW_CHECKS.items():
        yield name, partial(check, make)


def check_law(make: Factory) -> None:
    """Run every law check on ``make()`` (a zero-argument callable returning a new law)."""
    for _, run in iter_law_checks(make):
        run()


# ---- conditioners ------------------------------------------------------------------------------


def _conditioner(cls: type, options: dict, *, context: int = 0, zero_init: bool = True) -> Any:
    layer = getattr(cls, "layer", None)
    if layer not in _CONDITIONER_SIZES:
        raise ContractError(f"conditioner layer type {layer!r} is not one of flowkit's")
    sizes, _ = _CONDITIONER_SIZES[layer]
    torch.manual_seed(0)
    net = cls(*sizes, context_features=context, zero_init=zero_init, **options)
    if not isinstance(net, Conditioner):
        raise ContractError(f"a conditioner must be a flowkit.Conditioner, got {type(net)}")
    return net.double()


def _expected_width(cls: Any) -> tuple[tuple[int, ...], int]:
    (first, second), shape = _CONDITIONER_SIZES[cls.layer]
    width = first * second if cls.layer == "autoregressive" else second
    return shape, width


def check_conditioner(cls: Any, options: dict[str, Any]) -> None:
    """Output shape, a zeroed output at ``zero_init``, a context that changes the output (and
    one of the wrong width refused), and, for ``autoregressive``, the MADE property."""
    shape, width = _expected_width(cls)
    x = _data(shape, torch.float64, 0)
    out = _conditioner(cls, options)(x)
    want = (shape[0], width, *shape[2:])
    if tuple(out.shape) != want:
        raise ContractError(f"output shape {list(out.shape)}, want {list(want)}")
    if out.abs().max().item() != 0.0:
        raise ContractError("zero_init=True must zero the output (the layer starts as identity)")
    net = _conditioner(cls, options, context=2, zero_init=False)
    context = _data((shape[0], 2), torch.float64, 1)
    if torch.equal(net(x, context), net(x, context + 1.0)):
        raise ContractError("a conditioner built with context_features ignores the context")
    try:
        net(x, context[:, :1])
    except Exception:
        pass
    else:
        raise ContractError("a context of the wrong width was accepted")
    if cls.layer == "autoregressive":
        _check_autoregressive(cls, options)


def _check_autoregressive(cls: Any, options: dict[str, Any]) -> None:
    (features, count), _ = _CONDITIONER_SIZES["autoregressive"]
    for layout in ("grouped", "interleaved"):
        torch.manual_seed(0)
        net = cls(features, count, params_layout=layout, zero_init=False, **options).double()
        point = _data((features,), torch.float64, 2)
        jacobian = torch.autograd.functional.jacobian(partial(_one_row, net), point)
        for value in range(features):
            rows = [
                k * features + value if layout == "grouped" else value * count + k
                for k in range(count)
            ]
            if jacobian[rows][:, value:].abs().max().item() != 0.0:
                raise ContractError(
                    f"{layout} layout: the outputs of value {value} depend on value {value} or a "
                    "later one (not autoregressive)"
                )


# ---- laws in layers ----------------------------------------------------------------------------


def layer_classes(registry: Any) -> list[Any]:
    """The classes that drive laws: :class:`flowkit.LawCoupling` and each registered
    transform that declares ``law_layer`` itself (its subclasses are the same layer)."""
    found: list[Any] = [LawCoupling]
    for entry in registry:
        if entry.kind == "transform" and "law_layer" in vars(entry.component):
            found.append(entry.component)
    return found


def layer_factories(
    registry: Any, law: Any = None, conditioner: Any = None
) -> Iterator[tuple[str, Factory, int, tuple[int, ...] | None, bool]]:
    """``(id, make, features, event_shape, bounded)`` for every registered law in every layer
    class with every registered conditioner of its type (restricted to one law or conditioner
    class when given, registered or not), each law and conditioner with its first contract
    example."""
    laws = [law] if law is not None else [registry.get("law", n) for n in registry.names("law")]
    conditioners = (
        [conditioner]
        if conditioner is not None
        else [registry.get("conditioner", n) for n in registry.names("conditioner")]
    )
    for layer_cls in layer_classes(registry):
        example = dict(layer_cls.law_contract_example)
        shape = tuple(example.pop("event_shape")) if "event_shape" in example else None
        size = shape if shape is not None else 6
        features = 6 if shape is None else int(torch.Size(shape).numel())
        for net_cls in conditioners:
            if getattr(net_cls, "layer", None) != layer_cls.law_layer:
                continue
            net_options = dict((getattr(net_cls, "contract_examples", None) or [{}])[0])
            for law_cls in laws:
                law_options = dict((getattr(law_cls, "contract_examples", None) or [{}])[0])
                make = partial(
                    _in_layer, layer_cls, size, law_cls, law_options, net_cls, net_options, example
                )
                bounded = bool(law_cls(**law_options).bounded)
                pairing = f"{law_cls.name}+{net_cls.name}@{layer_cls.name}"
                yield pairing, make, features, shape, bounded


def _in_layer(layer_cls, size, law_cls, law_options, net_cls, net_options, example) -> Any:
    return layer_cls(
        size,
        law=law_cls(**law_options),
        conditioner=net_cls,
        conditioner_options=net_options,
        **example,
    )


__all__ = [
    "LAW_CHECKS",
    "check_conditioner",
    "check_law",
    "iter_law_checks",
    "layer_classes",
    "layer_factories",
]
