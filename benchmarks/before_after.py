"""Training speed of two flowkit source trees, interleaved: did a change make training slower?

Each round runs one timing process per tree, in an order that alternates between rounds, each
on one thread; a process builds the model through the registry (the same code path as
``flowkit run``), takes warm-up steps, then times ``--steps`` training steps (``-log_prob``
mean, backward, Adam) and prints samples/s. The drift of a shared machine hits both trees of a
round alike, so the reported number is the median over rounds of the per-round ratio
``after / before`` (1.00 = as fast; > 1 faster).

Models: ``nice-mnist``, the paper's MNIST model (784 dimensions, 4 additive couplings of
``5 x 1000`` ReLU MLPs, diagonal scaling, logistic prior) at batch 256, and ``glow-digits``,
``flowkit run glow``'s default model on the 8x8 digits at batch 64.

    git worktree add /tmp/before <commit-before>
    .venv/bin/python benchmarks/before_after.py --before /tmp/before --after . --rounds 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

MODELS = {
    "nice-mnist": {"pipeline": "nice", "shape": [784], "batch": 256, "options": {}},
    "glow-digits": {"pipeline": "glow", "shape": [1, 8, 8], "batch": 64, "options": {}},
}

CHILD = r"""
import json, sys, time, warnings
import torch
torch.set_num_threads(1)
warnings.simplefilter("ignore")
import flowkit
spec = json.loads(sys.argv[1])
registry = flowkit.load_registry()
torch.manual_seed(0)
pipeline = registry.get("pipeline", spec["pipeline"])()
flow = pipeline.build_for(registry, tuple(spec["shape"]), pipeline.resolve(**spec["options"]))
features = 1
for d in spec["shape"]:
    features *= d
x = torch.rand(spec["batch"], features) * 0.9 + 0.05
optimizer = torch.optim.Adam(flow.parameters(), lr=1e-4)
def step():
    optimizer.zero_grad(set_to_none=True)
    loss = -flow.log_prob(x).mean()
    loss.backward()
    optimizer.step()
for _ in range(spec["warmup"]):
    step()
start = time.process_time()
for _ in range(spec["steps"]):
    step()
seconds = time.process_time() - start
print(json.dumps({"samples_per_second": spec["steps"] * spec["batch"] / seconds}))
"""


def _time(tree: Path, spec: dict) -> float:
    tree = tree.resolve()
    paths = [tree, tree / "plugins", tree / "plugins" / "flowkit-spline"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(p) for p in paths),
        "OMP_NUM_THREADS": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(spec)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["samples_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="source tree before")
    parser.add_argument("--after", type=Path, default=Path("."), help="source tree after")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    for name in args.models.split(","):
        spec = {**MODELS[name], "steps": args.steps, "warmup": args.warmup}
        ratios, before, after = [], [], []
        for round_index in range(args.rounds):
            order = ("before", "after") if round_index % 2 == 0 else ("after", "before")
            speeds = {which: _time(getattr(args, which), spec) for which in order}
            before.append(speeds["before"])
            after.append(speeds["after"])
            ratios.append(speeds["after"] / speeds["before"])
        print(
            f"{name}: before {statistics.median(before):,.0f} samples/s, after "
            f"{statistics.median(after):,.0f} samples/s (CPU time, one thread); after/before "
            f"median {statistics.median(ratios):.3f} over {args.rounds} rounds "
            f"(range {min(ratios):.3f}-{max(ratios):.3f})"
        )


if __name__ == "__main__":
    main()
