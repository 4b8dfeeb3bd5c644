"""The interleaved schedule of the timing: warm-up, then rounds in which every job runs back to
back in an order rotated each round, framed by the matmul bound measured at the start and end of
the round.

Interleaving is what lets the results be medians over rounds, and the ratios medians of
per-round ratios, so that the machine's drift (other work on a shared CPU) cancels out. The
rounds stop early, after a whole round, once ``--budget`` seconds are used.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import peer_jobs
import torch
from torch import nn

from flowkit.bench.throughput import matmul_bound, matmul_gflops

Job = Callable[[], float]


def warm_up(
    entries: list[peer_jobs.Entry],
    data: torch.Tensor,
    infer_jobs: dict[str, Job],
    device: torch.device,
) -> None:
    """Run every job once untimed: the first steps allocate Adam's state and warm the caches."""
    for entry in entries:
        peer_jobs.time_training(entry, data, 1, 2, device)()
    for job in infer_jobs.values():
        job()


def rotated(keys: list[str], index: int) -> list[str]:
    shift = index % len(keys)
    return keys[shift:] + keys[:shift]


def run_rounds(
    reference: nn.Module,
    train_jobs: dict[str, Job],
    infer_jobs: dict[str, Job],
    args: argparse.Namespace,
    device: torch.device,
    started: float,
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[float]]]:
    """Time ``args.rounds`` interleaved rounds (fewer if the budget runs out), printing a line
    per round; returns the matmul bounds, the training and the inference values per round.

    ``reference`` (flowkit's model) gives the bound's matrix products; ``started`` is the
    ``time.perf_counter()`` the budget counts from.
    """
    bounds: dict[str, list[float]] = {"train": [], "forward": [], "gflops": []}
    if args.bf16:
        bounds.update(train_bf16=[], forward_bf16=[])
    train_values: dict[str, list[float]] = {k: [] for k in train_jobs}
    infer_values: dict[str, list[float]] = {k: [] for k in infer_jobs}

    def train_bound() -> float:
        return matmul_bound(
            reference, args.batch_size, training=True, device=device, repeats=2, clock=args.timer
        )

    for index in range(args.rounds):
        before = train_bound()
        bounds["forward"].append(
            matmul_bound(
                reference,
                args.eval_batch_size,
                training=False,
                device=device,
                repeats=2,
                clock=args.timer,
            )
        )
        bounds["gflops"].append(
            matmul_gflops(device=device, seconds=0.1 if args.quick else 0.3, clock=args.timer)
        )
        if args.bf16:
            for name, batch, training in (
                ("train_bf16", args.batch_size, True),
                ("forward_bf16", args.eval_batch_size, False),
            ):
                bounds[name].append(
                    matmul_bound(
                        reference,
                        batch,
                        training=training,
                        device=device,
                        dtype=torch.bfloat16,
                        repeats=2,
                        clock=args.timer,
                    )
                )
        for key in rotated(list(train_jobs), index):
            train_values[key].append(train_jobs[key]())
        for key in rotated(list(infer_jobs), index):
            infer_values[key].append(infer_jobs[key]())
        bounds["train"].append((before + train_bound()) / 2)
        elapsed = time.perf_counter() - started
        print(
            f"round {index + 1}/{args.rounds} ({elapsed:.0f} s): bound "
            f"{bounds['train'][-1]:.0f}/s; "
            + ", ".join(f"{k} {v[-1]:.0f}" for k, v in train_values.items()),
            flush=True,
        )
        if elapsed > args.budget and index + 1 < args.rounds:
            print(f"time budget of {args.budget:.0f} s used up after {index + 1} rounds")
            break
    return bounds, train_values, infer_values
