"""Evaluating a flow: mean log-likelihood per example of raw (possibly quantised) data.

Quantised data is dequantised once with a fixed seed, ``(x + u) / levels`` (NICE section 5.1),
so two evaluations of the same data see the same noise: numbers from different runs, epochs or
processes are comparable. Sums are accumulated in float64.

For data-parallel evaluation, dequantise the *whole* array with :func:`fixed_dequantization`,
give each process a slice, and add up :func:`sum_log_likelihood` over processes: the result equals
the single-process one because every example gets the same noise wherever it is evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from flowkit.datasets import dequantize
from flowkit.flows import Flow
from flowkit.metrics import bits_per_dim
from flowkit.train.topology import Topology, default_topology

#: Seed of the evaluation noise recorded in run files (validation and test alike).
EVALUATION_SEED = 0


def as_rows(values: Tensor | np.ndarray) -> Tensor:
    """``[n, *event_shape]`` values as a float32 ``[n, features]`` tensor (flows take vectors)."""
    tensor = torch.as_tensor(values)
    if tensor.dim() == 1:
        tensor = tensor.unsqueeze(1)
    return tensor.reshape(tensor.shape[0], -1).to(torch.float32)


def fixed_dequantization(
    values: Tensor | np.ndarray, levels: int | None, seed: int = EVALUATION_SEED
) -> Tensor:
    """``values`` as continuous ``[n, features]`` inputs, dequantised with noise from ``seed``.

    The noise is drawn on the CPU for the whole array at once, so it does not depend on the
    device, the batch size or how the rows are later split between processes.
    """
    rows = as_rows(values).cpu()
    if levels is None:
        return rows
    generator = torch.Generator().manual_seed(int(seed))
    return dequantize(rows, levels, generator)


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (CPU for an empty module)."""
    for parameter in module.parameters():
        return parameter.device
    for buffer in module.buffers():
        return buffer.device
    return torch.device("cpu")


@contextmanager
def evaluation_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no gradients inside the block; the previous mode is restored after."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield module
    finally:
        module.train(was_training)


def log_likelihoods(
    flow: Flow,
    inputs: Tensor,
    *,
    batch_size: int = 1000,
    device: torch.device | str | None = None,
) -> Tensor:
    """Per-example ``log p(x)`` in nats (float64, on the CPU) of continuous ``inputs``.

    ``inputs`` are already dequantised (see :func:`fixed_dequantization`). Computed in eval mode
    without gradients on ``device``: default where the flow is; otherwise the flow is moved there.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if device is None:
        device = module_device(flow)
    else:
        device = torch.device(device)
        if module_device(flow) != device:
            flow.to(device)
    rows = as_rows(inputs)
    parts = []
    with evaluation_mode(flow):
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size].to(device, non_blocking=True)
            parts.append(flow.log_prob(batch).to("cpu", torch.float64))
    if not parts:
        return torch.zeros(0, dtype=torch.float64)
    return torch.cat(parts)


def sum_log_likelihood(
    flow: Flow,
    inputs: Tensor,
    *,
    batch_size: int = 1000,
    device: torch.device | str | None = None,
) -> tuple[float, int]:
    """``(sum of log p(x) in nats, number of examples)`` of continuous ``inputs``: the pieces a
    data-parallel evaluation reduces across processes."""
    values = log_likelihoods(flow, inputs, batch_size=batch_size, device=device)
    return float(values.sum()), int(values.numel())


@dataclass(frozen=True)
class Evaluation:
    """Mean log-likelihood of some data: nats per example, bits per dimension, example count,
    and the standard error of the mean over the examples (NaN for a single example)."""

    log_likelihood_nats: float
    bits_per_dim: float
    examples: int
    #: Standard error of the mean log-likelihood, ``std / sqrt(n)`` over the examples: the
    #: uncertainty from which examples the test set happens to hold (not from the noise draw).
    log_likelihood_stderr_nats: float = math.nan
    #: The same in bits/dim (bits/dim is affine in the log-likelihood).
    bits_per_dim_stderr: float = math.nan

    def as_dict(self, prefix: str = "") -> dict[str, float | int]:
        return {
            f"{prefix}log_likelihood_nats": self.log_likelihood_nats,
            f"{prefix}bits_per_dim": self.bits_per_dim,
            f"{prefix}examples": self.examples,
            f"{prefix}log_likelihood_stderr_nats": self.log_likelihood_stderr_nats,
            f"{prefix}bits_per_dim_stderr": self.bits_per_dim_stderr,
        }


def standard_error(total: float, squares: float, count: int) -> float:
    """Standard error of the mean from a sum, a sum of squares and a count (NaN below 2)."""
    if count < 2:
        return math.nan
    mean = total / count
    variance = max(squares - count * mean * mean, 0.0) / (count - 1)
    return math.sqrt(variance / count)


def evaluate(
    flow: Flow,
    values: Tensor | np.ndarray,
    levels: int | None,
    *,
    batch_size: int = 1000,
    seed: int = EVALUATION_SEED,
    device: torch.device | str | None = None,
    topology: Topology | None = None,
) -> Evaluation:
    """Mean log-likelihood of RAW ``values`` (see :func:`mean_log_likelihood`), exact over the
    processes of ``topology``: each evaluates its share of rows, the sums are added up."""
    topology = topology or default_topology()
    inputs = fixed_dequantization(values, levels, seed)
    if len(inputs) == 0:
        raise ValueError("cannot evaluate the log-likelihood of zero examples")
    features = inputs.shape[1]
    inputs = inputs[topology.shard(torch.arange(len(inputs)))]
    values = log_likelihoods(flow, inputs, batch_size=batch_size, device=device)
    # Sum, count and sum of squares add up over processes; float64 keeps the variance's
    # cancellation harmless at these magnitudes (|ll| ~ 1e3, n ~ 1e4).
    count_here = torch.tensor(float(len(values)), dtype=torch.float64)
    local = torch.stack([values.sum(), count_here, (values**2).sum()])
    sums = topology.all_reduce_sum(local)
    total, count, squares = float(sums[0]), int(sums[1]), float(sums[2])
    mean = total / count
    stderr = standard_error(total, squares, count)
    # bits/dim = -(ll - features * log(levels)) / (features * ln 2): the error scales by that.
    scale = features * math.log(2)
    return Evaluation(mean, bits_per_dim(mean, features, levels), count, stderr, stderr / scale)


def mean_log_likelihood(
    flow: Flow,
    values: Tensor | np.ndarray,
    levels: int | None,
    *,
    batch_size: int = 1000,
    seed: int = EVALUATION_SEED,
    device: torch.device | str | None = None,
) -> float:
    """Mean log-likelihood in nats per example of RAW ``values`` ``[n, *event_shape]``.

    Quantised data (``levels`` an int) is dequantised with a fixed ``seed``; continuous data
    (``levels=None``) is used as is. Runs in eval mode, without gradients, on ``device``
    (default: the flow's device; a flow elsewhere is moved there). NaN or infinite results are
    returned as they are.
    """
    return evaluate(
        flow, values, levels, batch_size=batch_size, seed=seed, device=device
    ).log_likelihood_nats


__all__ = [
    "EVALUATION_SEED",
    "Evaluation",
    "as_rows",
    "evaluate",
    "evaluation_mode",
    "fixed_dequantization",
    "log_likelihoods",
    "mean_log_likelihood",
    "module_device",
    "standard_error",
    "sum_log_likelihood",
]
