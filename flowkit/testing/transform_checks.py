"""Contract checks for transforms: invertibility, log-det, shapes, device/dtype, state, gradients.

Each check takes ``make``, a zero-argument callable returning a *fresh* transform, and raises
:class:`ContractError` with a message saying what broke. :func:`check_transform` runs them all.
Checks run in float64 on a small dimension, after the transform has been initialised from data
(when it needs that) and its parameters perturbed, so that a zero-initialised layer (which starts
as the identity) is still tested as a general map.

Every check also takes two keywords for transforms that are not maps of flat real vectors:

- ``event_shape``: the transform takes ``[batch, *event_shape]`` inputs (an image transform at
  ``(C, H, W)``), with ``features = prod(event_shape)``. Its outputs may have another shape with
  as many values (a squeeze); the log-det is checked against the Jacobian of the flattened map.
- ``domain``: ``"real"`` (default) or ``"unit"``, for a transform defined on ``(0, 1)`` only (a
  logit); its forward inputs are then drawn from ``(0, 1)``.

With either, the inverse direction is checked on real inputs shaped like the forward outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

#: A zero-argument callable that returns a new instance of the component under test.
Factory = Callable[[], Any]
Shape = Sequence[int] | None


class ContractError(AssertionError):
    """A component breaks the flowkit contract."""


def _example_data(features: int, rows: int, dtype: torch.dtype, seed: int) -> Tensor:
    """Correlated, shifted Gaussian data: whitening and ActNorm have something to fit."""
    gen = torch.Generator().manual_seed(seed)
    mixing = torch.randn(features, features, generator=gen, dtype=torch.float64) / features**0.5
    mixing += torch.eye(features, dtype=torch.float64)
    shift = torch.randn(features, generator=gen, dtype=torch.float64)
    data = torch.randn(rows, features, generator=gen, dtype=torch.float64) @ mixing + shift
    return data.to(dtype)


DOMAINS = ("real", "unit")


def _shaped(data: Tensor, event_shape: Shape, domain: str) -> Tensor:
    """Flat example rows mapped into ``domain`` and reshaped to ``[rows, *event_shape]``."""
    if domain == "unit":
        data = torch.sigmoid(data)
    elif domain != "real":
        raise ValueError(f"unknown domain {domain!r}; choose from {', '.join(DOMAINS)}")
    return data if event_shape is None else data.reshape(len(data), *event_shape)


def _first_output(function: Callable[[Tensor], tuple[Tensor, Tensor]], inputs: Tensor) -> Tensor:
    return function(inputs)[0]


@torch.no_grad()
def prepare(
    make: Factory,
    features: int,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    perturb: float = 0.1,
    *,
    event_shape: Shape = None,
    domain: str = "real",
) -> Any:
    """A fresh transform in ``dtype``, initialised from example data and perturbed."""
    torch.manual_seed(seed)
    transform = make().to(dtype)
    if getattr(transform, "needs_initialization", False):
        data = _example_data(features, 256, dtype, seed + 1)
        transform.initialize(_shaped(data, event_shape, domain))
    gen = torch.Generator().manual_seed(seed + 2)
    for parameter in transform.parameters():
        noise = torch.randn(parameter.shape, generator=gen, dtype=torch.float64)
        parameter.add_((perturb * noise).to(parameter.dtype))
    return transform.eval()


def _inputs(
    features: int,
    batch: int,
    dtype: torch.dtype,
    seed: int,
    event_shape: Shape = None,
    domain: str = "real",
) -> Tensor:
    return _shaped(_example_data(features, batch, dtype, seed + 10), event_shape, domain)


def _inverse_inputs(t: nn.Module, x: Tensor, seed: int, event_shape: Shape, domain: str) -> Tensor:
    """Inputs of the inverse direction: ``x`` itself for a flat map of real vectors (as the kit
    always did), else real values shaped like the forward outputs."""
    if event_shape is None and domain == "real":
        return x
    with torch.no_grad():
        y = t(x)[0]
    return _example_data(y[0].numel(), len(y), x.dtype, seed + 20).reshape(y.shape)


def _close(a: Tensor, b: Tensor, atol: float, what: str) -> None:
    if a.shape != b.shape:
        raise ContractError(f"{what}: shapes differ, {list(a.shape)} vs {list(b.shape)}")
    error = (a - b).abs().max().item() if a.numel() else 0.0
    if not error <= atol:  # also catches NaN
        raise ContractError(f"{what}: max abs difference {error:.3g} > {atol:.1g}")


def check_shapes(
    make: Factory,
    features: int,
    batch: int = 5,
    *,
    event_shape: Shape = None,
    domain: str = "real",
) -> None:
    """forward and inverse return ``[batch, features]`` outputs and a ``[batch]`` logabsdet
    (with ``event_shape``: forward keeps the number of values, inverse gives back the shape)."""
    t = prepare(make, features, event_shape=event_shape, domain=domain)
    x = _inputs(features, batch, torch.float64, 0, event_shape, domain)
    flat = event_shape is None and domain == "real"
    for direction in ("forward", "inverse"):
        inputs = x if direction == "forward" else _inverse_inputs(t, x, 0, event_shape, domain)
        out = getattr(t, direction)(inputs)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ContractError(f"{direction} must return (outputs, logabsdet), got {type(out)}")
        y, logabsdet = out
        if flat and y.shape != x.shape:
            raise ContractError(
                f"{direction} outputs have shape {list(y.shape)}, want {list(x.shape)}"
            )
        if not flat and direction == "inverse" and y.shape != x.shape:
            raise ContractError(
                f"inverse outputs have shape {list(y.shape)}, want {list(x.shape)}"
            )
        if not flat and (len(y) != batch or y[0].numel() != x[0].numel()):
            raise ContractError(
                f"{direction} outputs have shape {list(y.shape)}: not {batch} examples of "
                f"{x[0].numel()} values"
            )
        if logabsdet.shape != (batch,):
            raise ContractError(
                f"{direction} logabsdet has shape {list(logabsdet.shape)}, want [{batch}]"
            )
        if not (torch.isfinite(y).all() and torch.isfinite(logabsdet).all()):
            raise ContractError(f"{direction} returned non-finite values on ordinary inputs")


def check_invertibility(
    make: Factory,
    features: int,
    batch: int = 5,
    atol: float = 1e-8,
    *,
    event_shape: Shape = None,
    domain: str = "real",
) -> None:
    """``inverse(forward(x)) == x`` and ``forward(inverse(z)) == z``; log-dets are negatives."""
    t = prepare(make, features, event_shape=event_shape, domain=domain)
    x = _inputs(features, batch, torch.float64, 1, event_shape, domain)
    y, ld_forward = t(x)
    x_back, ld_inverse = t.inverse(y)
    _close(x_back, x, atol, "inverse(forward(x)) vs x")
    _close(ld_inverse, -ld_forward, atol, "logabsdet of inverse vs minus logabsdet of forward")
    if event_shape is None and domain == "real":
        z = _inputs(features, batch, torch.float64, 2)
    else:
        z = _inverse_inputs(t, x, 2, event_shape, domain)
    z_back, _ = t(t.inverse(z)[0])
    _close(z_back, z, atol, "forward(inverse(z)) vs z")


def _jacobian_logabsdet(function: Callable[[Tensor], Tensor], point: Tensor) -> float:
    jacobian = torch.autograd.functional.jacobian(lambda v: function(v[None])[0], point)
    size = point.numel()  # image-shaped maps: the Jacobian of the flattened map
    return torch.linalg.slogdet(jacobian.reshape(size, size))[1].item()


def check_logabsdet(
    make: Factory,
    features: int,
    batch: int = 3,
    atol: float = 1e-6,
    *,
    event_shape: Shape = None,
    domain: str = "real",
) -> None:
    """The returned logabsdet equals log|det| of the autograd Jacobian, in both directions."""
    t = prepare(make, features, event_shape=event_shape, domain=domain)
    x_forward = _inputs(features, batch, torch.float64, 3, event_shape, domain)
    for direction in ("forward", "inverse"):
        function = getattr(t, direction)
        x = x_forward
        if direction == "inverse":
            x = _inverse_inputs(t, x_forward, 3, event_shape, domain)
        _, logabsdet = function(x)
        for i in range(batch):
            exact = _jacobian_logabsdet(partial(_first_output, function), x[i])
            if not abs(exact - logabsdet[i].item()) <= atol * max(1.0, abs(exact)):
                raise ContractError(
                    f"{direction} logabsdet {logabsdet[i].item():.10g} differs from the autograd "
                    f"Jacobian's {exact:.10g} (example {i})"
                )


def check_batch_independence(
    make: Factory,
    features: int,
    batch: int = 4,
    atol: float = 1e-10,
    *,
    event_shape: Shape = None,
    domain: str = "real",
) -> None:
    """Each example's outputs do not depend on the other examples in the batch."""
    t = prepare(make, features, event_shape=event_shape, domain=domain)
    x_forward = _inputs(features, batch, torch.float64, 4, event_shape, domain)
    for direction in ("forward", "inverse"):
        function = getattr(t, direction)
        x = x_forward
        if direction == "inverse":
            x = _inverse_inputs(t, x_forward, 4, event_shape, domain)
        y, logabsdet = function(x)
        for i in range(batch):
            y_i, ld_i = function(x[i : i + 1])
            _close(y_i[0], y[i], atol, f"{direction} of example {i} alone vs in a batch")
            _close(ld_i[0], logabsdet[i], atol, f"{direction} logabsdet of example {i} alone")


def _devices() -> list[torch.device]:
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    return devices


def check_device_dtype(
    make: Factory,
    features: int,
    batch: int = 5,
    *,
    event_shape: Shape = None,
    domain: str = "real",
) -> None:
    """Outputs follow the module's dtype (float32, float64) and device; float32 round-trips."""
    reference = prepare(make, features, torch.float64, event_shape=event_shape, domain=domain)
    x64 = _inputs(features, batch, torch.float64, 5, event_shape, domain)
    y64, ld64 = reference(x64)
    for device in _devices():
        for dtype, tol in ((torch.float32, 1e-3), (torch.float64, 1e-9)):
            t = prepare(make, features, torch.float64, event_shape=event_shape, domain=domain)
            t = t.to(device=device, dtype=dtype)
            x = x64.to(device=device, dtype=dtype)
            y, logabsdet = t(x)
            for tensor, what in ((y, "outputs"), (logabsdet, "logabsdet")):
                if tensor.dtype != dtype or tensor.device.type != device.type:
                    raise ContractError(
                        f"{what} are {tensor.dtype} on {tensor.device} for a {dtype} module and "
                        f"inputs on {device}"
                    )
            scale = 1.0 + y64.abs().max().item()
            _close(y.double().cpu(), y64, tol * scale, f"{dtype} outputs on {device} vs float64")
            _close(
                logabsdet.double().cpu(),
                ld64,
                tol * (1 + ld64.abs().max().item()),
                f"{dtype} logabsdet on {device} vs float64",
            )
            x_back, _ = t.inverse(y)
            _close(
                x_back.double().cpu(),
                x64,
                tol * (1 + x64.abs().max().item()),
                f"{dtype} round trip on {device}",
            )


def check_state_dict_roundtrip(
    make: Factory,
    features: int,
    batch: int = 5,
    *,
    event_shape: Shape = None,
    domain: str = "real",
) -> None:
    """A fresh instance loading the state_dict reproduces outputs, without re-initialising."""
    trained = prepare(make, features, seed=0, event_shape=event_shape, domain=domain)
    torch.manual_seed(12345)  # a fresh instance with different random buffers/initialisation
    fresh = make().to(torch.float64)
    fresh.load_state_dict(trained.state_dict())
    fresh.eval()
    if getattr(fresh, "needs_initialization", False):
        raise ContractError("after load_state_dict the transform still asks for initialisation")
    x_forward = _inputs(features, batch, torch.float64, 6, event_shape, domain)
    for direction in ("forward", "inverse"):
        x = x_forward
        if direction == "inverse":
            x = _inverse_inputs(trained, x_forward, 6, event_shape, domain)
        y_a, ld_a = getattr(trained, direction)(x)
        y_b, ld_b = getattr(fresh, direction)(x)
        _close(y_b, y_a, 1e-12, f"{direction} outputs after a state_dict round trip")
        _close(ld_b, ld_a, 1e-12, f"{direction} logabsdet after a state_dict round trip")


def check_gradients(
    make: Factory,
    features: int,
    batch: int = 8,
    *,
    event_shape: Shape = None,
    domain: str = "real",
) -> None:
    """A loss of the outputs and logabsdet gives a finite, non-zero gradient to every parameter."""
    t = prepare(make, features, event_shape=event_shape, domain=domain).train()
    x = _inputs(features, batch, torch.float64, 7, event_shape, domain)
    y, logabsdet = t(x)
    weights = _inputs(features, batch, torch.float64, 8).reshape(y.shape)
    loss = (y * weights).sum() + logabsdet.sum()
    if not loss.requires_grad:  # a transform without parameters (a fixed permutation)
        return
    loss.backward()
    for name, parameter in t.named_parameters():
        if not parameter.requires_grad:
            continue
        if parameter.grad is None:
            raise ContractError(f"parameter {name!r} gets no gradient")
        if not torch.isfinite(parameter.grad).all():
            raise ContractError(f"parameter {name!r} gets a non-finite gradient")
        if not parameter.grad.abs().sum() > 0:
            raise ContractError(f"parameter {name!r} gets an all-zero gradient")


TRANSFORM_CHECKS: dict[str, Callable[..., None]] = {
    "shapes": check_shapes,
    "invertibility": check_invertibility,
    "logabsdet": check_logabsdet,
    "batch_independence": check_batch_independence,
    "device_dtype": check_device_dtype,
    "state_dict": check_state_dict_roundtrip,
    "gradients": check_gradients,
}


def iter_transform_checks(
    make: Factory, features: int = 6, *, event_shape: Shape = None, domain: str = "real"
) -> Iterator[tuple[str, Callable[[], None]]]:
    """``(check name, zero-argument check)`` pairs, for parametrised tests."""
    options: dict[str, Any] = {"event_shape": event_shape, "domain": domain}
    for name, check in TRANSFORM_CHECKS.items():
        yield name, partial(check, make, features, **options)


def check_transform(
    make: Factory, features: int = 6, *, event_shape: Shape = None, domain: str = "real"
) -> None:
    """Run every transform check; raises :class:`ContractError` on the first failure.

    An image transform: ``check_transform(lambda: MyLayer((2, 4, 4)), 32, event_shape=(2, 4, 4))``.
    """
    for name, check in iter_transform_checks(
        make, features, event_shape=event_shape, domain=domain
    ):
        try:
            check()
        except ContractError as err:
            raise ContractError(f"[{name}] {err}") from None
