"""Time to a given validation bits/dim: flowkit against the peers, trained interleaved.

Every contender gets the same NICE-MNIST model (NICE section 5.1; builds in peer_models.py),
the same data (flowkit's ``mnist`` dataset, offline 5,000 digits when full MNIST is absent,
flowkit's default split) and batch 256. Peers train as their users would by default: their own
initialisation, torch's default Adam (lr 1e-3), float32, ``-log_prob(x).mean()``, fresh
dequantisation noise every epoch. flowkit trains as ``flowkit run nice`` does (its
TrainingLoop: data-dependent initialisation, fused Adam), in fp32 and in bf16-mixed.

Interleaved: each round trains one epoch of every contender whose budget is not used up, in an
order rotated per round, so the load of this shared machine hits all alike. Only training time
counts (validation is timed apart). After the run the target is the best validation bits/dim
that the fastest peer (highest training samples/s in this run) reached within its budget;
each contender's time to target is the training time at the end of its first epoch at or
below it. Validation and test bits/dim are always computed in float32.

    .venv/bin/python benchmarks/time_to_quality.py --budget 90 \
        --out benchmarks/results/time_to_quality-cpu.json
    .venv/bin/python benchmarks/time_to_quality.py --quick --out /tmp/ttq.json   # smoke, seconds
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_models

from flowkit import load_registry
from flowkit.datasets import dequantize
from flowkit.metrics import bits_per_dim
from flowkit.run.config import (
    RunConfig,
    build_dataset,
    build_flow,
    resolve_pipeline_options,
)
from flowkit.train.evaluation import as_rows, evaluate, fixed_dequantization
from flowkit.train.loop import TrainingLoop
from flowkit.train.topology import default_topology
from flowkit.train.trainer import TrainOptions, make_optimizer

PEERS = ("nflows", "normflows", "zuko")
FLOWKIT = {"flowkit-fp32": "fp32", "flowkit-bf16-mixed": "bf16-mixed"}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--contenders", default=",".join([*FLOWKIT, *PEERS]))
    p.add_argument("--budget", type=float, default=90.0, help="training seconds per contender")
    p.add_argument("--equal-epochs", type=int, default=8, help="epoch of the test comparison")
    p.add_argument("--max-epochs", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--hidden", type=int, default=peer_models.HIDDEN)
    p.add_argument("--depth", type=int, default=peer_models.DEPTH)
    p.add_argument("--quick", action="store_true", help="tiny model, 5 s budgets (smoke test)")
    p.add_argument("--out", default="benchmarks/results/time_to_quality-cpu.json")
    args = p.parse_args(argv)
    if args.quick:
        args.hidden, args.depth, args.budget, args.equal_epochs = 64, 1, 5.0, 2
    return args


class FlowkitContender:
    """flowkit's own TrainingLoop, one epoch per call (what ``flowkit run`` does)."""

    def __init__(self, registry, config, splits, levels, precision, batch_size):
        torch.manual_seed(0)
        self.flow = build_flow(registry, config, peer_models.FEATURES)
        options = TrainOptions(batch_size=batch_size, seed=0, device="cpu", precision=precision)
        self.loop = TrainingLoop(
            self.flow, splits, levels, options, default_topology(), make_optimizer, None
        )
        self.splits, self.levels = splits, levels

    def epoch(self) -> tuple[float, float, float]:
        """(training seconds, validation seconds, validation bits/dim) of one epoch."""
        record = self.loop.run_epoch([])
        if record is None:
            return math.nan, 0.0, math.nan
        train_seconds = len(self.loop.train) / record.samples_per_second
        return train_seconds, record.seconds - train_seconds, record.valid_bits_per_dim

    def test_bits_per_dim(self) -> float:
        return evaluate(self.flow, self.splits.test, self.levels).bits_per_dim


class PeerContender:
    """A peer build trained by a plain loop with torch's default Adam, as its users would."""

    def __init__(self, name, splits, levels, valid, hidden, depth, batch_size):
        torch.manual_seed(0)
        self.build = peer_models.BUILDERS[name](hidden, depth)
        self.optimizer = torch.optim.Adam(self.build.parameters(), lr=1e-3)
        self.train = as_rows(splits.train)
        self.levels, self.valid, self.batch_size = levels, valid, batch_size
        self.generator = torch.Generator().manual_seed(0)

    def epoch(self) -> tuple[float, float, float]:
        began = time.perf_counter()
        self.build.train(True)
        order = torch.randperm(len(self.train), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            rows = self.train[order[start : start + self.batch_size]]
            x = dequantize(rows, self.levels, self.generator)
            loss = -self.build.log_prob(x).mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        trained = time.perf_counter()
        self.build.train(False)
        with torch.no_grad():
            ll = float(torch.cat([self.build.log_prob(v) for v in self.valid.split(1000)]).mean())
        return (
            trained - began,
            time.perf_counter() - trained,
            bits_per_dim(ll, peer_models.FEATURES, self.levels),
        )


def main(argv=None) -> int:
    args = parse_args(argv)
    warnings.simplefilter("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    registry = load_registry()
    overrides = {"hidden": args.hidden, "depth": args.depth}
    config = RunConfig(
        pipeline="nice",
        pipeline_options=resolve_pipeline_options(registry, "nice", overrides),
        dataset="mnist",
    )
    dataset = build_dataset(registry, config)
    splits = dataset.load()
    levels = dataset.info().levels
    valid = fixed_dequantization(splits.validation, levels)
    print(f"data: {dataset.describe()}", flush=True)
    contenders, missing = {}, {}
    for name in args.contenders.split(","):
        try:
            if name in FLOWKIT:
                contenders[name] = FlowkitContender(
                    registry, config, splits, levels, FLOWKIT[name], args.batch_size
                )
            else:
                contenders[name] = PeerContender(
                    name, splits, levels, valid, args.hidden, args.depth, args.batch_size
                )
        except ImportError as err:
            missing[name] = str(err)
            print(f"left out {name}: {err}")
    curves = {name: [] for name in contenders}  # (epoch, train seconds so far, valid bpd)
    totals = dict.fromkeys(contenders, 0.0)
    tests: dict[str, float] = {}
    load_before, began, round_index = os.getloadavg(), time.perf_counter(), 0
    while True:
        active = [
            n
            for n in contenders
            if totals[n] < args.budget
            and len(curves[n]) < args.max_epochs
            and not (curves[n] and math.isnan(curves[n][-1][2]))
        ]
        if not active:
            break
        shift = round_index % len(active)
        for name in active[shift:] + active[:shift]:
            seconds, _, bpd = contenders[name].epoch()
            totals[name] += 0.0 if math.isnan(seconds) else seconds
            curves[name].append((len(curves[name]) + 1, totals[name], bpd))
            if name in FLOWKIT and len(curves[name]) == args.equal_epochs:
                tests[name] = contenders[name].test_bits_per_dim()
        round_index += 1
        print(
            f"round {round_index} ({time.perf_counter() - began:.0f} s): "
            + ", ".join(f"{n} {curves[n][-1][2]:.3f}@{totals[n]:.0f}s" for n in active),
            flush=True,
        )
    load_after = os.getloadavg()
    report = summarise(args, curves, tests, contenders)
    report.update(
        machine={"cpu": _cpu(), "threads": torch.get_num_threads(), "torch": torch.__version__},
        load_average={"before": load_before, "after": load_after},
        wall_seconds=time.perf_counter() - began,
        missing=missing,
        data=dataset.describe(),
        args=vars(args),
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(out)
    print(f"target: {report['target']}")
    for name, row in report["contenders"].items():
        print(
            f"{name}: {row['epochs']} epochs, {row['train_seconds']:.0f} s, "
            f"{row['train_samples_per_s']:.0f} samples/s, best valid "
            f"{row['best_valid_bits_per_dim']:.4f}, to target {row['seconds_to_target']} s "
            f"(epoch {row['target_epoch']}, ratio {row['time_ratio_to_fastest_peer']}), test at "
            f"epoch {args.equal_epochs}: {row[f'test_bits_per_dim_at_epoch_{args.equal_epochs}']}"
        )
    print(f"wrote {out}; load average {load_before} -> {load_after}")
    return 0


def summarise(args, curves, tests, contenders) -> dict:
    examples = {
        n: len(c.loop.train) if isinstance(c, FlowkitContender) else len(c.train)
        for n, c in contenders.items()
    }
    speed = {n: examples[n] * len(v) / max(v[-1][1], 1e-9) for n, v in curves.items() if v}
    peers = [n for n in speed if n not in FLOWKIT]
    fastest = max(peers, key=speed.get) if peers else None
    target = min(b for _, _, b in curves[fastest]) if fastest else math.nan
    rows = {}
    for name, curve in curves.items():
        reached = next(((e, t) for e, t, b in curve if b <= target), None)
        rows[name] = {
            "epochs": len(curve),
            "train_seconds": curve[-1][1] if curve else 0.0,
            "train_samples_per_s": speed.get(name),
            "final_valid_bits_per_dim": curve[-1][2] if curve else math.nan,
            "best_valid_bits_per_dim": min((b for *_, b in curve), default=math.nan),
            "target_epoch": reached[0] if reached else None,
            "seconds_to_target": reached[1] if reached else None,
            f"valid_bits_per_dim_at_epoch_{args.equal_epochs}": (
                curve[args.equal_epochs - 1][2] if len(curve) >= args.equal_epochs else None
            ),
            f"test_bits_per_dim_at_epoch_{args.equal_epochs}": tests.get(name),
            "curve": curve,
        }
    base = rows[fastest]["seconds_to_target"] if fastest else None
    for row in rows.values():
        t = row["seconds_to_target"]
        row["time_ratio_to_fastest_peer"] = t / base if t is not None and base else None
    return {"target": {"fastest_peer": fastest, "valid_bits_per_dim": target}, "contenders": rows}


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
