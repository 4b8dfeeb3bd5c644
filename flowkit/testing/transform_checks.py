"""Contract checks for transforms: invertibility, log-det, shapes, device/dtype, state, gradients.

Each check takes ``make``, a zero-argument callable returning a *fresh* transform, and raises
:class:`ContractError` with a message saying what broke. :func:`check_transform` runs them all.
Checks run in float64 on a small dimension, after the transform has been initialised from data
(when it needs that) and its parameters perturbed, so that a zero-initialised layer (which starts
as the identity) is still tested as a general map.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn

Factory = Callable[[], nn.Module]


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


@torch.no_grad()
def prepare(
    make: Factory,
    features: int,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    perturb: float = 0.1,
) -> nn.Module:
    """A fresh transform in ``dtype``, initialised from example data and perturbed."""
    torch.manual_seed(seed)
    transform = make().to(dtype)
    if getattr(transform, "needs_initialization", False):
        transform.initialize(_example_data(features, 256, dtype, seed + 1))
    gen = torch.Generator().manual_seed(seed + 2)
    for parameter in transform.parameters():
        noise = torch.randn(parameter.shape, generator=gen, dtype=torch.float64)
        parameter.add_((perturb * noise).to(parameter.dtype))
    return transform.eval()


def _inputs(features: int, batch: int, dtype: torch.dtype, seed: int) -> Tensor:
    return _example_data(features, batch, dtype, seed + 10)


def _close(a: Tensor, b: Tensor, atol: float, what: str) -> None:
    if a.shape != b.shape:
        raise ContractError(f"{what}: shapes differ, {list(a.shape)} vs {list(b.shape)}")
    error = (a - b).abs().max().item() if a.numel() else 0.0
    if not error <= atol:  # also catches NaN
        raise ContractError(f"{what}: max abs difference {error:.3g} > {atol:.1g}")


def check_shapes(make: Factory, features: int, batch: int = 5) -> None:
    """forward and inverse return ``[batch, features]`` outputs and a ``[batch]`` logabsdet."""
    t = prepare(make, features)
    x = _inputs(features, batch, torch.float64, 0)
    for direction in ("forward", "inverse"):
        out = getattr(t, direction)(x)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ContractError(f"{direction} must return (outputs, logabsdet), got {type(out)}")
        y, logabsdet = out
        if y.shape != x.shape:
            raise ContractError(
                f"{direction} outputs have shape {list(y.shape)}, want {list(x.shape)}"
            )
        if logabsdet.shape != (batch,):
            raise ContractError(
                f"{direction} logabsdet has shape {list(logabsdet.shape)}, want [{batch}]"
            )
        if not (torch.isfinite(y).all() and torch.isfinite(logabsdet).all()):
            raise ContractError(f"{direction} returned non-finite values on ordinary inputs")


def check_invertibility(make: Factory, features: int, batch: int = 5, atol: float = 1e-8) -> None:
    """``inverse(forward(x)) == x`` and ``forward(inverse(z)) == z``; log-dets are negatives."""
    t = prepare(make, features)
    x = _inputs(features, batch, torch.float64, 1)
    y, ld_forward = t(x)
    x_back, ld_inverse = t.inverse(y)
    _close(x_back, x, atol, "inverse(forward(x)) vs x")
    _close(ld_inverse, -ld_forward, atol, "logabsdet of inverse vs minus logabsdet of forward")
    z = _inputs(features, batch, torch.float64, 2)
    z_back, _ = t(t.inverse(z)[0])
    _close(z_back, z, atol, "forward(inverse(z)) vs z")


def _jacobian_logabsdet(function: Callable[[Tensor], Tensor], point: Tensor) -> float:
    jacobian = torch.autograd.functional.jacobian(lambda v: function(v[None])[0], point)
    return torch.linalg.slogdet(jacobian)[1].item()


def check_logabsdet(make: Factory, features: int, batch: int = 3, atol: float = 1e-6) -> None:
    """The returned logabsdet equals log|det| of the autograd Jacobian, in both directions."""
    t = prepare(make, features)
    x = _inputs(features, batch, torch.float64, 3)
    for direction in ("forward", "inverse"):
        function = getattr(t, direction)
        _, logabsdet = function(x)
        for i in range(batch):
            exact = _jacobian_logabsdet(lambda v, f=function: f(v)[0], x[i])
            if not abs(exact - logabsdet[i].item()) <= atol * max(1.0, abs(exact)):
                raise ContractError(
                    f"{direction} logabsdet {logabsdet[i].item():.10g} differs from the autograd "
                    f"Jacobian's {exact:.10g} (example {i})"
                )


def check_batch_independence(
    make: Factory, features: int, batch: int = 4, atol: float = 1e-10
) -> None:
    """Each example's outputs do not depend on the other examples in the batch."""
    t = prepare(make, features)
    x = _inputs(features, batch, torch.float64, 4)
    for direction in ("forward", "inverse"):
        function = getattr(t, direction)
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


def check_device_dtype(make: Factory, features: int, batch: int = 5) -> None:
    """Outputs follow the module's dtype (float32, float64) and device; float32 round-trips."""
    reference = prepare(make, features, torch.float64)
    x64 = _inputs(features, batch, torch.float64, 5)
    y64, ld64 = reference(x64)
    for device in _devices():
        for dtype, tol in ((torch.float32, 1e-3), (torch.float64, 1e-9)):
            t = prepare(make, features, torch.float64).to(device=device, dtype=dtype)
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


def check_state_dict_roundtrip(make: Factory, features: int, batch: int = 5) -> None:
    """A fresh instance loading the state_dict reproduces outputs, without re-initialising."""
    trained = prepare(make, features, seed=0)
    torch.manual_seed(12345)  # a fresh instance with different random buffers/initialisation
    fresh = make().to(torch.float64)
    fresh.load_state_dict(trained.state_dict())
    fresh.eval()
    if getattr(fresh, "needs_initialization", False):
        raise ContractError("after load_state_dict the transform still asks for initialisation")
    x = _inputs(features, batch, torch.float64, 6)
    for direction in ("forward", "inverse"):
        y_a, ld_a = getattr(trained, direction)(x)
        y_b, ld_b = getattr(fresh, direction)(x)
        _close(y_b, y_a, 1e-12, f"{direction} outputs after a state_dict round trip")
        _close(ld_b, ld_a, 1e-12, f"{direction} logabsdet after a state_dict round trip")


def check_gradients(make: Factory, features: int, batch: int = 8) -> None:
    """A loss of the outputs and logabsdet gives a finite, non-zero gradient to every parameter."""
    t = prepare(make, features).train()
    x = _inputs(features, batch, torch.float64, 7)
    y, logabsdet = t(x)
    weights = _inputs(features, batch, torch.float64, 8)
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
    make: Factory, features: int = 6
) -> Iterator[tuple[str, Callable[[], None]]]:
    """``(check name, zero-argument check)`` pairs, for parametrised tests."""
    for name, check in TRANSFORM_CHECKS.items():
        yield name, (lambda check=check: check(make, features))


def check_transform(make: Factory, features: int = 6) -> None:
    """Run every transform check; raises :class:`ContractError` on the first failure."""
    for name, check in iter_transform_checks(make, features):
        try:
            check()
        except ContractError as err:
            raise ContractError(f"[{name}] {err}") from None
