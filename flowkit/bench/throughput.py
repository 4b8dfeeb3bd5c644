"""Measuring speed honestly: throughput of a flow and the matrix-product bound it is held to.

A NICE model's work is almost all matrix products (the coupling MLPs), so its speed is judged
against the time those products alone take on the same machine, measured in the same run: the
*matmul bound*. :func:`matmul_bound` replays every ``nn.Linear`` product of one training step
(forward, input gradient and weight gradient; the first layer needs no input gradient) or of one
forward pass with plain ``torch.mm`` on preallocated tensors, and returns the examples per second
that this alone would allow. Throughput divided by it is the fraction of the bound reached.
The bound only describes a model whose work is those products (:func:`matmul_bound_applies`:
NICE's and MAF's MLPs); an image flow's convolutions are not replayed, so it has none.

On a shared or virtual machine, speed drifts by tens of percent within minutes, so compare
throughputs measured interleaved in one process (each round times every candidate back to back,
in a rotated order; the median over rounds is reported), never numbers taken minutes apart.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn


def synchronize(device: torch.device | str) -> None:
    """Wait for queued kernels (a no-op on the CPU), so that wall-clock times are real."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_call(
    fn: Callable[[], object],
    calls: int,
    device: torch.device | str,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Mean seconds of ``calls`` calls of ``fn`` (after a synchronisation).

    ``clock`` is wall-clock time by default; ``time.thread_time`` measures the CPU time of the
    calling thread instead, which other processes on a shared machine barely disturb (valid
    with ``torch.set_num_threads(1)``, where all the work runs in that thread).
    """
    synchronize(device)
    began = clock()
    for _ in range(calls):
        fn()
    synchronize(device)
    return (clock() - began) / calls


def _is_linear(module: nn.Module) -> bool:
    return all(hasattr(module, name) for name in ("in_features", "out_features", "weight"))


def linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    """``(in_features, out_features)`` of every linear layer of ``module``, in module order.

    Layers are recognised by their attributes, so ``nn.Linear`` and look-alikes (zuko's) count.
    """
    return [
        (int(cast(Any, m).in_features), int(cast(Any, m).out_features))
        for m in module.modules()
        if _is_linear(m)
    ]


def matmul_bound_applies(module: nn.Module) -> bool:
    """Whether :func:`matmul_bound` describes ``module``: it has linear layers, and every
    matrix-shaped parameter (2-D or more) is the weight of one of them. Convolutions (image
    flows), 1x1 convolutions and other weights the replay does not see make the bound
    meaningless: bench records NaN for it."""
    weights = {id(cast(Any, m).weight) for m in module.modules() if _is_linear(m)}
    return bool(weights) and all(
        id(p) in weights for p in module.parameters() if p.requires_grad and p.dim() >= 2
    )


def linear_macs(module: nn.Module) -> int:
    """Multiply-accumulates per example of all linear layers in one pass."""
    return sum(i * o for i, o in linear_shapes(module))


def gemm_replay(
    shapes: Sequence[tuple[int, int]],
    batch: int,
    *,
    training: bool,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Callable[[], None]:
    """A function running the matrix products of one pass over layers ``shapes`` at ``batch``.

    Operand layouts are those of ``nn.Linear`` and its backward: ``x @ W^T`` forward,
    ``g @ W`` for the input gradient, ``g^T @ x`` for the weight gradient.
    """
    if not shapes:
        raise ValueError("the module has no linear layers to bound its speed by")
    generator = torch.Generator().manual_seed(0)
    products: list[tuple[Tensor, Tensor, Tensor]] = []

    def operand(*size: int) -> Tensor:
        return torch.randn(*size, generator=generator).to(device=device, dtype=dtype)

    for index, (fan_in, fan_out) in enumerate(shapes):
        x, w, y = operand(batch, fan_in), operand(fan_out, fan_in), operand(batch, fan_out)
        products.append((x, w.t(), y))
        if training:
            if index > 0:  # the first layer sees the data, which needs no gradient
                products.append((y, w, operand(batch, fan_in)))
            products.append((y.t(), x, operand(fan_out, fan_in)))

    def run() -> None:
        for a, b, out in products:
            torch.mm(a, b, out=out)

    return run


def matmul_bound(
    module: nn.Module,
    batch: int,
    *,
    training: bool,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    repeats: int = 3,
    clock: Callable[[], float] = time.perf_counter,
    min_seconds: float = 0.02,
) -> float:
    """Examples per second that the linear layers' matrix products alone allow.

    The best of ``repeats`` timed measurements (after one warm-up), so that the bound is the
    machine's current best, not a slowed-down sample; each measurement replays the products as
    often as it takes to last ``min_seconds`` (one replay of a small model takes microseconds).
    """
    replay = gemm_replay(
        linear_shapes(module), batch, training=training, device=device, dtype=dtype
    )
    replay()  # warm-up: the first products of new shapes are slow
    once = min(seconds_per_call(replay, 1, device, clock) for _ in range(3))
    calls = max(1, min(10_000, math.ceil(min_seconds / max(once, 1e-9))))
    best = min(seconds_per_call(replay, calls, device, clock) for _ in range(max(1, repeats)))
    return batch / best


def matmul_gflops(
    m: int = 256,
    k: int = 1000,
    n: int = 1000,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    seconds: float = 0.3,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """GFLOP/s of a plain ``(m x k) @ (k x n)`` product (a one-number ceiling of the device)."""
    a = torch.randn(m, k).to(device=device, dtype=dtype)
    b = torch.randn(k, n).to(device=device, dtype=dtype)
    out = torch.empty(m, n, device=device, dtype=dtype)
    torch.mm(a, b, out=out)
    synchronize(device)
    calls, began = 0, clock()
    while clock() - began < seconds:
        for _ in range(4):
            torch.mm(a, b, out=out)
        calls += 4
        synchronize(device)
    return 2.0 * m * k * n * calls / (clock() - began) / 1e9


def median(values: Sequence[float]) -> float:
    """The median, NaN for no values."""
    return statistics.median(values) if values else float("nan")


__all__ = [
    "gemm_replay",
    "linear_macs",
    "linear_shapes",
    "matmul_bound",
    "matmul_bound_applies",
    "matmul_gflops",
    "median",
    "seconds_per_call",
    "synchronize",
]
