"""flowkit against nflows, normflows, zuko, FrEIA and plain PyTorch on the NICE-MNIST model.

1. Builds the same model in every library (``peer_models.py``), gives all builds the weights of
   the plain-PyTorch one and checks that they compute the same function: log_prob on the same
   inputs, the inverse on the same latents, the round trip. A build that disagrees stops the run.
2. Times, interleaved in one process: every round runs every build back to back, in an order
   rotated each round, after warm-up; results are medians over rounds, and ratios are medians
   of per-round ratios, so that the machine's drift (other work on a shared CPU) cancels out:
   - a training step: batch 256, ``-mean log_prob``, forward + backward + Adam step (1 warm-up
     and ``--steps`` timed steps per round);
   - log_prob and sampling: batch 1000, eval mode, no gradients;
   - at the start and end of every round, the matmul bound (``flowkit.bench.throughput``): the
     model's matrix products alone, replayed with ``torch.mm``; and one plain 256x1000x1000
     product's GFLOP/s. Stops early (after a whole round) when ``--budget`` seconds are used.
   flowkit trains with the optimizer ``flowkit run`` uses (``flowkit.train.trainer.make_optimizer``
   with ``TrainOptions()`` defaults: fused Adam where torch has it, and the per-step finiteness
   check of the trainer). Every build, flowkit included, is also timed with torch's default Adam
   (on the CPU a per-tensor loop) and with ``Adam(fused=True)``, so the comparison is also given
   like for like.
3. Prints the table (ratios are flowkit's speed over the build's, median of per-round ratios) and
   writes an HDF5 file of everything (``--out``).

Peers are optional: ``pip install -e .[peers]``; missing ones are left out with a note.

    python benchmarks/compare_peers.py                          # full run, < 8 minutes on 2 cores
    python benchmarks/compare_peers.py --quick --out /tmp/q.h5  # smoke test (tiny model)
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_models

from flowkit.bench.throughput import (
    matmul_bound,
    matmul_gflops,
    median,
    seconds_per_call,
    synchronize,
)
from flowkit.io.h5 import atomic_h5, write_attrs
from flowkit.train.trainer import TrainOptions, make_optimizer

LIBRARIES = ("flowkit", "torch", "nflows", "normflows", "zuko", "freia")
LOG_PROB_TOLERANCE = 1e-2  # nats, on values near -1150 summed over 784 float32 terms
DECODE_TOLERANCE = 1e-4


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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--libs",
        default=",".join(LIBRARIES),
        help="comma-separated builds (default: all; flowkit is always included)",
    )
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per round")
    parser.add_argument(
        "--budget",
        type=float,
        default=420.0,
        metavar="SECONDS",
        help="stop after the round that passes this many seconds",
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--eval-batch-size", type=int, default=1000)
    parser.add_argument(
        "--eval-calls", type=int, default=2, help="timed log_prob and sample calls per round"
    )
    parser.add_argument("--hidden", type=int, default=peer_models.HIDDEN)
    parser.add_argument("--depth", type=int, default=peer_models.DEPTH)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: torch's choice, the number of cores)",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (CUDA is untested here)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall-clock time, or the CPU time of the main thread (needs "
        "--threads 1; barely disturbed by other processes on a shared machine)",
    )
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="also time flowkit under bf16 autocast (not float32, and it ruins "
        "NICE's likelihood, see README; its %% of bound is against a bf16 "
        "matmul bound)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: hidden 64, depth 2, 2 rounds of 2 steps, batch 64",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="HDF5 results file (default benchmarks/results/peers-<device>.h5)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite --out")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu measures one thread: add --threads 1")
    args.timer = time.thread_time if args.clock == "cpu" else time.perf_counter
    if args.quick:
        args.hidden, args.depth, args.rounds, args.steps = 64, 2, 2, 1
        args.batch_size, args.eval_batch_size, args.eval_calls = 64, 100, 1
    if args.out is None:
        here = os.path.dirname(os.path.abspath(__file__))
        kind = torch.device(args.device).type
        args.out = os.path.join(here, "results", f"peers-{kind}.h5")
    return args


def build_all(names: list[str], hidden: int, depth: int) -> tuple[dict, dict]:
    builds, missing = {}, {}
    for name in names:
        torch.manual_seed(0)
        try:
            builds[name] = peer_models.BUILDERS[name](hidden=hidden, depth=depth)
        except ImportError as err:
            missing[name] = str(err)
    return builds, missing


@torch.no_grad()
def check_equivalence(builds: dict, device: torch.device) -> dict[str, dict[str, float]]:
    """Load one set of weights everywhere; compare log_prob, the inverse and the round trip."""
    reference = peer_models.build_torch(hidden=_hidden_of(builds), depth=_depth_of(builds))
    torch.manual_seed(1)
    reference.module.s.normal_(0.0, 0.1)  # a non-trivial scaling layer
    reference.module.to(device).eval()
    generator = torch.Generator().manual_seed(2)
    x = torch.rand(256, peer_models.FEATURES, generator=generator).to(device)
    u = torch.rand(256, peer_models.FEATURES, generator=generator).clamp(1e-6, 1 - 1e-6)
    h = (torch.log(u) - torch.log1p(-u)).to(device)
    expected_log_prob, expected_x = reference.log_prob(x), reference.decode(h)
    report = {}
    for name, build in builds.items():
        peer_models.load_reference_weights(reference, build)
        build.module.eval()
        latent = h if build.latent_index is None else h[:, build.latent_index.to(device)]
        log_prob_error = float((build.log_prob(x) - expected_log_prob).abs().max())
        decode_error = float((build.decode(latent) - expected_x).abs().max())
        round_trip = float((build.decode(build.encode(x)) - x).abs().max())
        report[name] = {
            "log_prob_max_abs_diff": log_prob_error,
            "decode_max_abs_diff": decode_error,
            "round_trip_max_abs_error": round_trip,
            "reference_mean_log_prob": float(expected_log_prob.mean()),
        }
        if not (log_prob_error <= LOG_PROB_TOLERANCE and decode_error <= DECODE_TOLERANCE):
            raise SystemExit(
                f"{name} does not compute the reference function: "
                f"log_prob differs by {log_prob_error:.3g}, inverse by "
                f"{decode_error:.3g}"
            )
        build.module.train()
    return report


def _hidden_of(builds: dict) -> int:
    return peer_models.linears(next(iter(builds.values())).nets[0])[0].out_features


def _depth_of(builds: dict) -> int:
    return len(peer_models.linears(next(iter(builds.values())).nets[0])) - 1


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


def rotated(keys: list[str], index: int) -> list[str]:
    shift = index % len(keys)
    return keys[shift:] + keys[:shift]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.path.exists(args.out) and not args.force:
        print(f"error: {args.out} exists; pass --force to overwrite", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")  # nflows/FrEIA deprecation noise
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    names = ["flowkit"] + [n for n in args.libs.split(",") if n and n != "flowkit"]
    unknown = [n for n in names if n not in peer_models.BUILDERS]
    if unknown:
        print(
            f"error: unknown build(s) {', '.join(unknown)}; choose from {', '.join(LIBRARIES)}",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    load_before = os.getloadavg()
    builds, missing = build_all(names, args.hidden, args.depth)
    for name, why in missing.items():
        print(f"left out {name}: {why}")
    for build in builds.values():
        build.module.to(device)
    check = check_equivalence(builds, device)
    print(
        "same function: "
        + ", ".join(f"{n} |dlogp| {c['log_prob_max_abs_diff']:.1e}" for n, c in check.items()),
        flush=True,
    )

    generator = torch.Generator().manual_seed(3)
    data = torch.rand(4, args.batch_size, peer_models.FEATURES, generator=generator).to(device)
    eval_inputs = torch.rand(args.eval_batch_size, peer_models.FEATURES, generator=generator).to(
        device
    )
    entries = make_entries(builds, args.bf16)
    train_jobs = {
        e.key: time_training(e, data, args.steps, 1, device, args.timer) for e in entries
    }
    infer_jobs = {}
    for entry in entries:
        for kind in ("log_prob", "sample"):
            key = f"{entry.infer_name}/{kind}"
            if key not in infer_jobs:
                infer_jobs[key] = time_inference(
                    entry.build,
                    kind,
                    eval_inputs,
                    args.eval_calls,
                    device,
                    entry.autocast,
                    args.timer,
                )
    for entry in entries:  # the first steps allocate Adam's state and warm the caches
        time_training(entry, data, 1, 2, device)()
    for job in infer_jobs.values():
        job()

    reference = builds["flowkit"].module
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
    synchronize(device)
    elapsed = time.perf_counter() - started
    load = (load_before, os.getloadavg())

    rows = summarise(entries, train_values, infer_values, bounds)
    headline = headline_ratios(train_values, infer_values, bounds, builds)
    print_table(rows, headline, bounds, args, device, load)
    write_results(
        args,
        device,
        rows,
        headline,
        bounds,
        check,
        missing,
        train_values,
        infer_values,
        elapsed,
        load,
    )
    print(f"wrote {args.out} ({elapsed:.0f} s)")
    return 0


def ratio_median(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of the per-round ratio (robust to the machine's drift)."""
    return median([a / b for a, b in zip(numerator, denominator)])


def summarise(entries, train_values, infer_values, bounds) -> list[dict]:
    rows = []
    for entry in entries:
        name, suffix = entry.infer_name, "_bf16" if entry.autocast is not None else ""
        train = train_values[entry.key]
        log_prob, sample = infer_values[f"{name}/log_prob"], infer_values[f"{name}/sample"]
        rows.append(
            {
                "key": entry.key,
                "build": name,
                "label": entry.build.label,
                "optimizer": entry.optimizer_name,
                "parameters": entry.build.parameter_count,
                "linear_macs": entry.build.linear_macs,
                "rounds": len(train),
                "train_samples_per_s": median(train),
                "train_best_samples_per_s": max(train),
                "log_prob_samples_per_s": median(log_prob),
                "sample_samples_per_s": median(sample),
                "flowkit_train_ratio": ratio_median(train_values["flowkit"], train),
                "flowkit_log_prob_ratio": ratio_median(infer_values["flowkit/log_prob"], log_prob),
                "flowkit_sample_ratio": ratio_median(infer_values["flowkit/sample"], sample),
                "train_fraction_of_bound": ratio_median(train, bounds[entry.bound_name]),
                "log_prob_fraction_of_bound": ratio_median(log_prob, bounds[f"forward{suffix}"]),
                "sample_fraction_of_bound": ratio_median(sample, bounds[f"forward{suffix}"]),
            }
        )
    return rows


def headline_ratios(train_values, infer_values, bounds, builds) -> dict[str, float]:
    """flowkit against its closest rival: for every other build (plain PyTorch included) the
    median of per-round ratios, then the smallest of those."""
    peers = [name for name in builds if name != "flowkit"]
    if not peers:
        return {}

    def versus(values: dict, mine: str, suffix: str) -> float:
        return min(ratio_median(values[mine], values[f"{p}{suffix}"]) for p in peers)

    result = {
        "train_vs_fastest_peer_default_adam": versus(train_values, "flowkit", "/adam"),
        "train_vs_fastest_peer_fused_adam": versus(train_values, "flowkit", "/adam-fused"),
        "train_fraction_of_bound": ratio_median(train_values["flowkit"], bounds["train"]),
        "log_prob_vs_fastest_peer": versus(infer_values, "flowkit/log_prob", "/log_prob"),
        "sample_vs_fastest_peer": versus(infer_values, "flowkit/sample", "/sample"),
    }
    if "flowkit/bf16" in train_values:
        result.update(
            {
                "bf16_train_vs_fastest_peer_default_adam": versus(
                    train_values, "flowkit/bf16", "/adam"
                ),
                "bf16_train_vs_fastest_peer_fused_adam": versus(
                    train_values, "flowkit/bf16", "/adam-fused"
                ),
                "bf16_train_fraction_of_bf16_bound": ratio_median(
                    train_values["flowkit/bf16"], bounds["train_bf16"]
                ),
                "bf16_log_prob_vs_fastest_peer": versus(
                    infer_values, "flowkit-bf16/log_prob", "/log_prob"
                ),
                "bf16_sample_vs_fastest_peer": versus(
                    infer_values, "flowkit-bf16/sample", "/sample"
                ),
            }
        )
    return result


def print_table(rows, headline, bounds, args, device, load) -> None:
    print()
    print(
        f"NICE-MNIST (784-d, 4 additive couplings, MLP 392 -> {args.depth} x {args.hidden} -> "
        f"392), {device}, {torch.get_num_threads()} threads, train batch {args.batch_size}, "
        f"eval batch {args.eval_batch_size}; {len(bounds['train'])} interleaved rounds; "
        f"load average {load[0][0]:.1f} -> {load[1][0]:.1f}"
    )
    print(
        f"matmul bound: training {median(bounds['train']):.0f} samples/s, forward "
        f"{median(bounds['forward']):.0f} samples/s; 256x1000x1000 product "
        f"{median(bounds['gflops']):.0f} GFLOP/s (medians of rounds)"
    )
    header = (
        f"{'build':<22} {'optimizer':<36} {'train/s':>8} {'best':>6} {'fk x':>6} "
        f"{'bound':>6} {'logp/s':>8} {'fk x':>6} {'sample/s':>8} {'fk x':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['label']:<22} {r['optimizer']:<36} {r['train_samples_per_s']:8.0f} "
            f"{r['train_best_samples_per_s']:6.0f} {r['flowkit_train_ratio']:6.2f} "
            f"{r['train_fraction_of_bound']:6.1%} "
            f"{r['log_prob_samples_per_s']:8.0f} {r['flowkit_log_prob_ratio']:6.2f} "
            f"{r['sample_samples_per_s']:8.0f} {r['flowkit_sample_ratio']:6.2f}"
        )
    print(
        "train/s, logp/s, sample/s: medians of rounds; best: fastest round; fk x: flowkit "
        "(as flowkit run) / this row, median of per-round ratios; bound: training speed / "
        "matmul bound of the same round"
    )
    if headline:
        print(
            "flowkit (as `flowkit run`, float32) against its closest rival (the smallest of "
            "its median per-round ratios to each other build, plain PyTorch included):"
        )
        print(
            f"  training, others with torch's default Adam: "
            f"{headline['train_vs_fastest_peer_default_adam']:.2f}x"
        )
        print(
            f"  training, others with fused Adam too:       "
            f"{headline['train_vs_fastest_peer_fused_adam']:.2f}x"
        )
        print(f"  training at {headline['train_fraction_of_bound']:.1%} of the matmul bound")
        print(
            f"  log_prob {headline['log_prob_vs_fastest_peer']:.2f}x, sampling "
            f"{headline['sample_vs_fastest_peer']:.2f}x"
        )
        if "bf16_train_vs_fastest_peer_default_adam" in headline:
            print(
                "flowkit with bf16 autocast (the MLPs in bfloat16, the couplings and the "
                "likelihood in float32; NOT the float32 model, see README):"
            )
            print(
                f"  training {headline['bf16_train_vs_fastest_peer_default_adam']:.2f}x "
                "(others default Adam), "
                f"{headline['bf16_train_vs_fastest_peer_fused_adam']:.2f}x (others fused); "
                f"{headline['bf16_train_fraction_of_bf16_bound']:.1%} of the bf16 matmul bound"
            )
            print(
                f"  log_prob {headline['bf16_log_prob_vs_fastest_peer']:.2f}x, sampling "
                f"{headline['bf16_sample_vs_fastest_peer']:.2f}x"
            )


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_results(
    args, device, rows, headline, bounds, check, missing, train_values, infer_values, elapsed, load
) -> None:
    """Everything into one HDF5 file, written atomically (temporary name, then rename)."""
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with atomic_h5(args.out) as f:
        write_attrs(
            f,
            {
                "format": "flowkit-peer-comparison",
                "format_version": 1,
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "command": " ".join(["python", "benchmarks/compare_peers.py", *(args.argv or [])]),
                "torch": torch.__version__,
                "python": platform.python_version(),
                "device": str(device)
                if device.type != "cuda"
                else torch.cuda.get_device_name(device),
                "cpu": cpu_model(),
                "cores": os.cpu_count(),
                "threads": torch.get_num_threads(),
                "rounds": len(bounds["train"]),
                "steps": args.steps,
                "clock": args.clock,
                "batch_size": args.batch_size,
                "eval_batch_size": args.eval_batch_size,
                "hidden": args.hidden,
                "depth": args.depth,
                "quick": bool(args.quick),
                "seconds": elapsed,
                "load_average_before": list(load[0]),
                "load_average_after": list(load[1]),
                "left_out": missing,
                "versions": {
                    b: peer_models.version_of(d)
                    for b, d in (
                        ("flowkit", "flowkit"),
                        ("nflows", "nflows"),
                        ("normflows", "normflows"),
                        ("zuko", "zuko"),
                        ("freia", "FrEIA"),
                    )
                },
            },
        )
        write_attrs(f.create_group("headline"), headline)
        group = f.create_group("bound")
        group.attrs["about"] = (
            "per round: train/forward = examples/s the model's matrix "
            "products alone allow (torch.mm replay); gflops = one "
            "256x1000x1000 product"
        )
        for name, values in bounds.items():
            group.create_dataset(name, data=np.asarray(values, dtype=np.float64))
        group = f.create_group("check")
        for name, values in check.items():
            write_attrs(group.create_group(name), values)
        group = f.create_group("rounds")
        for name, values in {**train_values, **infer_values}.items():
            group.create_dataset(name.replace("/", ":"), data=np.asarray(values, np.float64))
        group = f.create_group("summary")
        for row in rows:
            write_attrs(group.create_group(row["key"].replace("/", ":")), row)


if __name__ == "__main__":
    sys.exit(main())
