"""The GPU path in one go (run through ``benchmarks/gpu_check.sh``); writes one JSON file.

Sections, each recorded as ``{"status": "ok" | "skipped" | "failed", ...}``:

1. ``contracts``: the contract kit for every registered component (tests/test_contracts.py);
   its device checks run on CUDA whenever CUDA is present.
2. ``training``: NICE-MNIST (paper architecture; ``--small``: a tiny MLP) trained a few epochs
   by flowkit's TrainingLoop in fp32, tf32 and bf16-mixed, eager, with ``torch.compile`` and
   with CUDA graphs (``torch.compile(mode="reduce-overhead")``): validation and test bits/dim
   (float32) and training samples/s.
3. ``throughput``: training samples/s at batch 256 and a large batch per precision, against
   the matmul bound of the same precision (flowkit.bench.throughput.matmul_bound).
4. ``peers``: benchmarks/compare_peers.py on the same device (``--quick`` with ``--small``).
5. ``nccl``: a 2-process ``flowkit run --nproc 2`` on two GPUs.

Without CUDA, what needs it is skipped with the reason, and the rest runs on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PRECISIONS = ("fp32", "tf32", "bf16-mixed")
MODES = ("eager", "compile", "cuda-graphs")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="benchmarks/results/gpu_check.json")
    p.add_argument("--small", action="store_true", help="tiny sizes: minutes on a CPU")
    p.add_argument("--smoke", action="store_true", help="tinier still, no subprocesses (tests)")
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args(argv)
    if args.smoke:
        args.small, args.epochs = True, 1
    return args


def section(results: dict, name: str, fn, *args) -> None:
    began = time.perf_counter()
    try:
        results[name] = fn(*args)
    except Exception as err:  # one failing section must not hide the others
        results[name] = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
        traceback.print_exc()
    results[name]["seconds"] = round(time.perf_counter() - began, 1)
    print(f"[gpu_check] {name}: {results[name]['status']} ({results[name]['seconds']} s)")


def environment() -> dict:
    cuda = torch.cuda.is_available()
    return {
        "status": "ok",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "cpu_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
    }


def contracts(args) -> dict:
    if args.smoke:
        return {"status": "skipped", "reason": "--smoke runs no subprocesses"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["tests/test_contracts.py"] + (["-k", "device"] if args.small else [])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    tail = done.stdout.strip().splitlines()[-1:] or [""]
    where = "CUDA and CPU" if torch.cuda.is_available() else "CPU only (no CUDA here)"
    status = "ok" if done.returncode == 0 else "failed"
    return {"status": status, "summary": tail[0], "devices": where, "command": command}


def _setup(small: bool):
    from flowkit import load_registry
    from flowkit.run.config import RunConfig, build_dataset, resolve_pipeline_options

    registry = load_registry()
    model = {"hidden": 64, "depth": 1} if small else {}
    config = RunConfig(
        pipeline="nice",
        pipeline_options=resolve_pipeline_options(registry, "nice", model),
        dataset="mnist",
    )
    dataset = build_dataset(registry, config)
    return registry, config, dataset, dataset.load()


def _unavailable(precision: str, mode: str, device: torch.device) -> str | None:
    if device.type != "cuda" and precision == "tf32":
        return "tf32 needs CUDA"
    if device.type != "cuda" and mode == "cuda-graphs":
        return "CUDA graphs need CUDA"
    return None


def training(args, setup, device: torch.device) -> dict:
    from flowkit.run.config import build_flow
    from flowkit.train.evaluation import evaluate
    from flowkit.train.loop import TrainingLoop
    from flowkit.train.topology import default_topology
    from flowkit.train.trainer import TrainOptions, make_optimizer

    registry, config, dataset, splits = setup
    levels, rows = dataset.info().levels, {}
    modes = ("eager", "compile") if args.smoke else MODES
    for precision in PRECISIONS:
        for mode in modes:
            key = f"{precision}/{mode}"
            why = _unavailable(precision, mode, device)
            if why:
                rows[key] = {"status": "skipped", "reason": why}
                continue
            torch.manual_seed(0)
            flow = build_flow(registry, config, 784)
            options = TrainOptions(device=str(device), precision=precision, seed=0)
            loop = TrainingLoop(
                flow, splits, levels, options, default_topology(), make_optimizer, None
            )
            if mode != "eager":
                kwargs = {"mode": "reduce-overhead"} if mode == "cuda-graphs" else {}
                loop.module = torch.compile(loop.module, **kwargs)
            records = [loop.run_epoch([]) for _ in range(args.epochs)]
            if any(r is None for r in records):
                rows[key] = {"status": "failed", "error": "non-finite loss"}
                continue
            speeds = [r.samples_per_second for r in records]
            rows[key] = {
                "status": "ok",
                "valid_bits_per_dim": [r.valid_bits_per_dim for r in records],
                "test_bits_per_dim": evaluate(flow, splits.test, levels).bits_per_dim,
                "train_samples_per_s_last_epoch": speeds[-1],
                "train_samples_per_s_median": statistics.median(speeds),
            }
            print(f"[gpu_check] training {key}: {rows[key]}", flush=True)
    return {"status": "ok", "device": str(device), "epochs": args.epochs, "runs": rows}


def throughput(args, setup, device: torch.device) -> dict:
    from flowkit.bench.throughput import matmul_bound, seconds_per_call
    from flowkit.run.config import build_flow
    from flowkit.train.precision import resolve_precision
    from flowkit.train.topology import LogLikelihood
    from flowkit.train.trainer import TrainOptions, make_optimizer

    registry, config, _, _ = setup
    large = 1024 if device.type != "cuda" else 8192
    batches = (64, 256) if args.smoke else (256, large)
    steps = 2 if args.smoke else 10
    rows = {}
    for precision in PRECISIONS:
        if _unavailable(precision, "eager", device):
            rows[precision] = {"status": "skipped", "reason": "tf32 needs CUDA"}
            continue
        policy = resolve_precision(precision, device)
        flow = build_flow(registry, config, 784).to(device)
        module = LogLikelihood(flow)
        optimizer, _ = make_optimizer(flow.parameters(), TrainOptions(device=str(device)))
        for batch in batches:
            x = torch.rand(batch, 784, device=device)

            def step(x=x, module=module, optimizer=optimizer) -> None:
                loss = -module(x).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()

            with policy.training(flow):
                step()  # warm-up
                speed = batch / seconds_per_call(step, steps, device)
            dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float32
            bound = matmul_bound(flow, batch, training=True, device=device, dtype=dtype)
            rows[f"{precision}/batch{batch}"] = {
                "status": "ok",
                "train_samples_per_s": speed,
                "matmul_bound_samples_per_s": bound,
                "fraction_of_bound": speed / bound,
            }
            print(f"[gpu_check] throughput {precision} batch {batch}: {speed:.0f}/s", flush=True)
    return {"status": "ok", "device": str(device), "rows": rows}


def peers(args, device: torch.device) -> dict:
    if args.smoke:
        return {"status": "skipped", "reason": "--smoke runs no subprocesses"}
    out = Path(args.out).with_suffix(".peers.h5")
    command = [sys.executable, "benchmarks/compare_peers.py", "--device", device.type]
    command += ["--out", str(out), "--force"] + (["--quick"] if args.small else ["--rounds", "3"])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    status = "ok" if done.returncode == 0 else "failed"
    return {"status": status, "file": str(out), "output_tail": done.stdout[-4000:]}


def nccl(args) -> dict:
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count < 2:
        return {"status": "skipped", "reason": f"needs 2 GPUs, found {count}"}
    out = Path(args.out).with_suffix(".nccl.h5")
    command = [str(Path(sys.executable).parent / "flowkit"), "run", "nice", "--nproc", "2"]
    command += ["--device", "cuda", "--epochs", "2", "--out", str(out), "--force", "-q"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    status = "ok" if done.returncode == 0 else "failed"
    return {"status": status, "file": str(out), "output_tail": (done.stdout + done.stderr)[-2000:]}


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda":
        print("[gpu_check] no CUDA here: CUDA-only parts are skipped, the rest runs on the CPU")
    results: dict = {"args": vars(args), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    section(results, "environment", environment)
    section(results, "contracts", contracts, args)
    setup = _setup(args.small)
    section(results, "training", training, args, setup, device)
    section(results, "throughput", throughput, args, setup, device)
    section(results, "peers", peers, args, device)
    section(results, "nccl", nccl, args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, default=str))
    tmp.replace(out)
    failed = [k for k, v in results.items() if isinstance(v, dict) and v.get("status") == "failed"]
    print(f"[gpu_check] wrote {out}; failed sections: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
