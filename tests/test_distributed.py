"""Data-parallel training (flowkit.train.distributed, .launch): two real processes on gloo.

The end-to-end tests start real process groups in subprocesses (each costs a few seconds of
torch import), always under a timeout: a hang fails the test instead of the suite.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from flowkit.cli import cli
from flowkit.errors import ConfigurationError
from flowkit.io.runfile import read_run_record
from flowkit.train.distributed import (
    collective_timeout,
    launched_world_size,
    process_batch_size,
    shard_indices,
)
from flowkit.train.launch import exit_status, worker_environment

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "tests.plugins.failing_rank_plugin"
TINY = [
    "--dataset",
    "digits",
    "--hidden",
    "8",
    "--depth",
    "1",
    "--layers",
    "3",
    "--batch-size",
    "128",
    "--progress",
    "lines",
    "--checkpoint-every",
    "0",
]
#: Every multi-process command must end within this many seconds (it is not a timing test:
#: a correct run takes a fraction of it; a hang would take forever).
BOUND = 90


def load_scaled(seconds: float) -> float:
    """``seconds`` stretched by how oversubscribed the cores are (load average per usable core,
    at least 1): on a machine shared with other test suites a correct run is slower, a hung one
    still never ends."""
    try:
        load = os.getloadavg()[0] / max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        load = 1.0
    return seconds * min(max(1.0, load + 1.0), 6.0)


def flowkit_processes(*args, env=None, launcher=()):
    """``python [LAUNCHER] -m flowkit ARGS`` from the repository root (so that
    ``tests.plugins`` imports), stdout and stderr captured."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
    }
    # Workers start with `python -P` (the working directory is not on their path): the test
    # plugins under tests/ reach them through PYTHONPATH.
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), environment.get("PYTHONPATH", "")) if p
    )
    environment.update(env or {})
    return subprocess.Popen(
        [sys.executable, *launcher, "-m", "flowkit", *map(str, args)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process, bound=BOUND):
    """``(exit status, stdout, stderr)``; fails the test (killing the process) after ``bound``
    seconds, scaled by the machine's load (:func:`load_scaled`)."""
    bound = load_scaled(bound)
    try:
        out, err = process.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        process.kill()  # the launcher's children notice their lost store and peers
        out, err = process.communicate()
        pytest.fail(f"still running after {bound} s:\n{(err or '')[-3000:]}")
    return process.returncode, out, err


# ---- pure pieces -------------------------------------------------------------------------------
@pytest.mark.parametrize("count, world", [(10, 2), (11, 2), (7, 3), (2, 4), (1, 2)])
def test_training_shards_have_equal_sizes_and_cover_every_row(count, world):
    order = torch.randperm(count)
    shards = [shard_indices(order, r, world, pad=True) for r in range(world)]
    assert {len(s) for s in shards} == {math.ceil(count / world)}
    assert set(torch.cat(shards).tolist()) == set(order.tolist())


@pytest.mark.parametrize("count, world", [(10, 2), (11, 2), (7, 3), (2, 4)])
def test_evaluation_shards_partition_the_rows_exactly(count, world):
    rows = torch.arange(count)
    shards = [shard_indices(rows, r, world) for r in range(world)]
    assert sorted(torch.cat(shards).tolist()) == list(range(count))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_batch_size_is_global_and_must_split_evenly():
    assert process_batch_size(256, 2) == 128 and process_batch_size(256, 1) == 256
    with pytest.raises(ConfigurationError, match="multiple of 3 such as 255 or 258"):
        process_batch_size(256, 3)


def test_environment_parsing():
    assert launched_world_size({}) == 1 and launched_world_size({"WORLD_SIZE": "4"}) == 4
    with pytest.raises(ConfigurationError, match="WORLD_SIZE"):
        launched_world_size({"WORLD_SIZE": "two"})
    assert collective_timeout({"FLOWKIT_DIST_TIMEOUT": "7.5"}) == timedelta(seconds=7.5)
    with pytest.raises(ConfigurationError, match="FLOWKIT_DIST_TIMEOUT"):
        collective_timeout({"FLOWKIT_DIST_TIMEOUT": "-1"})
    env = worker_environment(1, 2, 29400, base={})
    assert (env["RANK"], env["WORLD_SIZE"], env["MASTER_PORT"]) == ("1", "2", "29400")
    assert exit_status(-9) == 137 and exit_status(3) == 3


def test_bad_nproc_use_is_one_line_before_any_process_starts(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "run",
            "nice",
            *TINY,
            "--nproc",
            "2",
            "--batch-size",
            "33",
            "--out",
            str(tmp_path / "r.h5"),
        ],
    )
    assert result.exit_code == 2 and "must split evenly between 2 processes" in result.stderr
    result = runner.invoke(
        cli,
        ["run", "nice", *TINY, "--nproc", "3"],
        env={"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "RANK": "0"},
    )
    assert result.exit_code == 2 and "drop --nproc" in result.stderr
    assert not (tmp_path / "r.h5").exists()


# ---- two processes -----------------------------------------------------------------------------
def _initialize_on_rank(rank: int, port: int, directory: str) -> None:
    """Worker of the test below: data-dependent initialisation on rank-specific data."""
    os.environ.update(worker_environment(rank, 2, port))
    from flowkit import load_registry
    from flowkit.run.config import RunConfig, build_flow, resolve_pipeline_options
    from flowkit.train.distributed import DistributedTopology

    topology = DistributedTopology.from_environment()
    registry = load_registry()
    options = resolve_pipeline_options(
        registry,
        "nice",
        {"hidden": 8, "depth": 1, "layers": 3, "whitening": "zca", "scaling": "actnorm"},
    )
    torch.manual_seed(rank)  # different initial weights in each process
    flow = build_flow(registry, RunConfig(pipeline_options=options), 6)
    data = torch.randn(200, 6, generator=torch.Generator().manual_seed(100 + rank)) * (rank + 1)
    topology.initialize(flow, data)
    total = topology.all_reduce_sum(torch.tensor([rank + 0.5, 1.0], dtype=torch.float64))
    torch.save({"state": flow.state_dict(), "total": total}, f"{directory}/rank{rank}.pt")
    topology.close()


def test_data_dependent_initialisation_is_identical_in_every_process(tmp_path):
    from torch.distributed import TCPStore
    from torch.multiprocessing import spawn

    store = TCPStore("127.0.0.1", 0, world_size=3, is_master=True, wait_for_workers=False)
    spawn(_initialize_on_rank, args=(store.port, str(tmp_path)), nprocs=2, join=True)
    first, second = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert first["total"].tolist() == second["total"].tolist() == [2.0, 2.0]
    names = first["state"].keys()
    assert any("mean" in n for n in names) and any("initialized" in n for n in names)
    for name in names:
        assert torch.equal(first["state"][name], second["state"][name]), name
    assert all(bool(v) for n, v in first["state"].items() if n.endswith("initialized"))


def torchrun(*args, env=None):
    """``torchrun --standalone --nproc-per-node 2 -m flowkit ARGS``."""
    return flowkit_processes(
        *args,
        env=env,
        launcher=["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"],
    )


@pytest.mark.slow
def test_under_torchrun_one_run_file_whose_numbers_a_single_process_reproduces(tmp_path):
    out = tmp_path / "run.h5"
    code, stdout, stderr = finish(
        torchrun("run", "nice", *TINY, "--epochs", 2, "--out", out, env={"OMP_NUM_THREADS": "1"})
    )
    assert code == 0, stderr
    # rank 0 alone prints and writes
    assert stdout.count("run file:") == 1 and f"run file: {out} (completed)" in stdout
    assert stderr.count("epoch 2/2") == 1 and stderr.count("test log-likelihood") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]
    record = read_run_record(out)
    assert record.status == "completed" and record.history["epoch"] == [1, 2]
    versions = record.environment["versions"]
    assert versions["world_size"] == 2 and "gloo" in versions["topology"]
    assert record.config.train.batch_size == 128  # the global batch, as given

    evaluation = CliRunner().invoke(cli, ["eval", str(out), "--json"])
    assert evaluation.exit_code == 0, evaluation.output
    single = json.loads(evaluation.stdout)["log_likelihood_nats"]
    reported = record.results["test_log_likelihood_nats"]
    assert single == pytest.approx(reported, rel=1e-5)
    assert record.results["test_examples"] == 359


@pytest.mark.slow
def test_an_error_in_one_process_ends_both_with_a_failure(tmp_path):
    out = tmp_path / "run.h5"
    code, _, stderr = finish(
        flowkit_processes(
            "-p",
            PLUGIN,
            "run",
            "nice",
            *TINY,
            "--coupling",
            "fail-on-rank",
            "--epochs",
            3,
            "--nproc",
            2,
            "--out",
            out,
            env={"FLOWKIT_TEST_FAIL_RANK": "1"},
        )
    )
    assert code != 0
    assert "injected failure in rank 1" in stderr
    # rank 0 saw its peer go (connection closed) and recorded the failure in a readable file
    assert read_run_record(out).status == "failed"


@pytest.mark.slow
def test_a_hung_process_is_ended_by_the_collective_timeout(tmp_path):
    """Rank 1 hangs mid-training: rank 0's collective times out (FLOWKIT_DIST_TIMEOUT), and the
    launcher then kills rank 1 (TORCH_ELASTIC_SHUTDOWN_TIMEOUT)."""
    out = tmp_path / "run.h5"
    env = {
        "FLOWKIT_TEST_FAIL_RANK": "1",
        "FLOWKIT_TEST_FAIL_HOW": "hang",
        "FLOWKIT_DIST_TIMEOUT": "4",
        "TORCH_ELASTIC_SHUTDOWN_TIMEOUT": "2",
    }
    code, _, stderr = finish(
        flowkit_processes(
            "-p",
            PLUGIN,
            "run",
            "nice",
            *TINY,
            "--coupling",
            "fail-on-rank",
            "--epochs",
            3,
            "--nproc",
            2,
            "--out",
            out,
            env=env,
        )
    )
    assert code != 0
    assert "timed out" in stderr.lower()
    assert "process 0 of 2 failed first" in stderr and "137" in stderr  # rank 1 was killed
    assert read_run_record(out).status == "failed"


@pytest.mark.slow
def test_ctrl_c_stops_every_process_together_and_resume_finishes_the_run(tmp_path):
    out, log = tmp_path / "run.h5", tmp_path / "stderr.txt"
    with open(log, "w") as stderr_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flowkit",
                "run",
                "nice",
                *TINY,
                "--epochs",
                "100000",
                "--patience",
                "0",
                "--nproc",
                "2",
                "--out",
                str(out),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )
        deadline = time.monotonic() + load_scaled(BOUND)
        while "epoch 3/" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: every process gets SIGINT
        code, stdout, _ = finish(process)
    stderr = log.read_text()
    assert code == 130, stderr
    assert f"run file: {out} (interrupted)" in stdout
    record = read_run_record(out)
    assert record.status == "interrupted" and record.checkpoint is not None
    stopped = record.checkpoint.epoch
    assert stopped >= 3 and record.history["epoch"] == list(range(1, stopped + 1))
    assert "test_log_likelihood_nats" in record.results

    code, stdout, stderr = finish(
        flowkit_processes(
            "run", "--resume", out, "--epochs", stopped + 1, "--nproc", 2, "--progress", "lines"
        )
    )
    assert code == 0, stderr
    assert f"resuming after epoch {stopped}" in stderr
    resumed = read_run_record(out)
    assert resumed.status == "completed"
    assert resumed.history["epoch"] == list(range(1, stopped + 2))
    assert math.isfinite(resumed.results["test_log_likelihood_nats"])
