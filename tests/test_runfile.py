"""The run file: content read back with plain h5py, load_run, atomic writes, damaged files,
interrupted runs and resuming them (through flowkit.run.runner, the library behind
`flowkit run`)."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest
import torch

import flowkit.io.runfile as runfile_module
from flowkit import ConfigurationError, RunFileError, load_registry
from flowkit.io.runfile import load_run, read_run_record
from flowkit.run.config import RunConfig, resolve_pipeline_options
from flowkit.run.runner import resume_run, start_run
from flowkit.train.evaluation import mean_log_likelihood
from flowkit.train.trainer import Callback, TrainOptions
from tests.plugins import run_test_plugin

PLUGIN = "tests.plugins.run_test_plugin"


@pytest.fixture(scope="module")
def registry():
    return load_registry(plugins=[PLUGIN])


def make_config(registry, epochs=3, **pipeline):
    options = {"hidden": 8, "depth": 1, **pipeline}
    return RunConfig(
        pipeline="nice",
        pipeline_options=resolve_pipeline_options(registry, "nice", options),
        dataset="tiny-grid",
        train=TrainOptions(epochs=epochs, batch_size=32, seed=1, device="cpu"),
        num_samples=6,
    )


def run(registry, path, epochs=3, callbacks=(), **pipeline):
    return start_run(
        registry,
        make_config(registry, epochs, **pipeline),
        path,
        callbacks=callbacks,
        progress="none",
        checkpoint_seconds=0,
    )


class InterruptAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, end):
        if end.epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def finished(registry, tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "run.h5"
    outcome = run(registry, path)
    return path, outcome


def test_run_file_content_with_plain_h5py(finished, registry):
    path, outcome = finished
    assert outcome.status == "completed" and outcome.exit_code == 0
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "flowkit-run"
        assert f.attrs["status"] == "completed"
        assert f.attrs["flowkit_version"] and f.attrs["created"]
        config = json.loads(f.attrs["config"])
        assert config["pipeline_options"]["hidden"] == 8 and config["train"]["epochs"] == 3
        assert config["train"]["betas"] == [0.9, 0.99] and config["dataset"] == "tiny-grid"
        assert f["config"].attrs["pipeline.coupling"] == "additive"
        assert f["dataset"].attrs["levels"] == 8
        assert list(f["dataset"].attrs["event_shape"]) == [4, 4]
        assert f["dataset"].attrs["size_train"] == 168
        assert f["dataset"].attrs["checksum"].startswith("sha256:")
        assert f["environment"].attrs["torch"] == torch.__version__
        assert f["environment/plugins"][PLUGIN].attrs["module"] == PLUGIN
        assert f["environment/components/dataset"].attrs["plugin"] == PLUGIN
        for name in (
            "epoch",
            "train_nll_nats",
            "valid_nll_nats",
            "train_bits_per_dim",
            "valid_bits_per_dim",
            "seconds",
            "samples_per_second",
        ):
            assert f["metrics"][name].shape == (3,), name
        assert list(f["metrics/epoch"]) == [1, 2, 3]
        results = dict(f["results"].attrs)
        assert results["test_examples"] == 48 and results["epochs_completed"] == 3
        assert np.isfinite(results["test_log_likelihood_nats"])
        expected_bpd = (-results["test_log_likelihood_nats"] / 16 + np.log(8)) / np.log(2)
        assert results["test_bits_per_dim"] == pytest.approx(expected_bpd)
        assert results["best_epoch"] == outcome.results["best_epoch"]
        assert results["parameters"] > 0 and results["stop_reason"] == "max-epochs"
        model = f["model"]
        assert all(isinstance(model[k], h5py.Dataset) for k in model)
        assert f["samples/temperature_1.00"].shape == (6, 4, 4)
        assert f["samples/temperature_0.75"].attrs["temperature"] == 0.75
        spectrum = f["spectrum"][()]
        assert spectrum.shape == (16,) and np.all(np.diff(spectrum) <= 0)
        # completed runs keep their final state too, so that --resume --epochs N extends them
        assert f["checkpoint"].attrs["epoch"] == 3
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_load_run_rebuilds_the_selected_model(finished, registry):
    path, outcome = finished
    loaded = load_run(path, registry)
    assert not loaded.flow.training
    assert loaded.status == "completed" and loaded.levels == 8 and loaded.event_shape == (4, 4)
    assert loaded.config["pipeline"] == "nice" and loaded.config["seed"] == 1
    assert loaded.dataset_info["name"] == "tiny-grid"
    assert list(loaded.metrics["epoch"]) == [1, 2, 3]
    assert set(loaded.samples) == {1.0, 0.75}
    test = loaded.load_dataset(registry).load().test
    ll = mean_log_likelihood(loaded.flow, test, loaded.levels)
    assert ll == pytest.approx(loaded.results["test_log_likelihood_nats"], rel=1e-9)


def test_run_finished_hook_is_called(finished):
    path, outcome = finished
    calls = [c for c in run_test_plugin.FINISHED if c[0] == str(path)]
    assert calls and calls[0][1] == "completed"
    assert calls[0][2]["test_log_likelihood_nats"] == outcome.results["test_log_likelihood_nats"]


def test_a_failing_hook_is_only_a_warning(registry, tmp_path):
    run_test_plugin.RAISE_IN_FINISHED["on"] = True
    try:
        with pytest.warns(UserWarning, match="tracker is down"):
            outcome = run(registry, tmp_path / "r.h5", epochs=1)
    finally:
        run_test_plugin.RAISE_IN_FINISHED["on"] = False
    assert outcome.status == "completed"


def test_interrupted_run_is_finished_and_resumable(registry, tmp_path):
    reference = run(registry, tmp_path / "reference.h5", epochs=4)
    path = tmp_path / "run.h5"
    outcome = run(registry, path, epochs=4, callbacks=[InterruptAfter(2)])
    assert outcome.status == "interrupted" and outcome.exit_code == 130
    with h5py.File(path, "r") as f:
        assert f.attrs["status"] == "interrupted"
        assert f["checkpoint"].attrs["epoch"] == 2 and list(f["metrics/epoch"]) == [1, 2]
        assert "exp_avg" in f["checkpoint/optimizer/0"]
        assert f["checkpoint/rng/shuffle"].dtype == np.uint8
        assert np.isfinite(f["results"].attrs["test_log_likelihood_nats"])
    assert load_run(path, registry).status == "interrupted"  # usable as it is
    resumed = resume_run(registry, path, progress="none", checkpoint_seconds=0)
    assert resumed.status == "completed"
    record = read_run_record(path)
    assert record.history["epoch"] == [1, 2, 3, 4]
    assert record.history["valid_nll_nats"] == reference.train.history["valid_nll_nats"]
    assert record.results["test_log_likelihood_nats"] == pytest.approx(
        reference.results["test_log_likelihood_nats"], rel=1e-12
    )
    with pytest.raises(ConfigurationError, match="completed"):
        resume_run(registry, path, progress="none")


def test_resume_refuses_to_change_the_model(registry, tmp_path):
    path = tmp_path / "run.h5"
    run(registry, path, epochs=3, callbacks=[InterruptAfter(1)])
    with pytest.raises(ConfigurationError, match="layers"):
        resume_run(registry, path, overrides={"layers": 2}, progress="none")
    outcome = resume_run(registry, path, overrides={"epochs": 2}, progress="none")
    assert outcome.status == "completed" and outcome.results["epochs_completed"] == 2


def test_non_finite_run_is_failed_but_complete(registry, tmp_path):
    path = tmp_path / "nan.h5"
    with pytest.warns(UserWarning, match="non-finite"):
        outcome = run(
            registry, path, epochs=6, coupling="nan-after", coupling_options={"after": 14}
        )
    assert outcome.status == "failed" and outcome.exit_code == 1
    loaded = load_run(path, registry)
    assert loaded.results["stop_reason"] == "non-finite" and loaded.results["best_epoch"] == 2
    assert np.isfinite(loaded.results["test_log_likelihood_nats"])


def test_existing_file_is_not_overwritten(registry, finished, tmp_path):
    path = tmp_path / "keep.h5"
    path.write_bytes(b"precious")
    with pytest.raises(ConfigurationError, match="--force"):
        run(registry, path)
    assert path.read_bytes() == b"precious"
    outcome = start_run(registry, make_config(registry, 1), path, force=True, progress="none")
    assert outcome.status == "completed" and h5py.is_hdf5(path)


def test_a_failed_write_leaves_the_previous_file(registry, finished, tmp_path, monkeypatch):
    path = tmp_path / "atomic.h5"
    run(registry, path, epochs=1)
    before = path.read_bytes()

    def broken(group, tensors):
        raise OSError("disk full")

    monkeypatch.setattr(runfile_module, "write_tensors", broken)
    record = read_run_record(path)
    with pytest.raises(OSError, match="disk full"):
        runfile_module.write_run_file(path, record)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atomic.h5"]


def test_damaged_files_raise_run_file_error(registry, finished, tmp_path):
    path, _ = finished
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(os.urandom(2048))
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(3)
    no_model = tmp_path / "no_model.h5"
    no_model.write_bytes(path.read_bytes())
    with h5py.File(no_model, "a") as f:
        del f["model"]
    cases = {
        garbage: "not a readable HDF5",
        truncated: "HDF5",
        foreign: "not a flowkit run",
        no_model: "model",
        tmp_path / "missing.h5": "no such",
    }
    for bad, message in cases.items():
        with pytest.raises(RunFileError, match=message):
            load_run(bad, registry)
