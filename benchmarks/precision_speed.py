"""Training-step and log_prob speed of flowkit's NICE-MNIST model per precision, eager and
compiled, timed interleaved (rounds, order rotated), reported as ratios to fp32 eager.

    .venv/bin/python benchmarks/precision_speed.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings

import torch

from flowkit import load_registry
from flowkit.bench.throughput import seconds_per_call
from flowkit.run.config import RunConfig, build_flow, resolve_pipeline_options
from flowkit.train.evaluation import evaluation_mode
from flowkit.train.precision import resolve_precision
from flowkit.train.topology import LogLikelihood
from flowkit.train.trainer import TrainOptions, make_optimizer


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--precisions", default="fp32,bf16-mixed")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--out", default="")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    registry = load_registry()
    config = RunConfig(
        pipeline="nice", pipeline_options=resolve_pipeline_options(registry, "nice", {})
    )
    gen = torch.Generator().manual_seed(0)
    batch, eval_batch = torch.rand(256, 784, generator=gen), torch.rand(1000, 784, generator=gen)
    jobs = {}
    for precision in args.precisions.split(","):
        for compiled in (False,) if args.no_compile else (False, True):
            torch.manual_seed(0)
            flow = build_flow(registry, config, 784)
            policy = resolve_precision(precision, "cpu")
            module = LogLikelihood(flow)
            log_prob = flow.log_prob
            if compiled:
                module, log_prob = torch.compile(module), torch.compile(flow.log_prob)
            optimizer, _ = make_optimizer(flow.parameters(), TrainOptions())
            key = f"{precision}{'+compile' if compiled else ''}"

            def step(module=module, optimizer=optimizer, flow=flow, policy=policy) -> None:
                flow.train()
                with policy.training(flow):
                    loss = -module(batch).mean()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()

            def infer(flow=flow, log_prob=log_prob) -> None:
                with evaluation_mode(flow):  # evaluation is float32 whatever the policy
                    log_prob(eval_batch)

            began = time.perf_counter()
            step(), step(), infer(), infer()  # warm-up (and compilation)
            print(f"{key}: warm-up {time.perf_counter() - began:.1f} s", flush=True)
            jobs[f"{key}/train"] = (step, 256)
            jobs[f"{key}/log_prob"] = (infer, 1000)
    values = {k: [] for k in jobs}
    load_before = os.getloadavg()
    keys = list(jobs)
    for r in range(args.rounds):
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            fn, n = jobs[key]
            values[key].append(n / seconds_per_call(fn, args.steps, "cpu"))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in values.items()))
    report = {"load_average": [load_before, os.getloadavg()], "threads": torch.get_num_threads()}
    for key, series in values.items():
        kind = key.split("/")[1]
        base = values[f"fp32/{kind}"]
        ratio = statistics.median(a / b for a, b in zip(series, base))
        report[key] = {"samples_per_s_median": statistics.median(series), "ratio_to_fp32": ratio}
        print(f"{key}: {report[key]['samples_per_s_median']:.0f}/s, {ratio:.2f}x fp32 eager")
    print(f"load average {report['load_average']}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
