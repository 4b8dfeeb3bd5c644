"""What is timed: the training configurations (a build and an optimizer) and the jobs that time
one training step, log_prob or sampling and return examples per second.

flowkit trains with the optimizer ``flowkit run`` uses; every build, flowkit included, is also
given torch's default Adam and ``Adam(fused=True)`` so the comparison is also like for like.
Each job is a zero-argument callable, so ``peer_rounds.py`` can interleave them freely.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import peer_models
import torch

from flowkit.bench.throughput import seconds_per_call
from flowkit.train.trainer import TrainOptions, make_optimizer


@dataclass
class Entry:
    """One timed training configuration: a build and an optimizer."""

    key: str
    build: peer_models.Candidate
    optimizer_name: str
    optimizer: torch.optim.Optimizer
    check_finite: bool = False
    #: Autocast dtype of the forward pass (None: float32 throughout).
    autocast: torch.dtype | None = None

    @property
    def infer_name(self) -> str:
        """Key prefix of the matching log_prob / sample jobs."""
        name = self.key.split("/")[0]
        return f"{name}-bf16" if self.autocast is not None else name

    @property
    def bound_name(self) -> str:
        return "train_bf16" if self.autocast is not None else "train"


def make_entries(builds: dict, bf16: bool) -> list[Entry]:
    entries = []
    for name, build in builds.items():
        params = build.parameters()
        fused_done = False
        if name == "flowkit":
            optimizer, kind = make_optimizer(params, TrainOptions())
            entries.append(
                Entry("flowkit", build, f"{kind} (as flowkit run)", optimizer, check_finite=True)
            )
            fused_done = kind == "adam-fused"
            if bf16:
                optimizer, kind = make_optimizer(params, TrainOptions())
                entries.append(
                    Entry(
                        "flowkit/bf16",
                        build,
                        f"{kind} + bf16 autocast (opt-in)",
                        optimizer,
                        check_finite=True,
                        autocast=torch.bfloat16,
                    )
                )
        entries.append(
            Entry(f"{name}/adam", build, "adam (torch default)", torch.optim.Adam(params, lr=1e-3))
        )
        if not fused_done:
            entries.append(
                Entry(
                    f"{name}/adam-fused",
                    build,
                    "adam-fused",
                    torch.optim.Adam(params, lr=1e-3, fused=True),
                )
            )
    return entries


def autocast(dtype: torch.dtype | None, device: torch.device):
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def training_step(entry: Entry, batch: torch.Tensor) -> None:
    with autocast(entry.autocast, batch.device):
        loss = -entry.build.log_prob(batch).float().mean()
    if entry.check_finite and not math.isfinite(loss.item()):  # what the trainer does on CPU
        raise SystemExit(f"{entry.key}: non-finite loss during timing")
    entry.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    entry.optimizer.step()


def time_training(
    entry: Entry,
    data: torch.Tensor,
    steps: int,
    warmup: int,
    device: torch.device,
    clock=time.perf_counter,
) -> Callable[[], float]:
    """A job returning training examples/s over ``steps`` steps after ``warmup`` steps."""
    counter = iter(range(10**12))

    def step() -> None:
        training_step(entry, data[next(counter) % len(data)])

    def job() -> float:
        entry.build.train(True)
        for _ in range(warmup):
            step()
        return data.shape[1] / seconds_per_call(step, steps, device, clock)

    return job


def time_inference(
    build,
    kind: str,
    inputs: torch.Tensor,
    calls: int,
    device: torch.device,
    dtype: torch.dtype | None = None,
    clock=time.perf_counter,
) -> Callable[[], float]:
    """A job returning log_prob or sampling examples/s (eval mode, no gradients)."""
    n = inputs.shape[0]
    run = (lambda: build.log_prob(inputs)) if kind == "log_prob" else (lambda: build.sample(n))

    def job() -> float:
        build.train(False)
        with torch.no_grad(), autocast(dtype, device):
            seconds = seconds_per_call(run, calls, device, clock)
        build.train(True)
        return n / seconds

    return job


def training_jobs(
    entries: list[Entry], data: torch.Tensor, steps: int, device: torch.device, clock
) -> dict[str, Callable[[], float]]:
    """One training job per entry, under the entry's key (1 warm-up step before each timing)."""
    return {e.key: time_training(e, data, steps, 1, device, clock) for e in entries}


def inference_jobs(
    entries: list[Entry], inputs: torch.Tensor, calls: int, device: torch.device, clock
) -> dict[str, Callable[[], float]]:
    """A log_prob and a sampling job per build and autocast dtype, keyed ``<infer_name>/<kind>``
    (entries that share a build and dtype share the jobs)."""
    jobs = {}
    for entry in entries:
        for kind in ("log_prob", "sample"):
            key = f"{entry.infer_name}/{kind}"
            if key not in jobs:
                jobs[key] = time_inference(
                    entry.build, kind, inputs, calls, device, entry.autocast, clock
                )
    return jobs
