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

The script holds the command line and the order of the steps; the steps live next to it:
``peer_models.py`` (the builds), ``peer_equivalence.py`` (the same-function check),
``peer_jobs.py`` and ``peer_rounds.py`` (what is timed, and the interleaved rounds),
``peer_summary.py`` (medians and ratios) and ``peer_report.py`` (the table and the HDF5 file).

Peers are optional: ``pip install -e .[peers]``; missing ones are left out with a note.

    python benchmarks/compare_peers.py                          # full run, < 8 minutes on 2 cores
    python benchmarks/compare_peers.py --quick --out /tmp/q.h5  # smoke test (tiny model)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_equivalence
import peer_jobs
import peer_models
import peer_report
import peer_rounds
import peer_summary

from flowkit.bench.throughput import synchronize

LIBRARIES = ("flowkit", "torch", "nflows", "normflows", "zuko", "freia")


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
    builds, missing = peer_models.build_all(names, args.hidden, args.depth)
    for name, why in missing.items():
        print(f"left out {name}: {why}")
    for build in builds.values():
        build.module.to(device)
    check = peer_equivalence.check_equivalence(builds, device)
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
    entries = peer_jobs.make_entries(builds, args.bf16)
    train_jobs = peer_jobs.training_jobs(entries, data, args.steps, device, args.timer)
    infer_jobs = peer_jobs.inference_jobs(
        entries, eval_inputs, args.eval_calls, device, args.timer
    )
    peer_rounds.warm_up(entries, data, infer_jobs, device)
    bounds, train_values, infer_values = peer_rounds.run_rounds(
        builds["flowkit"].module, train_jobs, infer_jobs, args, device, started
    )
    synchronize(device)
    elapsed = time.perf_counter() - started
    load = (load_before, os.getloadavg())

    rows = peer_summary.summarise(entries, train_values, infer_values, bounds)
    headline = peer_summary.headline_ratios(train_values, infer_values, bounds, builds)
    peer_report.print_table(rows, headline, bounds, args, device, load)
    peer_report.write_results(
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


if __name__ == "__main__":
    sys.exit(main())
