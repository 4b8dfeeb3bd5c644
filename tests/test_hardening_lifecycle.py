"""The life of a run at its edges: one writer per run file, extensions that fail, stored schedules
that cannot work, signals just after training, and runs whose initial model is already the fit.

Real processes where the operating system is the point (locks, signals), each under a timeout
scaled by the machine's load: these are not timing tests, a hang fails instead of waiting.
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch.distributed as dist
from click.testing import CliRunner

import flowkit.run.runner as runner_module
from flowkit.cli import cli
from flowkit.errors import ConfigurationError
from flowkit.io.h5 import from_attr, to_attr
from flowkit.io.lock import claim_output, lock_path
from flowkit.io.runfile import read_run_record
from flowkit.run.finish import final_status
from flowkit.train.distributed import DistributedTopology
from flowkit.train.loop import TrainingLoop
from flowkit.train.options import TrainOptions
from flowkit.train.schedule import check_scheduler_state
from flowkit.train.state import EpochRecord, History
from flowkit.train.trainer import TrainResult

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--dataset", "moons", "--hidden", "8", "--depth", "1", "--layers", "3", "--device", "cpu"]
TINY += ["--num-samples", "2", "--threads", "1", "-q"]
FOREVER = ["--epochs", "100000", "--patience", "0"]


def flowkit(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def error_line(result_or_text, code=None):
    """The one ``Error:`` line of a command's output (and no traceback)."""
    text = result_or_text if isinstance(result_or_text, str) else result_or_text.output
    if code is not None:
        assert result_or_text.exit_code == code, text
    errors = [line for line in text.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in text, text
    return errors[0]


def scaled(seconds: float) -> float:
    """``seconds`` stretched by the load per usable core (at least 1, at most 6 times)."""
    try:
        load = os.getloadavg()[0] / max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        load = 1.0
    return seconds * min(max(1.0, load + 1.0), 6.0)


def spawn(*args, hook: str = "") -> subprocess.Popen:
    """``flowkit ARGS`` in a child process, after running ``hook`` (Python) in it."""
    code = f"{hook}\nimport sys\nfrom flowkit.cli import main\nsys.argv[0] = 'flowkit'\nmain()"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def finish(process: subprocess.Popen, bound: float = 90) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=scaled(bound))
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"still running after {scaled(bound):.0f} s:\n{stderr[-3000:]}")
    return process.returncode, stderr


def wait_until(condition, processes, what: str, bound: float = 90) -> None:
    deadline = time.monotonic() + scaled(bound)
    while not condition():
        for process in processes:
            assert process.poll() is None or condition(), process.communicate()
        if time.monotonic() > deadline:
            for process in processes:
                process.kill()
            pytest.fail(f"no {what} within {scaled(bound):.0f} s")
        time.sleep(0.1)


def completed_run(tmp_path, *extra) -> Path:
    out = tmp_path / "run.h5"
    result = flowkit("run", "nice", *TINY, "--epochs", 2, *extra, "--out", out)
    assert result.exit_code == 0, result.output
    return out


# ---- 1. one writer per run file -----------------------------------------------------------------


def test_two_runs_started_on_one_out_one_wins_the_other_is_one_line(tmp_path):
    out = tmp_path / "run.h5"
    first, second = (spawn("run", "nice", *TINY, *FOREVER, "--out", out) for _ in range(2))
    wait_until(lambda: first.poll() is not None or second.poll() is not None, [], "refusal")
    loser, winner = (first, second) if first.poll() is not None else (second, first)
    code, stderr = finish(loser)
    assert code == 2, stderr
    assert any(s in error_line(stderr) for s in ("being written by another", "already exists"))
    wait_until(out.exists, [winner], "run file")
    winner.send_signal(signal.SIGINT)
    code, stderr = finish(winner)
    assert code == 130, stderr
    record = read_run_record(out)  # the winner's run, whole
    assert record.status == "interrupted" and "test_log_likelihood_nats" in record.results
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]  # no lock file left


@pytest.mark.parametrize("how", ["new", "force", "resume"])
def test_a_claimed_output_is_refused_in_one_line_before_data_is_loaded(how, tmp_path):
    out = tmp_path / "run.h5"
    if how != "new":
        out = completed_run(tmp_path)
    before = out.read_bytes() if out.exists() else None
    missing = ["--dataset", tmp_path / "missing.npy"]  # loading it would fail differently
    args = {
        "new": ["run", "nice", *TINY, *missing, "--out", out],
        "force": ["run", "nice", *TINY, *missing, "--force", "--out", out],
        "resume": ["run", "--resume", out, "--epochs", 5, "-q"],
    }[how]
    with claim_output(out):
        line = error_line(flowkit(*args), 2)
    assert f"{out} is being written by another flowkit process (pid {os.getpid()})" in line
    assert (out.read_bytes() if out.exists() else None) == before
    assert not lock_path(out).exists()


def test_force_over_a_file_being_resumed_is_refused_and_a_killed_holder_blocks_nothing(tmp_path):
    out = completed_run(tmp_path)
    before = out.read_bytes()
    resumer = spawn("run", "--resume", out, *FOREVER, "-q")
    wait_until(lock_path(out).exists, [resumer], "lock file")
    line = error_line(flowkit("run", "nice", *TINY, "--epochs", 1, "--force", "--out", out), 2)
    assert "being written by another flowkit process" in line
    assert out.read_bytes() == before
    resumer.kill()  # SIGKILL: no clean-up; the operating system releases the lock
    finish(resumer)
    assert lock_path(out).exists()  # left behind, and stale
    result = flowkit("run", "nice", *TINY, "--epochs", 1, "--force", "--out", out)
    assert result.exit_code == 0, result.output
    assert read_run_record(out).status == "completed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]


def test_no_lock_file_is_left_after_an_error(tmp_path, monkeypatch):
    def broken(self, callbacks):
        raise RuntimeError("broken epoch")

    monkeypatch.setattr(TrainingLoop, "run_epoch", broken)
    result = flowkit("run", "nice", *TINY, "--epochs", 2, "--out", tmp_path / "run.h5")
    assert isinstance(result.exception, RuntimeError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]


# ---- 2. a failed extension keeps the completed run ----------------------------------------------


@pytest.mark.parametrize("how", ["raises", "diverges", "interrupted-in-evaluation"])
def test_an_extension_that_does_not_complete_keeps_the_completed_run(how, tmp_path, monkeypatch):
    out = completed_run(tmp_path)
    before = out.read_bytes()
    if how == "raises":
        monkeypatch.setattr(TrainingLoop, "run_epoch", lambda self, callbacks: 1 / 0)
    elif how == "diverges":
        monkeypatch.setattr(TrainingLoop, "run_epoch", lambda self, callbacks: None)
    else:

        def evaluate(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(runner_module, "evaluate", evaluate)
    result = flowkit("run", "--resume", out, "--epochs", 4)
    assert result.exit_code == {"raises": 2, "diverges": 1}.get(how, 130), result.output
    assert "Traceback" not in result.output
    if how == "raises":
        line = error_line(result)
        assert "ZeroDivisionError" in line and f"{out} is unchanged" in line
    else:
        assert f"{out} is unchanged" in result.output
    assert out.read_bytes() == before
    record = read_run_record(out)
    assert record.status == "completed" and record.checkpoint.epoch == 2
    assert math.isfinite(record.results["test_log_likelihood_nats"])
    assert record.samples and record.spectrum is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]
    monkeypatch.undo()
    assert flowkit("run", "--resume", out, "--epochs", 3).exit_code == 0  # and it can go on
    assert read_run_record(out).history["epoch"] == [1, 2, 3]


# ---- 3. a stored schedule no run could start with -----------------------------------------------


@pytest.mark.parametrize(
    "schedule, key, value, match",
    [
        ("cosine", "T_max", 0, "period T_max = 0; it must be at least 1 epoch"),
        ("cosine", "eta_min", 1.0, "lr_min"),
        ("step", "step_size", 0, "step.epochs must be"),
        ("step", "gamma", -1.0, "gamma"),
    ],
)
def test_resume_refuses_a_stored_schedule_that_cannot_work(schedule, key, value, match, tmp_path):
    out = completed_run(tmp_path, "--lr-schedule", schedule)
    with h5py.File(out, "a") as f:
        state = from_attr(f["checkpoint"].attrs["scheduler"])
        state[key] = value
        f["checkpoint"].attrs["scheduler"] = to_attr(state)
    before = out.read_bytes()
    line = error_line(flowkit("run", "--resume", out, "--epochs", 4), 2)
    assert "damaged flowkit run file: checkpoint scheduler" in line and re.search(match, line)
    assert out.read_bytes() == before
    with pytest.raises(ConfigurationError, match=match):  # the same rule for any caller
        check_scheduler_state(state, TrainOptions(lr_schedule=schedule))


# ---- 4. signals at the edges --------------------------------------------------------------------

#: Hooks run in the child before `flowkit run`: signals at exact moments.
AT_LAST_EPOCH = """
import os, signal
from flowkit.run.finish import Checkpointer
real = Checkpointer.on_epoch_end
def on_epoch_end(self, end):
    real(self, end)
    if end.epoch == 2:
        os.kill(os.getpid(), signal.SIGTERM)
Checkpointer.on_epoch_end = on_epoch_end
"""
AFTER_TRAINING = """
import os, signal
import flowkit.run.runner as runner
real = runner.fit
def fit(*args, **kwargs):
    result = real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)
    return result
runner.fit = fit
"""


@pytest.mark.parametrize("hook", [AT_LAST_EPOCH, AFTER_TRAINING], ids=["last-epoch", "after"])
def test_sigterm_just_after_the_last_epoch_finishes_an_interrupted_file(hook, tmp_path):
    out = tmp_path / "run.h5"
    code, stderr = finish(spawn("run", "nice", *TINY, "--epochs", 2, "--out", out, hook=hook))
    assert code == 130, stderr
    assert "Traceback" not in stderr and "nothing written" not in stderr
    record = read_run_record(out)
    assert record.status == "interrupted" and record.checkpoint.epoch == 2
    assert "test evaluation skipped" in record.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]
    result = flowkit("run", "--resume", out)
    assert result.exit_code == 0, result.output
    assert "test_log_likelihood_nats" in read_run_record(out).results


DOUBLE_CTRL_C = """
import os, signal
from flowkit.run.finish import Checkpointer
import flowkit.cli.run_cmd as run_cmd
real = Checkpointer.on_epoch_end
def on_epoch_end(self, end):
    real(self, end)
    if end.epoch == 2:
        os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C: stop at the next step
Checkpointer.on_epoch_end = on_epoch_end
real_start = run_cmd.start_run
def start_run(*args, **kwargs):
    outcome = real_start(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGINT)  # the second, as the command ends
    return outcome
run_cmd.start_run = start_run
"""


def test_a_second_ctrl_c_while_the_run_ends_is_one_warning_not_a_traceback(tmp_path):
    out = tmp_path / "run.h5"
    process = spawn("run", "nice", *TINY, *FOREVER, "--out", out, hook=DOUBLE_CTRL_C)
    code, stderr = finish(process)
    assert code == 130, stderr
    assert "Traceback" not in stderr and "Error:" not in stderr
    assert f"SIGINT arrived while finishing: {out} is complete (interrupted)" in stderr
    record = read_run_record(out)
    assert record.status == "interrupted" and "test_log_likelihood_nats" in record.results
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]


def test_a_ctrl_c_during_the_process_group_teardown_only_asks_to_stop(monkeypatch):
    topology = DistributedTopology(0, 2)
    previous = signal.getsignal(signal.SIGINT)
    topology.install_signal_handlers()

    def destroy():
        os.kill(os.getpid(), signal.SIGINT)  # handled here, inside the teardown

    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "destroy_process_group", destroy)
    try:
        topology.close()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, previous)
        pytest.fail("Ctrl-C during the teardown raised KeyboardInterrupt")
    assert topology.stop_requested
    assert signal.getsignal(signal.SIGINT) is previous


# ---- 5. an initial model that is already the fit ------------------------------------------------


def test_a_run_that_cannot_improve_on_an_exact_gaussian_fit_is_completed(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(1500, 2)) @ np.array([[2.0, 0.5], [0.0, 1.0]])
    np.save(tmp_path / "gauss.npy", data.astype(np.float32))
    options = [a for a in TINY if a not in ("--dataset", "moons")]
    exact = ["--whitening", "zca", "--prior", "gaussian", "--scaling", "none"]
    # ZCA whitening and a Gaussian prior are the maximum-likelihood Gaussian of the training
    # data, and the couplings start as the identity; a vanishing learning rate keeps them so.
    out = tmp_path / "run.h5"
    args = ["--dataset", tmp_path / "gauss.npy", *exact, "--lr", "1e-30", "--epochs", 3]
    result = flowkit("run", "nice", *options, *args, "--out", out)
    assert result.exit_code == 0, result.output
    assert "Warning: training never improved" in result.output
    record = read_run_record(out)
    assert record.status == "completed" and record.results["best_epoch"] == 0
    assert math.isfinite(record.results["test_log_likelihood_nats"])


def _result(initial: float, last: float) -> TrainResult:
    history = History()
    history.append(EpochRecord(1, last, last, 0.0, 0.0, 1.0, 1.0))
    return TrainResult(history, {}, 0, initial, initial, "max-epochs", "done", None, 1.0, "adam")


@pytest.mark.parametrize(
    "initial, last, status",
    [
        (-3.0, 3.2, "completed"),  # never improved, about as good: a warning
        (-3.0, 3.0 + 0.5 * 2 + 0.01, "failed"),  # far worse than the start: diverged
        (-math.inf, 5.0, "failed"),  # nothing finite to compare with
        (-3.0, math.nan, "failed"),
    ],
)
def test_never_improving_is_a_failure_only_when_validation_diverged(initial, last, status):
    got, message, warning = final_status(_result(initial, last), dimensions=2)
    assert got == status
    assert "never improved" in (warning if status == "completed" else message)
