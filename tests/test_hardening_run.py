"""Full disks, unwritable folders, signals at every moment, unchecked values, isolated workers."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import flowkit.io.h5 as h5_module
import flowkit.run.runner as runner_module
from flowkit import LawCoupling
from flowkit.cli import cli
from flowkit.io.atomic import atomic_path
from flowkit.io.runfile import read_run_record
from flowkit.testing import ContractError
from flowkit.testing.extreme_checks import check_extreme_inputs
from flowkit_builtins.couplings import AffineLaw

TINY = ["--dataset", "moons", "--hidden", "8", "--depth", "1", "--layers", "3"]
TINY += ["--device", "cpu", "-q", "--num-samples", "2"]


def flowkit(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line(result, code, match):
    lines = [
        line for line in result.output.strip().splitlines() if not line.startswith("run file")
    ]
    assert result.exit_code == code, result.output
    assert any(match in line for line in lines), result.output
    assert "Traceback" not in result.output
    return lines


# ---- full disk ---------------------------------------------------------------------------------


def test_disk_full_on_a_checkpoint_is_one_line_and_the_last_one_stays(tmp_path, monkeypatch):
    out = tmp_path / "run.h5"
    calls = {"n": 0}

    def filling(path, data):
        calls["n"] += 1
        with atomic_path(path) as temporary, open(temporary, "xb") as stream:
            if calls["n"] >= 3:  # the first checkpoints fit, then the disk is full
                stream.write(data[: len(data) // 2])
                raise OSError(errno.ENOSPC, "No space left on device")
            stream.write(data)

    monkeypatch.setattr(h5_module, "write_bytes", filling)
    result = flowkit("run", "nice", *TINY, "--epochs", 5, "--checkpoint-every", 0, "--out", out)
    lines = one_line(result, 2, "no space left on")
    assert len(lines) == 1 and "the last checkpoint (epoch 1) is intact" in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]  # temporary file removed
    record = read_run_record(out)
    assert record.status == "running" and record.checkpoint.epoch == 1
    monkeypatch.undo()
    result = flowkit("run", "--resume", out, "-q")
    assert result.exit_code == 0, result.output
    assert read_run_record(out).status == "completed"


def test_stale_temporary_files_of_a_killed_writer_are_removed_on_resume(tmp_path):
    interrupted = tmp_path / "c.h5"
    assert flowkit("run", "nice", *TINY, "--epochs", 1, "--out", interrupted).exit_code == 0
    stale = tmp_path / f".{interrupted.name}.999999999-0123abcd.tmp"  # no such process
    stale.write_bytes(b"half a file")
    result = flowkit("run", "nice", *TINY, "--epochs", 1, "--force", "--out", interrupted)
    assert result.exit_code == 0, result.output
    assert not stale.exists()


# ---- unwritable places, found before data loading -----------------------------------------------


def test_an_output_folder_that_cannot_exist_is_found_before_data_loading(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    missing_data = ["--dataset", tmp_path / "missing.npy"]  # loading it would fail differently
    result = flowkit("run", "nice", *missing_data, "--out", blocker / "run.h5")
    one_line(result, 2, "not a folder")
    result = flowkit("run", "nice", *missing_data, "--out", tmp_path / "no" / "run.h5")
    one_line(result, 2, "does not exist")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_by_every_command(tmp_path, runs):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for args in (
            ["run", "nice", *TINY, "--out", locked / "r.h5"],
            ["sample", runs["moons"], "-o", locked / "s.npy"],
            ["report", runs["moons"], "-o", locked],
            ["bench", "--out", locked / "b.h5"],
        ):
            one_line(flowkit(*args), 2, "read-only")
    finally:
        locked.chmod(0o755)


# ---- signals and endings ----------------------------------------------------------------------


def test_sigterm_during_the_final_evaluation_leaves_an_interrupted_resumable_file(
    tmp_path, monkeypatch
):
    real = runner_module.evaluate

    def evaluate(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_module, "evaluate", evaluate)
    out = tmp_path / "run.h5"
    result = flowkit("run", "nice", *TINY, "--epochs", 2, "--out", out)
    assert result.exit_code == 130, result.output
    record = read_run_record(out)
    assert record.status == "interrupted" and record.checkpoint is not None
    assert "test evaluation skipped" in record.message
    monkeypatch.undo()
    assert flowkit("run", "--resume", out, "-q").exit_code == 0
    assert "test_log_likelihood_nats" in read_run_record(out).results


def test_signals_during_the_last_write_are_held_until_the_file_is_complete(tmp_path, monkeypatch):
    real = runner_module.write_run_file

    def write(path, record):
        if record.status == "completed":
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
        real(path, record)

    monkeypatch.setattr(runner_module, "write_run_file", write)
    out = tmp_path / "run.h5"
    result = flowkit("run", "nice", *TINY, "--epochs", 2, "--out", out)
    assert result.exit_code == 0, result.output
    assert "SIGINT and SIGTERM arrived while finishing" in result.output
    assert "Aborted" not in result.output
    assert read_run_record(out).status == "completed"


def test_ctrl_c_during_start_up_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    def load(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner_module, "build_dataset", load)
    result = flowkit("run", "nice", *TINY, "--out", tmp_path / "run.h5")
    lines = one_line(result, 130, "interrupted while starting the run; nothing written")
    assert len(lines) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_run_that_never_improves_fails_and_says_why(tmp_path):
    out = tmp_path / "run.h5"
    result = flowkit("run", "nice", *TINY, "--epochs", 3, "--lr", 10, "--out", out)
    assert result.exit_code == 1, result.output
    record = read_run_record(out)
    assert record.status == "failed"
    assert "never improved" in record.message or "non-finite" in record.message
    assert "Warning:" in result.output


def test_resume_with_fewer_epochs_than_trained_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "run.h5"

    def evaluate(*args, **kwargs):
        raise KeyboardInterrupt  # leaves an interrupted file after 2 epochs

    monkeypatch.setattr(runner_module, "evaluate", evaluate)
    flowkit("run", "nice", *TINY, "--epochs", 2, "--out", out)
    monkeypatch.undo()
    before = out.read_bytes()
    one_line(flowkit("run", "--resume", out, "--epochs", 0), 2, "has trained 2 epoch(s)")
    assert out.read_bytes() == before


# ---- unchecked values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, match",
    [
        (["--seed", "100000000000000000000"], "--seed"),
        (["--split-seed", "-1"], "--split-seed"),
        (["--set", 'hidden="wide"'], "hidden must be an integer"),
        (["--layers", "100000"], "layers=100,000"),
        (["--hidden", "100000", "--depth", "10", "--layers", "10"], "parameters"),
    ],
)
def test_unchecked_run_values_are_one_line(args, match, tmp_path):
    options = [a for a in TINY if a not in ("--hidden", "8", "--layers", "3", "--depth", "1")]
    result = flowkit("run", "nice", *options, *args, "--out", tmp_path / "r.h5")
    lines = one_line(result, 2, match)
    assert len(lines) == 1
    assert not (tmp_path / "r.h5").exists()


@pytest.mark.parametrize(
    "command, args, match",
    [
        ("sample", ["--seed", "100000000000000000000", "-o", "s.npy"], "--seed"),
        ("report", ["--seed", "-1", "--out", "rep"], "--seed"),
        ("inpaint", ["--seed", str(2**32), "--out", "i.png"], "--seed"),
        ("inpaint", ["--steps", "10000000000", "--out", "i.png"], "--steps"),
    ],
)
def test_seeds_and_steps_of_the_other_commands_are_bounded(runs, tmp_path, command, args, match):
    args = [str(tmp_path / a) if a.endswith((".npy", ".png")) or a == "rep" else a for a in args]
    result = flowkit(command, runs["digits"], *args)
    assert len(one_line(result, 2, match)) == 1
    assert not any(tmp_path.iterdir())  # refused before anything was written


@pytest.mark.parametrize("flag", ["--seed", "--split-seed"])
def test_bench_seeds_are_bounded(flag, tmp_path):
    result = flowkit(
        "bench", "--dataset", "moons", "--epochs", 1, flag, -5, "--out", tmp_path / "b.h5"
    )
    assert len(one_line(result, 2, flag)) == 1
    assert not (tmp_path / "b.h5").exists()


def test_sample_refuses_infinite_temperature_and_absurd_counts(runs, tmp_path):
    one_line(flowkit("sample", runs["moons"], "-t", "inf", "-o", tmp_path / "s.npy"), 2, "finite")
    result = flowkit("sample", runs["digits"], "-n", 10**9, "-o", tmp_path / "s.npy")
    one_line(result, 2, "GiB")
    assert not (tmp_path / "s.npy").exists()


def test_continuous_data_with_a_constant_feature_is_refused(tmp_path):
    data = np.random.default_rng(0).normal(size=(300, 3)).astype(np.float32)
    data[:, 1] = 4.0
    np.save(tmp_path / "data.npy", data)
    options = [a for a in TINY if a not in ("--dataset", "moons")]
    result = flowkit(
        "run", "nice", *options, "--dataset", tmp_path / "data.npy", "--out", tmp_path / "r.h5"
    )
    one_line(result, 2, "constant")


# ---- the sigmoid law at extreme conditioner outputs ---------------------------------------------


def test_the_sigmoid_law_keeps_its_inverse_finite_and_the_kit_checks_it(monkeypatch):
    def make():
        return LawCoupling(6, law=AffineLaw(scale_bound="sigmoid"), hidden=16, depth=1)

    check_extreme_inputs(make, 6)
    layer = make()
    u = torch.full((1, 3), -500.0)
    assert torch.isfinite(torch.exp(-layer.law._log_scale(u))).all()

    import flowkit_builtins.couplings as couplings

    unfloored = lambda u, kind, bound: -torch.nn.functional.softplus(-(u + 2.0))  # noqa: E731
    monkeypatch.setattr(couplings, "bounded_log_scale", unfloored)
    with pytest.raises(ContractError, match="inverse"):
        check_extreme_inputs(make, 6)


# ---- workers do not import from the working directory ------------------------------------------


def test_nproc_workers_do_not_import_modules_from_the_working_directory(tmp_path, monkeypatch):
    import flowkit.train.launch as launch_module

    started = []

    class Recorder:
        def __init__(self, command, env):
            started.append(command)
            self.returncode = 0

        def poll(self):
            return 0

    monkeypatch.setattr(launch_module.subprocess, "Popen", Recorder)
    assert launch_module.launch(2, ["run", "nice"]) == 0
    command = started[0]
    monkeypatch.undo()
    assert command[:4] == [sys.executable, "-P", "-m", "flowkit"]
    marker = tmp_path / "executed"
    (tmp_path / "pluggy.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    worker = [*command[:2], "-c", "import pluggy"]  # how a worker starts, in that folder
    subprocess.run(worker, cwd=tmp_path, check=True, env={**os.environ, "PYTHONPATH": ""})
    assert not marker.exists()
    subprocess.run([sys.executable, "-c", "import pluggy"], cwd=tmp_path, check=True)
    assert marker.exists()  # what `python -m flowkit` workers did before
