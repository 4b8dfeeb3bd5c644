"""Experiment trackers: ``flowkit run --track NAME[=DESTINATION]``.

The built-in trackers are read back with each tool's own reader (TensorBoard's
``EventAccumulator``, MLflow's ``MlflowClient``); a failing tracker is one warning line and the
run file is complete all the same; a third party adds a tracker through
``flowkit_register_trackers``.
"""

from __future__ import annotations

import math
import sys
import types

import pytest
from click.testing import CliRunner

from flowkit import Tracker, hookimpl
from flowkit.cli import cli
from flowkit.io.runfile import read_run_record
from flowkit.run.tracking import parse_track_spec
from flowkit.trackers import EPOCH_METRICS, flatten, result_metrics

TINY = ["run", "nice", "--dataset", "moons", "--layers", "3", "--hidden", "8", "--depth", "1",
        "--epochs", "3", "--num-samples", "0", "--progress", "none"]  # fmt: skip


def run_cli(tmp_path, *args, plugins=()):
    out = tmp_path / "run.h5"
    command = [arg for name in plugins for arg in ("-p", name)]
    result = CliRunner().invoke(cli, [*command, *TINY, "--out", str(out), *args])
    return result, out


def warning_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Warning:")]


def test_parse_track_spec():
    assert parse_track_spec("tensorboard") == ("tensorboard", None)
    assert parse_track_spec("mlflow=sqlite:///m.db") == ("mlflow", "sqlite:///m.db")
    for bad in ("", "=x", "mlflow="):
        with pytest.raises(Exception, match="NAME or NAME=DESTINATION"):
            parse_track_spec(bad)


def test_flatten_and_result_names():
    assert flatten({"train": {"lr": 0.1, "betas": [0.9, 0.99]}, "seed": 1}) == {
        "train.lr": 0.1,
        "train.betas": [0.9, 0.99],
        "seed": 1,
    }
    named = result_metrics({"test_bits_per_dim": 2.5, "best_epoch": 3, "message": "x"})
    assert named == {"test/bits_per_dim": 2.5, "best_epoch": 3.0}


def test_tensorboard_events_read_back_with_tensorboards_reader(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir = tmp_path / "tb"
    result, out = run_cli(tmp_path, "--track", f"tensorboard={logdir}")
    assert result.exit_code == 0, result.output
    assert not warning_lines(result.output)
    record = read_run_record(out)
    events = EventAccumulator(str(logdir / "run")).Reload()
    assert set(EPOCH_METRICS) <= set(events.Tags()["scalars"])
    valid = events.Scalars("valid/bits_per_dim")
    assert [e.step for e in valid] == [1, 2, 3]
    expected = record.history["valid_bits_per_dim"]
    assert [e.value for e in valid] == pytest.approx(expected, rel=1e-6)
    (test,) = events.Scalars("test/bits_per_dim")
    assert test.step == 3
    assert test.value == pytest.approx(record.results["test_bits_per_dim"], rel=1e-6)
    assert "config" in " ".join(events.Tags()["tensors"])  # the configuration, as text


def test_tensorboard_default_logdir_is_next_to_the_run_file(tmp_path):
    pytest.importorskip("tensorboard")
    result, out = run_cli(tmp_path, "--track", "tensorboard")
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "tensorboard" / "run").glob("events.out.tfevents.*"))


def test_mlflow_run_read_back_with_mlflows_client(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    store = tmp_path / "mlruns"
    result, out = run_cli(tmp_path, "--track", f"mlflow={store}")
    assert result.exit_code == 0, result.output
    assert not warning_lines(result.output)
    record = read_run_record(out)
    client = MlflowClient(tracking_uri=store.resolve().as_uri())
    experiment = client.get_experiment_by_name("flowkit")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "run" and run.info.status == "FINISHED"
    assert run.data.tags["flowkit.run_file"] == str(out.resolve())
    assert run.data.params["train.lr"] == str(record.config.train.lr)
    assert run.data.params["pipeline_options.layers"] == "3"
    assert run.data.params["data.name"] == "moons"
    history = client.get_metric_history(run.info.run_id, "valid/bits_per_dim")
    assert sorted(m.step for m in history) == [1, 2, 3]
    by_step = {m.step: m.value for m in history}
    assert [by_step[epoch] for epoch in record.history["epoch"]] == pytest.approx(
        record.history["valid_bits_per_dim"]
    )
    assert run.data.metrics["test/bits_per_dim"] == pytest.approx(
        record.results["test_bits_per_dim"]
    )


def test_missing_tracker_package_is_one_warning_and_the_run_completes(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard -> ImportError
    result, out = run_cli(tmp_path, "--track", "tensorboard")
    assert result.exit_code == 0, result.output
    assert warning_lines(result.output) == [
        "Warning: tracker 'tensorboard' could not start: needs tensorboard: "
        "pip install 'flowkit[tensorboard]'"
    ]
    assert read_run_record(out).status == "completed"


def test_unwritable_destination_is_one_warning_and_the_run_completes(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result, out = run_cli(
        tmp_path,
        "--track", f"tensorboard={blocker / 'logs'}",
        "--track", f"mlflow={blocker / 'mlruns'}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = warning_lines(result.output)
    assert len(lines) == 2
    assert lines[0].startswith("Warning: tracker 'tensorboard' could not start:")
    assert lines[1].startswith("Warning: tracker 'mlflow' could not start:")
    record = read_run_record(out)
    assert record.status == "completed" and math.isfinite(record.results["test_bits_per_dim"])


def test_unknown_tracker_is_an_error_before_anything_is_written(tmp_path):
    result, out = run_cli(tmp_path, "--track", "tensorbord")
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "tensorbord" in error[0] and "tensorboard" in error[0]
    assert not out.exists()


class Recorder(Tracker):
    """A third-party tracker: keeps what it is told in a list."""

    name = "recorder"
    events: list = []

    def start(self, run):
        self.events.append(("start", self.destination, run.name, run.config, run.params))

    def log_epoch(self, epoch, metrics):
        self.events.append(("epoch", epoch, dict(metrics)))

    def finish(self, status, results):
        self.events.append(("finish", status, dict(results)))


class Broken(Tracker):
    name = "broken"
    calls: list = []

    def log_epoch(self, epoch, metrics):
        self.calls.append(epoch)
        raise RuntimeError("the server went away")

    def finish(self, status, results):
        self.calls.append("finish")


@pytest.fixture
def tracker_plugin(monkeypatch):
    module = types.ModuleType("tk_tracker_plugin")

    def flowkit_register_trackers():
        return [Recorder, Broken]

    module.flowkit_register_trackers = hookimpl(flowkit_register_trackers)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    Recorder.events, Broken.calls = [], []
    return module.__name__


def test_third_party_tracker_gets_config_epochs_and_results(tmp_path, tracker_plugin):
    result, out = run_cli(tmp_path, "--track", "recorder=somewhere", plugins=[tracker_plugin])
    assert result.exit_code == 0, result.output
    record = read_run_record(out)
    kinds = [event[0] for event in Recorder.events]
    assert kinds == ["start", "epoch", "epoch", "epoch", "finish"]
    _, destination, name, config, params = Recorder.events[0]
    assert destination == "somewhere" and name == "run"
    assert config["pipeline_options"]["layers"] == 3 and config["data"]["name"] == "moons"
    assert params["train.epochs"] == 3
    epochs = [event for event in Recorder.events if event[0] == "epoch"]
    assert [e[1] for e in epochs] == [1, 2, 3]
    assert set(epochs[0][2]) == set(EPOCH_METRICS)
    assert epochs[2][2]["valid/bits_per_dim"] == pytest.approx(
        record.history["valid_bits_per_dim"][2]
    )
    _, status, results = Recorder.events[-1]
    assert status == "completed"
    assert results["test_bits_per_dim"] == pytest.approx(record.results["test_bits_per_dim"])


def test_tracker_failing_mid_run_is_dropped_with_one_warning(tmp_path, tracker_plugin):
    result, out = run_cli(
        tmp_path, "--track", "broken", "--track", "recorder", plugins=[tracker_plugin]
    )
    assert result.exit_code == 0, result.output
    assert warning_lines(result.output) == [
        "Warning: tracker 'broken' failed in log_epoch and is off: the server went away"
    ]
    assert Broken.calls == [1]  # never called again, not even to finish
    assert [event[0] for event in Recorder.events][-1] == "finish"  # the others carry on
    assert read_run_record(out).status == "completed"


def test_trackers_are_finished_as_failed_when_training_raises(
    tmp_path, tracker_plugin, monkeypatch
):
    def broken_fit(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("flowkit.run.runner.fit", broken_fit)
    result, _ = run_cli(tmp_path, "--track", "recorder", plugins=[tracker_plugin])
    assert result.exit_code != 0
    assert [event[0] for event in Recorder.events] == ["start", "finish"]
    _, status, results = Recorder.events[-1]
    assert status == "failed" and results["message"] == "RuntimeError: out of memory"


def test_trackers_are_listed_as_a_plugin_kind():
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "tensorboard" in result.output and "mlflow" in result.output
