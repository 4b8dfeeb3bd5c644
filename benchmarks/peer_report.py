"""The output of a comparison run: the table printed at the end and the HDF5 results file
(format ``flowkit-peer-comparison``, version 1), written atomically.
"""

from __future__ import annotations

import datetime as dt
import os
import platform

import numpy as np
import peer_models
import torch

from flowkit.bench.throughput import median
from flowkit.io.h5 import atomic_h5, write_attrs


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
