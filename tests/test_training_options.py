"""Training options a researcher expects (Adam's betas, eps and weight decay, a learning-rate
schedule, gradient clipping, threads), and going on from a run (extend, --init-from)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from flowkit import ConfigurationError, load_registry
from flowkit.cli import cli
from flowkit.train.schedule import make_scheduler
from flowkit.train.trainer import Callback, TrainOptions, fit

PLUGIN = "tests.plugins.run_test_plugin"
MOONS = ["nice", "--dataset", "moons", "--layers", "3", "--hidden", "8", "--depth", "1",
         "--batch-size", "256", "--num-samples", "2", "--patience", "0", "--device", "cpu",
         "-q"]  # fmt: skip


@pytest.fixture(scope="module")
def registry():
    return load_registry(plugins=[PLUGIN])


@pytest.fixture(scope="module")
def splits(registry):
    return registry.get("dataset", "tiny-grid")().load()


def build(registry, seed=0):
    torch.manual_seed(seed)
    pipeline = registry.get("pipeline", "nice")()
    return pipeline.build(registry, 16, pipeline.resolve(hidden=8, depth=1))


def train(registry, splits, *, flow=None, callbacks=(), state=None, **options):
    flow = flow or build(registry)
    options = TrainOptions(
        **{"epochs": 4, "batch_size": 32, "seed": 3, "device": "cpu", **options}
    )
    return flow, fit(flow, splits, 8, options, callbacks=callbacks, state=state)


class InterruptAfter(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, end) -> None:
        if end.epoch == self.epoch:
            end.snapshot()
            raise KeyboardInterrupt


def flowkit(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def weights(path) -> dict:
    with h5py.File(path, "r") as f:
        return {k: f["model"][k][()] for k in f["model"]}


def same_weights(a, b) -> bool:
    a, b = weights(a), weights(b)
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_flags_reach_the_run_file_and_its_config(tmp_path, keep_threads):
    out = tmp_path / "run.h5"
    result = flowkit(
        "run", *MOONS, "--epochs", 1, "--betas", 0.8, 0.95, "--eps", 1e-6,
        "--weight-decay", 1e-5, "--lr-schedule", "step", "--lr-step-epochs", 3,
        "--lr-gamma", 0.1, "--clip-grad-norm", 2.5, "--threads", 1, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:
        train = json.loads(f.attrs["config"])["train"]
    assert train["betas"] == [0.8, 0.95] and train["eps"] == 1e-6
    assert train["weight_decay"] == 1e-5 and train["clip_grad_norm"] == 2.5
    assert (train["lr_schedule"], train["lr_step_epochs"], train["lr_gamma"]) == ("step", 3, 0.1)
    assert train["threads"] == 1 and torch.get_num_threads() == 1
    config = flowkit("config", out).stdout
    assert "betas = [" in config and 'lr_schedule = "step"' in config and "threads = 1" in config


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("cosine", [1e-3 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(5)]),
        ("step", [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4]),
        ("none", [1e-3] * 5),
    ],
)
def test_schedules_follow_torch_per_epoch(schedule, expected):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([parameter], lr=1e-3)
    options = TrainOptions(epochs=4, lr_schedule=schedule, lr_step_epochs=2, lr_gamma=0.5)
    scheduler = make_scheduler(optimizer, options)
    seen = []
    for _ in range(5):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    assert seen == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("schedule", ["cosine", "step"])
def test_schedule_resumes_bit_identically(registry, splits, schedule):
    options = dict(epochs=5, lr_schedule=schedule, lr_step_epochs=2, lr_gamma=0.3, lr=3e-3)
    flow_full, full = train(registry, splits, **options)
    _, stopped = train(registry, splits, callbacks=[InterruptAfter(2)], **options)
    assert stopped.interrupted and stopped.state.scheduler["last_epoch"] == 2
    resumed_flow = build(registry, seed=99)
    _, resumed = train(registry, splits, flow=resumed_flow, state=stopped.state, **options)
    assert resumed.history["train_nll_nats"] == full.history["train_nll_nats"]
    for key, value in flow_full.state_dict().items():
        assert torch.equal(value, resumed_flow.state_dict()[key]), key
    _, constant = train(registry, splits, epochs=5, lr=3e-3)
    assert constant.history["train_nll_nats"] != full.history["train_nll_nats"]


def test_gradient_clipping_clips_every_step(registry, splits, monkeypatch):
    calls = []
    original = torch.nn.utils.clip_grad_norm_

    def spy(parameters, max_norm, *args, **kwargs):
        total = original(parameters, max_norm, *args, **kwargs)
        calls.append((max_norm, float(total)))
        return total

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    _, clipped = train(registry, splits, epochs=1, clip_grad_norm=1e-3)
    assert calls and all(norm == 1e-3 for norm, _ in calls)
    assert max(total for _, total in calls) > 1e-3  # there was something to clip
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", original)
    _, free = train(registry, splits, epochs=1)
    assert clipped.history["train_nll_nats"] != free.history["train_nll_nats"]


@pytest.mark.parametrize(
    "options",
    [
        {"lr_schedule": "linear"},
        {"lr_min": 1.0},
        {"lr_gamma": 0.0},
        {"lr_step_epochs": 0},
        {"clip_grad_norm": -1.0},
        {"threads": 0},
        {"betas": (0.9, 1.0)},
    ],
)
def test_nonsense_training_options_are_configuration_errors(options):
    with pytest.raises(ConfigurationError):
        TrainOptions(**options).validate()


def test_bad_schedule_flag_is_one_line():
    result = flowkit("run", *MOONS, "--lr-schedule", "linear")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_extending_a_completed_run_equals_training_longer(tmp_path):
    short, long = tmp_path / "short.h5", tmp_path / "long.h5"
    extra = ["--lr-schedule", "step", "--lr-step-epochs", 1, "--lr-gamma", 0.7]
    assert flowkit("run", *MOONS, *extra, "--epochs", 2, "--out", short).exit_code == 0
    with h5py.File(short, "r") as f:
        assert f.attrs["status"] == "completed" and "checkpoint" in f  # kept for extending
    result = flowkit("run", "--resume", short, "--epochs", 4, "-q")
    assert result.exit_code == 0, result.output
    assert flowkit("run", *MOONS, *extra, "--epochs", 4, "--out", long).exit_code == 0
    assert same_weights(short, long)
    with h5py.File(short, "r") as f:
        assert list(f["metrics/epoch"][()]) == [1, 2, 3, 4]
        assert f.attrs["status"] == "completed"
    again = flowkit("run", "--resume", short, "--epochs", 4)
    assert again.exit_code == 2 and "--epochs larger than 4" in again.stderr


def test_resume_boundaries_are_recorded_and_marked_on_the_learning_curves(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from flowkit.apps.figures import learning_curves_figure
    from flowkit.io.runfile import read_run_record

    path = tmp_path / "run.h5"
    assert flowkit("run", *MOONS, "--epochs", 2, "--out", path).exit_code == 0
    assert read_run_record(path).resumed_after == []
    for epochs in (3, 5):
        assert flowkit("run", "--resume", path, "--epochs", epochs, "-q").exit_code == 0
    record = read_run_record(path)
    assert record.resumed_after == [2, 3] and len(record.history) == 5
    curves = {"validation": record.history["valid_nll_nats"]}
    axes = learning_curves_figure(curves, resumed_after=record.resumed_after).axes[0]
    marked = [line.get_xdata()[0] for line in axes.lines if line.get_linestyle() == "--"]
    assert marked == [2.5, 3.5]
    assert "resumed" in [text.get_text() for text in axes.get_legend().get_texts()]
    report = flowkit("report", path, "--out", tmp_path / "report", "-n", 10)
    assert report.exit_code == 0, report.output


def test_init_from_starts_from_the_runs_weights(tmp_path):
    source, start = tmp_path / "source.h5", tmp_path / "start.h5"
    assert flowkit("run", *MOONS, "--epochs", 2, "--out", source).exit_code == 0
    result = flowkit("run", *MOONS, "--epochs", 0, "--init-from", source, "--out", start)
    assert result.exit_code == 0, result.output
    assert same_weights(source, start)  # nothing trained: the selected model is the source's
    with h5py.File(start, "r") as f:
        assert json.loads(f.attrs["config"])["init_from"] == str(source.resolve())
    other = flowkit("run", *MOONS, "--hidden", 4, "--init-from", source, "--out",
                    tmp_path / "x.h5")  # fmt: skip
    assert other.exit_code == 2 and "do not fit" in other.stderr
    assert not (tmp_path / "x.h5").exists()


def test_a_01_run_is_extended_through_init_from(tmp_path):
    old = Path(__file__).parent / "data" / "run-v0.1-moons-additive.h5"
    refused = flowkit("run", "--resume", old, "--epochs", 5)
    assert refused.exit_code == 2 and "--init-from" in refused.stderr
    out = tmp_path / "new.h5"
    result = flowkit(
        "run", "nice", "--dataset", "moons", "--layers", 4, "--hidden", 16, "--depth", 1,
        "--epochs", 1, "--num-samples", 2, "--init-from", old, "--out", out, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
