"""Training throughput of `flowkit run` on 1 and N processes (data-parallel, torch.distributed).

Runs the real command, ``flowkit run nice ... --nproc N``, once per configuration, and reads the
training samples/s the run file records per epoch (examples over all processes / training time
of the epoch, validation excluded). The first epoch (warm-up) is dropped and the median of the
rest reported. ``--batch-size`` is the global batch in every configuration, so each step does
the same optimisation work; N processes each compute on batch/N rows and all-reduce gradients.

Configurations (CPU): one process with every core, one process with one thread, and N processes
with cores/N threads each (``flowkit run --nproc`` sets OMP_NUM_THREADS so). On GPUs pass
``--device cuda --nproc 1,<gpus>``: each process then drives one GPU. With ``--rounds R`` every
configuration runs R times, interleaved in rotated order, and the median over rounds is
reported, so that other work on a shared machine weighs on every configuration alike.

    python benchmarks/distributed.py                    # paper model, MNIST (5,000), ~2 minutes
    python benchmarks/distributed.py --quick            # tiny model on digits, seconds
    python benchmarks/distributed.py --nproc 1,2,4 --device cuda --out gpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from flowkit.io.runfile import read_run_record


def run_once(nproc: int, threads: int | None, args: argparse.Namespace, directory: Path) -> dict:
    """One `flowkit run`; returns its measured numbers."""
    out = directory / f"run-{nproc}-{threads or 'all'}.h5"
    command = [
        sys.executable,
        "-m",
        "flowkit",
        "run",
        "nice",
        "--dataset",
        args.dataset,
        "--layers",
        str(args.layers),
        "--hidden",
        str(args.hidden),
        "--depth",
        str(args.depth),
        "--batch-size",
        str(args.batch_size),
        "--epochs",
        str(args.epochs),
        "--patience",
        "0",
        "--device",
        args.device,
        "--num-samples",
        "0",
        "--nproc",
        str(nproc),
        "--out",
        str(out),
        "--force",
        "-q",
    ]
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    record = read_run_record(out)
    rates = record.history["samples_per_second"][1:] or record.history["samples_per_second"]
    return {
        "processes": nproc,
        "device": record.environment["versions"]["device"],  # e.g. "cpu (1 threads)"
        "samples_per_second": statistics.median(rates),
        "samples_per_second_epochs": rates,
        "epoch_seconds": statistics.median(
            record.history["seconds"][1:] or record.history["seconds"]
        ),
        "wall_seconds": wall,
        "test_log_likelihood_nats": record.results.get("test_log_likelihood_nats"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nproc", default="1,2", help="process counts, comma-separated")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=1000)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny model on digits")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.dataset, args.hidden, args.depth, args.epochs = "digits", 64, 2, 4
    counts = [int(n) for n in args.nproc.split(",")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    configs = [(n, None) for n in counts]
    if args.device == "cpu" and 1 in counts and cores and cores > 1:
        configs.insert(1, (1, 1))  # the per-process share of the cores, for comparison
    load_before = os.getloadavg()[0]
    runs: list[list[dict]] = [[] for _ in configs]
    with tempfile.TemporaryDirectory() as directory:
        for round_ in range(args.rounds):
            for k in range(len(configs)):
                index = (k + round_) % len(configs)
                runs[index].append(run_once(*configs[index], args, Path(directory)))
    results = []
    for config_runs in runs:
        row = dict(config_runs[0])
        for key in ("samples_per_second", "epoch_seconds", "wall_seconds"):
            row[key] = statistics.median(run[key] for run in config_runs)
        row["rounds"] = [run["samples_per_second"] for run in config_runs]
        results.append(row)
    base = results[0]["samples_per_second"]
    print(
        f"flowkit run nice --dataset {args.dataset} --layers {args.layers} --hidden "
        f"{args.hidden} --depth {args.depth} --batch-size {args.batch_size} (global) on "
        f"{args.device}, {cores} cores, torch {torch.__version__}, median of {args.rounds} "
        f"round(s); load average before: {load_before:.1f}"
    )
    print(
        f"{'processes':>9}  {'each on':>22}  {'samples/s':>10}  {'vs first':>12}  {'epoch s':>8}"
    )
    for row in results:
        print(
            f"{row['processes']:>9}  {row['device']:>22}  "
            f"{row['samples_per_second']:>10,.0f}  {row['samples_per_second'] / base:>11.2f}x  "
            f"{row['epoch_seconds']:>8.2f}"
        )
    if args.out:
        meta = {
            "argv": sys.argv,
            "platform": platform.platform(),
            "cores": cores,
            "load_average_before": load_before,
            "torch": torch.__version__,
            "options": vars(args),
        }
        Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
