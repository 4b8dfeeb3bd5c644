"""`flowkit run`: a full tiny run, determinism, --force, bad input, Ctrl-C / SIGTERM / kill -9
and --resume (real signals sent to a real process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from flowkit.cli import cli
from flowkit.errors import RunFileError
from flowkit.io.runfile import read_run_record

PLUGIN = "tests.plugins.run_test_plugin"
ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--dataset",
    "tiny-grid",
    "--hidden",
    "8",
    "--depth",
    "1",
    "--batch-size",
    "32",
    "--checkpoint-every",
    "0",
]


def flowkit(*args):
    return CliRunner().invoke(cli, ["-p", PLUGIN, *map(str, args)])


def assert_one_line_error(result, match):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert match in lines[0]


def test_full_run_writes_a_valid_file(tmp_path):
    out = tmp_path / "run.h5"
    result = flowkit("run", "nice", *TINY, "--epochs", 3, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"run file: {out} (completed)" in result.stdout
    assert "tiny-grid (synthetic-240): 240 examples" in result.stderr
    assert "epoch 3/3" in result.stderr and "test log-likelihood" in result.stderr
    with h5py.File(out, "r") as f:
        assert f.attrs["status"] == "completed"
        assert list(f["metrics/epoch"]) == [1, 2, 3]
        assert np.isfinite(f["results"].attrs["test_log_likelihood_nats"])


def test_runs_repeat_exactly_under_a_seed(tmp_path):
    records = []
    for name in ("a.h5", "b.h5"):
        result = flowkit(
            "run", "nice", *TINY, "--epochs", 2, "--seed", 5, "-q", "--out", tmp_path / name
        )
        assert result.exit_code == 0, result.output
        records.append(read_run_record(tmp_path / name))
    a, b = records
    for column in ("train_nll_nats", "valid_nll_nats"):
        assert a.history[column] == b.history[column]
    assert a.results["test_log_likelihood_nats"] == b.results["test_log_likelihood_nats"]
    np.testing.assert_array_equal(a.samples[0.75], b.samples[0.75])


def test_default_output_path_and_quiet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = flowkit("run", "nice", *TINY, "--epochs", 1, "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    written = list((tmp_path / "runs").glob("nice-*.h5"))
    assert len(written) == 1 and result.stdout == f"{Path('runs') / written[0].name}\n"


@pytest.mark.parametrize(
    "bad", [["--dataset-option", "colour=red"], ["--prior-option", "scael=2"]]
)
def test_a_refused_run_leaves_no_default_folder_behind(tmp_path, monkeypatch, bad):
    monkeypatch.chdir(tmp_path)
    result = flowkit("run", "nice", *TINY, "--epochs", 1, *bad)
    assert result.exit_code == 2 and result.output.count("Error:") == 1, result.output
    assert not (tmp_path / "runs").exists()  # runs/ is made only once the inputs are checked


def test_fewer_than_three_layers_is_a_one_line_warning(tmp_path):
    result = flowkit(
        "run", "nice", *TINY, "--epochs", 1, "--layers", 2, "-q", "--out", tmp_path / "r.h5"
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1 and "at least 3" in warnings[0]


def test_force_overwrites_and_its_absence_protects(tmp_path):
    out = tmp_path / "run.h5"
    out.write_bytes(b"not mine to delete")
    assert_one_line_error(flowkit("run", "nice", *TINY, "--epochs", 1, "--out", out), "--force")
    assert out.read_bytes() == b"not mine to delete"
    result = flowkit("run", "nice", *TINY, "--epochs", 1, "-q", "--force", "--out", out)
    assert result.exit_code == 0 and h5py.is_hdf5(out)


def test_non_finite_loss_exits_1_with_the_best_model_kept(tmp_path):
    out = tmp_path / "nan.h5"
    result = flowkit(
        "run",
        "nice",
        *TINY,
        "--epochs",
        6,
        "--coupling",
        "nan-after",
        "--set",
        'coupling_options={"after": 14}',
        "--out",
        out,
    )
    assert result.exit_code == 1, result.output
    assert "Warning: non-finite loss in epoch 3" in result.stderr
    assert "(failed)" in result.stdout
    assert read_run_record(out).results["best_epoch"] == 2


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    with_nan = np.ones((20, 4))
    with_nan[3, 1] = np.nan
    np.save(folder / "nan.npy", with_nan)
    np.save(folder / "inf.npy", np.full((20, 4), np.inf))
    np.save(folder / "flat.npy", np.arange(10.0))
    np.save(folder / "empty.npy", np.zeros((0, 4)))
    (folder / "garbage.h5").write_bytes(b"\x89HDF garbage" * 10)
    (folder / "no_mnist").mkdir()
    return folder


BAD_INPUTS = {
    "unknown coupling": (["--coupling", "addtive"], "did you mean 'additive'"),
    "unknown prior": (["--prior", "logistc"], "did you mean 'logistic'"),
    "unknown dataset": (["--dataset", "tiny-grdi"], "did you mean 'tiny-grid'"),
    "zero layers": (["--layers", "0"], "--layers"),
    "zero hidden": (["--hidden", "0"], "--hidden"),
    "negative epochs": (["--epochs", "-1"], "--epochs"),
    "zero batch size": (["--batch-size", "0"], "--batch-size"),
    "zero lr": (["--lr", "0"], "--lr"),
    "negative lr": (["--lr", "-0.1"], "--lr"),
    "unknown option": (["--layrs", "3"], "--layers"),
    "unknown pipeline option": (["--set", "colour=red"], "no option(s) colour"),
    "bad device": (["--device", "tpu"], "device"),
    "unsplittable dimensions": (["--dataset", "tiny-line"], "at least 2 dimensions"),
    "data with NaN": (["--dataset", "{bad}/nan.npy"], "NaN"),
    "data with inf": (["--dataset", "{bad}/inf.npy"], "inf"),
    "wrong shape": (["--dataset", "{bad}/flat.npy"], "1-D"),
    "no rows": (["--dataset", "{bad}/empty.npy"], "no rows"),
    "missing data file": (["--dataset", "{bad}/absent.npy"], "no such file"),
    "missing MNIST files": (
        ["--dataset", "mnist", "--data-dir", "{bad}/no_mnist"],
        "train-images-idx3-ubyte",
    ),
    "resume a non-run file": (["--resume", "{bad}/garbage.h5"], "not a readable HDF5"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, bad_files, tmp_path):
    args, match = BAD_INPUTS[case]
    args = [a.replace("{bad}", str(bad_files)) for a in args]
    out = tmp_path / "out.h5"
    defaults = ["--hidden", "8", "--depth", "1", "--epochs", "1", "--out", out]
    if args[0] == "--resume":
        command = ["run", *args]
    else:
        command = [
            "run",
            "nice",
            *defaults,
            *(["--dataset", "tiny-grid"] if "--dataset" not in args else []),
            *args,
        ]
    assert_one_line_error(flowkit(*command), match)
    assert list(tmp_path.iterdir()) == []


def test_resume_rejects_model_changes(tmp_path):
    out = tmp_path / "run.h5"
    assert flowkit("run", "nice", *TINY, "--epochs", 1, "-q", "--out", out).exit_code == 0
    before = out.read_bytes()
    assert_one_line_error(flowkit("run", "--resume", out, "--layers", 2), "--layers")
    assert_one_line_error(flowkit("run", "--resume", out), "completed")
    assert out.read_bytes() == before


# ---- real signals ----------------------------------------------------------------------------


def start_process(out: Path) -> subprocess.Popen:
    """`flowkit run` in a child process that trains "forever" (Ctrl-C restored to default)."""
    code = "import sys; from flowkit.cli import main; sys.argv[0] = 'flowkit'; main()"
    args = [
        "-p",
        PLUGIN,
        "run",
        "nice",
        *TINY,
        "--epochs",
        "100000",
        "--patience",
        "0",
        "--out",
        str(out),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_epochs(process: subprocess.Popen, out: Path, epochs: int, limit: float = 120.0):
    """Poll the run file (replaced atomically, so always readable) until it has ``epochs``."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if out.exists():
            try:
                if len(read_run_record(out).history) >= epochs:
                    return
            except RunFileError:
                pytest.fail("the run file was unreadable while training")
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"no {epochs} epochs within {limit} s")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_signal_finishes_the_file_and_resume_continues(how, tmp_path):
    out = tmp_path / "run.h5"
    process = start_process(out)
    wait_for_epochs(process, out, 2)
    process.send_signal(getattr(signal, how))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    record = read_run_record(out)
    assert record.status == "interrupted" and record.checkpoint is not None
    done = record.checkpoint.epoch
    assert done >= 2 and "test_log_likelihood_nats" in record.results
    result = flowkit("run", "--resume", out, "--epochs", done + 2, "-q")
    assert result.exit_code == 0, result.output
    resumed = read_run_record(out)
    assert resumed.status == "completed"
    assert resumed.history["epoch"] == list(range(1, done + 3))
    assert resumed.created == record.created


def test_kill_9_leaves_a_resumable_file(tmp_path):
    out = tmp_path / "run.h5"
    process = start_process(out)
    wait_for_epochs(process, out, 2)
    process.kill()
    process.communicate(timeout=60)
    record = read_run_record(out)  # complete: the previous or the newest checkpoint
    assert record.status == "running"
    done = record.checkpoint.epoch
    result = flowkit("run", "--resume", out, "--epochs", done + 1, "-q")
    assert result.exit_code == 0, result.output
    assert read_run_record(out).history["epoch"][-1] == done + 1
