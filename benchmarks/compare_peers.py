"""flowkit against nflows, normflows, zuko, FrEIA and plain PyTorch on the NICE-MNIST model.

1. Builds the same model in every library (``peer_models.py``), gives all builds the weights of
   the plain-PyTorch one and checks that they compute the same function: log_prob on the same
   inputs, the inverse on the same latents, the round trip. A build that disagrees stops the run.
2. Times, interleaved in one process (every round runs every build back to back, in an order
   rotated each round, after warm-up; the result is the median over rounds):
   - a training step: batch 256, ``-mean log_prob``, forward + backward + Adam step;
   - log_prob and sampling: batch 1000, eval mode, no gradients;
   - in every round, the matmul bound (``flowkit.throughput.matmul_bound``): the model's matrix
     products alone, replayed with ``torch.mm``; and one plain 256x1000x1000 product's GFLOP/s.
   flowkit trains with the optimizer ``flowkit run`` uses (``flowkit.training.make_optimizer``
   with ``TrainOptions()`` defaults: fused Adam where torch has it, and the per-step finiteness
   check of the trainer). Every build, flowkit included, is also timed with torch's default Adam
   (on the CPU a per-tensor loop) and with ``Adam(fused=True)``, so the comparison is also given
   like for like.
3. Prints the table (ratios are flowkit's speed over the build's, median of per-round ratios) and
   writes an HDF5 file of everything (``--out``).

Peers are optional: ``pip install -e .[peers]``; missing ones are left out with a note.

    python benchmarks/compare_peers.py                       # full run, about 6 minutes on 2 cores
    python benchmarks/compare_peers.py --quick --out /tmp/q.h5  # smoke test, seconds
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_models  # noqa: E402
from flowkit.throughput import (  # noqa: E402
    matmul_bound,
    matmul_gflops,
    median,
    seconds_per_call,
    synchronize,
)
from flowkit.training import TrainOptions, make_optimizer  # noqa: E402

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
    train: list[float] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--libs", default=",".join(LIBRARIES),
                        help="comma-separated builds (default: all; flowkit is always included)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=12, help="timed training steps per round")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--eval-batch-size", type=int, default=1000)
    parser.add_argument("--eval-calls", type=int, default=3,
                        help="timed log_prob and sample calls per round")
    parser.add_argument("--hidden", type=int, default=peer_models.HIDDEN)
    parser.add_argument("--depth", type=int, default=peer_models.DEPTH)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice, the number of cores)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (CUDA is untested here)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: hidden 64, depth 2, 2 rounds of 2 steps, batch 64")
    parser.add_argument("--out", default=None,
                        help="HDF5 results file (default benchmarks/results/peers-<device>.h5)")
    parser.add_argument("--force", action="store_true", help="overwrite --out")
    args = parser.parse_args(argv)
    if args.quick:
        args.hidden, args.depth, args.rounds, args.steps = 64, 2, 2, 2
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
        report[name] = {"log_prob_max_abs_diff": log_prob_error,
                        "decode_max_abs_diff": decode_error,
                        "round_trip_max_abs_error": round_trip,
                        "reference_mean_log_prob": float(expected_log_prob.mean())}
        if not (log_prob_error <= LOG_PROB_TOLERANCE and decode_error <= DECODE_TOLERANCE):
            raise SystemExit(f"{name} does not compute the reference function: "
                             f"log_prob differs by {log_prob_error:.3g}, inverse by "
                             f"{decode_error:.3g}")
        build.module.train()
    return report


def _hidden_of(builds: dict) -> int:
    return peer_models.linears(next(iter(builds.values())).nets[0])[0].out_features


def _depth_of(builds: dict) -> int:
    return len(peer_models.linears(next(iter(builds.values())).nets[0])) - 1


def make_entries(builds: dict) -> list[Entry]:
    entries = []
    for name, build in builds.items():
        params = build.parameters()
        fused_done = False
        if name == "flowkit":
            optimizer, kind = make_optimizer(params, TrainOptions())
            entries.append(Entry("flowkit", build, f"{kind} (as flowkit run)", optimizer,
                                 check_finite=True))
            fused_done = kind == "adam-fused"
        entries.append(Entry(f"{name}/adam", build, "adam (torch default)",
                             torch.optim.Adam(params, lr=1e-3)))
        if not fused_done:
            entries.append(Entry(f"{name}/adam-fused", build, "adam-fused",
                                 torch.optim.Adam(params, lr=1e-3, fused=True)))
    return entries


def training_step(entry: Entry, batch: torch.Tensor) -> None:
    loss = -entry.build.log_prob(batch).mean()
    if entry.check_finite and not math.isfinite(loss.item()):  # what the trainer does on CPU
        raise SystemExit(f"{entry.key}: non-finite loss during timing")
    entry.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    entry.optimizer.step()


def time_training(entry: Entry, data: torch.Tensor, steps: int, warmup: int,
                  device: torch.device) -> Callable[[], float]:
    def job() -> float:
        entry.build.train(True)
        for i in range(warmup):
            training_step(entry, data[i % len(data)])
        counter = iter(range(10**9))
        seconds = seconds_per_call(lambda: training_step(entry, data[next(counter) % len(data)]),
                                   steps, device)
        return data.shape[1] / seconds
    return job


def time_inference(build, kind: str, inputs: torch.Tensor, calls: int,
                   device: torch.device) -> Callable[[], float]:
    n = inputs.shape[0]
    run = (lambda: build.log_prob(inputs)) if kind == "log_prob" else (lambda: build.sample(n))

    def job() -> float:
        build.train(False)
        with torch.no_grad():
            run()
            seconds = seconds_per_call(run, calls, device)
        build.train(True)
        return n / seconds
    return job


def per_round_ratio(numerator: list[float], denominator: list[float]) -> list[float]:
    return [a / b for a, b in zip(numerator, denominator)]


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
        print(f"error: unknown build(s) {', '.join(unknown)}; choose from "
              f"{', '.join(LIBRARIES)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    builds, missing = build_all(names, args.hidden, args.depth)
    for name, why in missing.items():
        print(f"left out {name}: {why}")
    for build in builds.values():
        build.module.to(device)
    check = check_equivalence(builds, device)
    print("same function: " + ", ".join(
        f"{n} |dlogp| {c['log_prob_max_abs_diff']:.1e}" for n, c in check.items()))

    generator = torch.Generator().manual_seed(3)
    data = torch.rand(4, args.batch_size, peer_models.FEATURES, generator=generator).to(device)
    eval_inputs = torch.rand(args.eval_batch_size, peer_models.FEATURES,
                             generator=generator).to(device)
    entries = make_entries(builds)
    train_jobs = {e.key: time_training(e, data, args.steps, 2, device) for e in entries}
    infer_jobs = {}
    for name, build in builds.items():
        infer_jobs[f"{name}/log_prob"] = time_inference(build, "log_prob", eval_inputs,
                                                        args.eval_calls, device)
        infer_jobs[f"{name}/sample"] = time_inference(build, "sample", eval_inputs,
                                                      args.eval_calls, device)
    warm = 1 if args.quick else 4
    for entry in entries:  # first steps allocate Adam state and warm caches
        time_training(entry, data, 1, warm, device)()
    for job in infer_jobs.values():
        job()

    reference = builds["flowkit"].module
    bounds = {"train": [], "forward": [], "gflops": []}

    def measure_bounds(_: int) -> None:
        bounds["train"].append(matmul_bound(reference, args.batch_size, training=True,
                                            device=device, repeats=2))
        bounds["forward"].append(matmul_bound(reference, args.eval_batch_size, training=False,
                                              device=device, repeats=2))
        bounds["gflops"].append(matmul_gflops(device=device, seconds=0.1 if args.quick else 0.3))

    train_values: dict[str, list[float]] = {k: [] for k in train_jobs}
    infer_values: dict[str, list[float]] = {k: [] for k in infer_jobs}
    train_keys, infer_keys = list(train_jobs), list(infer_jobs)
    for index in range(args.rounds):
        measure_bounds(index)
        shift = index % len(train_keys)
        for key in train_keys[shift:] + train_keys[:shift]:
            train_values[key].append(train_jobs[key]())
        shift = index % len(infer_keys)
        for key in infer_keys[shift:] + infer_keys[:shift]:
            infer_values[key].append(infer_jobs[key]())
        print(f"round {index + 1}/{args.rounds}: bound {bounds['train'][-1]:.0f}/s, "
              + ", ".join(f"{k} {v[-1]:.0f}" for k, v in train_values.items()), flush=True)
    synchronize(device)
    elapsed = time.perf_counter() - started

    summary = summarise(entries, builds, train_values, infer_values, bounds, check)
    print_table(summary, bounds, args, device)
    write_results(args, device, summary, bounds, check, missing, train_values, infer_values,
                  elapsed)
    print(f"wrote {args.out} ({elapsed:.0f} s)")
    return 0


def summarise(entries, builds, train_values, infer_values, bounds, check) -> list[dict]:
    flowkit_train = train_values["flowkit"]
    rows = []
    for entry in entries:
        name = entry.key.split("/")[0]
        train = train_values[entry.key]
        log_prob = infer_values[f"{name}/log_prob"]
        sample = infer_values[f"{name}/sample"]
        rows.append({
            "key": entry.key, "build": name, "label": entry.build.label,
            "optimizer": entry.optimizer_name, "parameters": entry.build.parameter_count,
            "train_samples_per_s": median(train),
            "log_prob_samples_per_s": median(log_prob),
            "sample_samples_per_s": median(sample),
            "flowkit_train_ratio": median(per_round_ratio(flowkit_train, train)),
            "flowkit_log_prob_ratio": median(per_round_ratio(
                infer_values["flowkit/log_prob"], log_prob)),
            "flowkit_sample_ratio": median(per_round_ratio(
                infer_values["flowkit/sample"], sample)),
            "train_fraction_of_bound": median(per_round_ratio(train, bounds["train"])),
            "log_prob_fraction_of_bound": median(per_round_ratio(log_prob, bounds["forward"])),
            "sample_fraction_of_bound": median(per_round_ratio(sample, bounds["forward"])),
        })
    return rows


def print_table(rows, bounds, args, device) -> None:
    print()
    print(f"NICE-MNIST (784-d, 4 additive couplings, MLP 392 -> {args.depth} x {args.hidden} -> "
          f"392), {device}, {torch.get_num_threads()} threads, train batch {args.batch_size}, "
          f"eval batch {args.eval_batch_size}; medians of {args.rounds} interleaved rounds")
    print(f"matmul bound: training {median(bounds['train']):.0f} samples/s, forward "
          f"{median(bounds['forward']):.0f} samples/s; 256x1000x1000 product "
          f"{median(bounds['gflops']):.0f} GFLOP/s")
    header = (f"{'build':<22} {'optimizer':<28} {'train/s':>8} {'fk x':>6} {'bound':>6} "
              f"{'logp/s':>8} {'fk x':>6} {'sample/s':>8} {'fk x':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['label']:<22} {r['optimizer']:<28} {r['train_samples_per_s']:8.0f} "
              f"{r['flowkit_train_ratio']:6.2f} {r['train_fraction_of_bound']:6.1%} "
              f"{r['log_prob_samples_per_s']:8.0f} {r['flowkit_log_prob_ratio']:6.2f} "
              f"{r['sample_samples_per_s']:8.0f} {r['flowkit_sample_ratio']:6.2f}")
    print("fk x = flowkit (as flowkit run) / this row, median of per-round ratios; bound = "
          "training throughput / matmul bound of the same round")


def write_results(args, device, rows, bounds, check, missing, train_values, infer_values,
                  elapsed) -> None:
    directory = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".h5.part", dir=directory)
    os.close(handle)
    try:
        with h5py.File(temporary, "w") as f:
            f.attrs.update({
                "format": "flowkit-peer-comparison", "format_version": 1,
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "command": " ".join([os.path.basename(sys.argv[0])] + (sys.argv[1:] or [])),
                "torch": str(torch.__version__), "python": platform.python_version(),
                "device": str(device), "threads": torch.get_num_threads(),
                "processor": platform.processor() or platform.machine(),
                "rounds": args.rounds, "steps": args.steps, "batch_size": args.batch_size,
                "eval_batch_size": args.eval_batch_size, "hidden": args.hidden,
                "depth": args.depth, "quick": bool(args.quick), "seconds": elapsed,
                "left_out": ", ".join(f"{k} ({v})" for k, v in missing.items()),
            })
            group = f.create_group("bound")
            group.attrs["about"] = ("examples/s allowed by the model's matrix products alone "
                                    "(torch.mm replay), per round; gflops: 256x1000x1000 product")
            for name, values in bounds.items():
                group.create_dataset(name, data=np.asarray(values, dtype=np.float64))
            group = f.create_group("check")
            for name, values in check.items():
                group.create_group(name).attrs.update(values)
            group = f.create_group("rounds")
            for name, values in {**train_values, **infer_values}.items():
                group.create_dataset(name.replace("/", ":"), data=np.asarray(values, np.float64))
            group = f.create_group("summary")
            for row in rows:
                group.create_group(row["key"].replace("/", ":")).attrs.update(row)
        os.replace(temporary, args.out)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


if __name__ == "__main__":
    sys.exit(main())
