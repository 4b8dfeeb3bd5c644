"""``flowkit bench``: the same model trained once per coupling law, side by side.

Every law gets the same pipeline (``nice`` by default; ``realnvp``, ``glow``, ``maf`` or a
plugin's), data, split, model size, seeds and training budget (NICE section 3.2 names the
additive, multiplicative and affine laws; any registered law can join). Repeat ``r`` of every
law uses seed ``seed + r`` for weights, shuffling and noise, so the spread over repeats is the
spread over seeds. Training is :func:`flowkit.train.trainer.fit` (what ``flowkit run`` does:
fused Adam, data-dependent initialisation, model selection on validation) and the test
log-likelihood :func:`flowkit.train.evaluation.mean_log_likelihood`.

Speed is measured after training, interleaved: each round times every law's training step,
log_prob and sampling back to back (order rotated per round) and the matrix-product bound of
:mod:`flowkit.bench.throughput` (NaN for a model whose work is not only matrix products, e.g.
an image flow's convolutions); the reported value is the median over rounds. ``compile`` and
``amp`` apply to these timings only (training runs eager, in ``precision``: float32 unless
asked; test likelihoods are always evaluated in float32).
"""

from __future__ import annotations

import math
import re
import resource
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from flowkit.bench.options import (
    AMP_DTYPES,
    DEFAULT_COUPLINGS,
    DEFAULT_MODEL,
    BenchOptions,
    check_law,
)
from flowkit.bench.throughput import (
    matmul_bound,
    matmul_bound_applies,
    median,
    seconds_per_call,
    synchronize,
)
from flowkit.datasets import dequantize
from flowkit.metrics import bits_per_dim
from flowkit.run.config import (
    build_dataset,
    build_flow,
    check_components,
)
from flowkit.train.device import resolve_device
from flowkit.train.evaluation import (
    as_rows,
    evaluation_mode,
    fixed_dequantization,
    mean_log_likelihood,
)
from flowkit.train.precision import resolve_precision
from flowkit.train.trainer import TrainOptions, fit, make_optimizer

Echo = Callable[[str], None]


@dataclass
class LawResult:
    """One law's numbers; per-repeat lists are in repeat order."""

    law: str
    config: dict[str, Any]
    parameters: int
    seeds: list[int] = field(default_factory=list)
    test_nll: list[float] = field(default_factory=list)
    test_bits_per_dim: list[float] = field(default_factory=list)
    best_valid_nll: list[float] = field(default_factory=list)
    best_epoch: list[int] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    stop_reason: list[str] = field(default_factory=list)
    round_trip_error: list[float] = field(default_factory=list)
    histories: list[dict[str, np.ndarray]] = field(default_factory=list)
    peak_memory_bytes: int = 0
    train_speed: list[float] = field(default_factory=list)
    log_prob_speed: list[float] = field(default_factory=list)
    sample_speed: list[float] = field(default_factory=list)
    #: Examples/s the training step's matrix products alone allow, per speed round (NaN where
    #: the model's work is not only matrix products: see ``matmul_bound_applies``).
    matmul_bound: list[float] = field(default_factory=list)

    @property
    def diverged(self) -> int:
        return sum(reason == "non-finite" for reason in self.stop_reason)

    def summary(self) -> dict[str, Any]:
        """Means, spreads (sample standard deviation over repeats) and medians of speeds."""
        nll, bpd = _finite(self.test_nll), _finite(self.test_bits_per_dim)
        return {
            "law": self.law,
            "parameters": self.parameters,
            "repeats": len(self.seeds),
            "diverged": self.diverged,
            "test_nll_mean": _mean(nll),
            "test_nll_std": _std(nll),
            "test_bits_per_dim_mean": _mean(bpd),
            "test_bits_per_dim_std": _std(bpd),
            "train_samples_per_s": median(self.train_speed),
            "log_prob_samples_per_s": median(self.log_prob_speed),
            "sample_samples_per_s": median(self.sample_speed),
            "matmul_bound_samples_per_s": median(self.matmul_bound),
            "train_fraction_of_matmul_bound": median(
                [t / b for t, b in zip(self.train_speed, self.matmul_bound)]
            ),
            "round_trip_max_error": max(self.round_trip_error, default=math.nan),
            "peak_memory_bytes": self.peak_memory_bytes,
        }


@dataclass
class BenchResult:
    options: BenchOptions
    laws: list[LawResult]
    dataset_info: dict[str, Any]
    environment: dict[str, Any]
    device: str
    memory_kind: str
    seconds: float
    created: str


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _std(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


# ---- memory ---------------------------------------------------------------------------------
def reset_peak_memory(device: torch.device) -> str:
    """Start a new peak-memory window; returns what the peak will measure."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return "torch.cuda.max_memory_allocated"
    try:  # Linux: writing 5 resets the process's peak resident set size (VmHWM)
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return "process peak RSS (VmHWM, reset per law; includes Python and torch)"
    except OSError:
        return "process peak RSS since start (ru_maxrss; includes Python and torch)"


def peak_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    try:
        with open("/proc/self/status") as handle:
            match = re.search(r"VmHWM:\s+(\d+)\s*kB", handle.read())
        if match:
            return int(match.group(1)) * 1024
    except OSError:
        pass
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(usage) * (1 if sys.platform == "darwin" else 1024)  # macOS: bytes; else KiB


# ---- measuring one trained flow ---------------------------------------------------------------
@torch.no_grad()
def round_trip_error(flow, inputs: torch.Tensor, batch_size: int, device) -> float:
    """Largest ``|x - f^-1(f(x))|`` over ``inputs`` (NaN if any value is not finite)."""
    worst = 0.0
    with evaluation_mode(flow):
        for begin in range(0, len(inputs), batch_size):
            x = inputs[begin : begin + batch_size].to(device)
            error = (flow.decode(flow.encode(x)) - x).abs().max().item()
            if not math.isfinite(error):
                return math.nan
            worst = max(worst, error)
    return worst


def speed_jobs(flow, train_rows, levels, options: BenchOptions, device, seed: int):
    """Timing functions (examples per second) for one flow: train step, log_prob, sample
    (``options.sample_batch_size`` examples per call, at most as many as log_prob's)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    rows = train_rows[: options.batch_size].to(device)
    batches = [dequantize(rows, levels, generator) for _ in range(4)]
    eval_inputs = dequantize(train_rows[: options.eval_batch_size].to(device), levels, generator)
    samples = min(options.sample_batch_size, len(eval_inputs))
    optimizer, _ = make_optimizer(flow.parameters(), TrainOptions(lr=options.lr))
    log_prob = torch.compile(flow.log_prob) if options.compile else flow.log_prob
    amp = AMP_DTYPES.get(options.amp) if options.amp else None

    def autocast():
        return torch.autocast(device.type, dtype=amp) if amp is not None else nullcontext()

    state = {"step": 0}
    precision = resolve_precision(options.precision, device)

    def train_step() -> None:
        with autocast():
            loss = -log_prob(batches[state["step"] % len(batches)]).float().mean()
        state["step"] += 1
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def inference(kind: str) -> Callable[[], None]:
        def call() -> None:
            with autocast():
                if kind == "log_prob":
                    log_prob(eval_inputs)
                else:
                    flow.sample(samples)

        return call

    def timed(call: Callable[[], None], examples: int, training: bool) -> Callable[[], float]:
        def job() -> float:
            flow.train(training)
            # As in the trainer: the precision policy is applied once around the steps.
            context = precision.training(flow) if training else torch.no_grad()
            with context:
                call()  # warm-up
                calls, seconds = 0, 0.0
                while calls < 3 or seconds < options.speed_seconds:
                    seconds += seconds_per_call(call, 1, device)
                    calls += 1
            flow.eval()
            return examples * calls / seconds

        return job

    return {
        "train": timed(train_step, len(rows), True),
        "log_prob": timed(inference("log_prob"), len(eval_inputs), False),
        "sample": timed(inference("sample"), samples, False),
    }


# ---- the benchmark ----------------------------------------------------------------------------
def run_bench(registry, options: BenchOptions, echo: Echo | None = None) -> BenchResult:
    """Train and measure every law; see the module docstring."""
    from flowkit.run.artifacts import collect_environment

    echo = echo or (lambda text: None)
    began = time.perf_counter()
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    registry.get("pipeline", options.pipeline)  # a typo fails here, with suggestions
    options.validate()
    for law in options.couplings:  # every name checked before any training
        check_law(registry, options.pipeline, law)
        check_components(
            registry, options.pipeline, options.run_config(law, 0, registry).pipeline_options
        )
    device = resolve_device(options.device)
    dataset = build_dataset(registry, options.run_config(options.couplings[0], 0))
    splits = dataset.load()
    info = dataset.info()
    echo(f"data: {dataset.describe()}")
    given = ", ".join(f"{k}={v!r}" for k, v in options.base.pipeline_options.items())
    echo(f"pipeline: {options.pipeline} ({given + '; others' if given else 'all'} default)")
    test_inputs = fixed_dequantization(splits.test, info.levels)
    train_rows = as_rows(splits.train)
    features = train_rows.shape[1]

    laws: list[LawResult] = []
    kept_flows: dict[str, Any] = {}
    memory_kind = ""
    for law in options.couplings:
        memory_kind = reset_peak_memory(device)
        result: LawResult | None = None
        for repeat in range(options.repeats):
            config = options.run_config(law, repeat, registry)
            torch.manual_seed(config.seed)
            flow = build_flow(registry, config, info.event_shape)
            if result is None:
                parameters = sum(p.numel() for p in flow.parameters() if p.requires_grad)
                result = LawResult(law, config.to_dict(), parameters)
            trained = fit(flow, splits, info.levels, config.train)
            ll = mean_log_likelihood(
                flow, splits.test, info.levels, batch_size=options.eval_batch_size, device=device
            )
            result.seeds.append(config.seed)
            result.test_nll.append(-ll)
            result.test_bits_per_dim.append(bits_per_dim(ll, features, info.levels))
            result.best_valid_nll.append(-trained.best_valid_log_likelihood)
            result.best_epoch.append(trained.best_epoch)
            result.epochs.append(trained.epochs_completed)
            result.train_seconds.append(trained.elapsed_seconds)
            result.stop_reason.append(trained.stop_reason)
            result.round_trip_error.append(
                round_trip_error(flow, test_inputs, options.eval_batch_size, device)
            )
            result.histories.append(trained.history.as_arrays())
            echo(
                f"{law} seed {config.seed}: test NLL {-ll:.2f} nats "
                f"({result.test_bits_per_dim[-1]:.3f} bits/dim), {trained.epochs_completed} "
                f"epochs in {trained.elapsed_seconds:.1f} s ({trained.stop_reason})"
            )
            if repeat == 0:
                kept_flows[law] = flow
        if result is None:  # no repeats: validate() refuses that, but stay safe
            continue
        result.peak_memory_bytes = peak_memory(device)
        laws.append(result)

    _measure_speed(laws, kept_flows, train_rows, info.levels, options, device, echo)
    environment = collect_environment(
        registry, options.run_config(options.couplings[0], 0, registry), device
    )
    return BenchResult(
        options=options,
        laws=laws,
        dataset_info=_info_dict(info),
        environment=environment,
        device=str(device),
        memory_kind=memory_kind,
        seconds=time.perf_counter() - began,
        created=created,
    )


def _measure_speed(laws, flows, train_rows, levels, options, device, echo) -> None:
    """Median-of-rounds speeds of every law, timed interleaved (order rotated per round)."""
    echo(f"timing {len(laws)} law(s) interleaved, {options.speed_rounds} round(s)")
    jobs = {}
    for index, law in enumerate(laws):
        for kind, job in speed_jobs(
            flows[law.law], train_rows, levels, options, device, options.seed + index
        ).items():
            jobs[(index, kind)] = job
    keys = list(jobs)
    batch = min(options.batch_size, len(train_rows))
    bounded = {law.law: matmul_bound_applies(flows[law.law]) for law in laws}
    for index in range(options.speed_rounds):
        shift = index % len(keys)
        for index_of_law, kind in keys[shift:] + keys[:shift]:
            value = jobs[(index_of_law, kind)]()
            getattr(laws[index_of_law], f"{kind}_speed").append(value)
        for law in laws:  # each law's own bound: the laws' output layers differ in width
            flow = flows[law.law]
            bound = (
                matmul_bound(flow, batch, training=True, device=device, repeats=2)
                if bounded[law.law]
                else math.nan
            )
            law.matmul_bound.append(bound)
    synchronize(device)


def _info_dict(info) -> dict[str, Any]:
    return {
        "name": info.name,
        "variant": info.variant,
        "event_shape": list(info.event_shape),
        "levels": info.levels,
        "sizes": dict(info.sizes),
        "checksum": info.checksum,
        "extra": dict(info.extra),
    }


__all__ = [
    "AMP_DTYPES",
    "DEFAULT_COUPLINGS",
    "DEFAULT_MODEL",
    "BenchOptions",
    "BenchResult",
    "LawResult",
    "peak_memory",
    "reset_peak_memory",
    "round_trip_error",
    "run_bench",
    "speed_jobs",
]
