"""Bounded sizes and counts (issue 21, second round): one schema for the writing and the reading
side, so that every run file flowkit writes reads back, and every count beyond its bound is the
one-line rule of ``--layers``.

Every bad input is one ``Error:`` line, exit status 2, and no file written.
"""

from __future__ import annotations

import json
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from flowkit import ConfigurationError
from flowkit.bench.options import BenchOptions
from flowkit.cli import cli
from flowkit.io.runfile import read_run_record
from flowkit.run.config import MAX_SAMPLES, MAX_TEMPERATURES, check_option_bounds
from flowkit.train.options import INT_BOUNDS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TINY = ["--hidden", "8", "--depth", "1", "--layers", "3", "--threads", "1", "--device", "cpu"]
TINY += ["-q", "--num-samples", "2"]
MOST = sys.float_info.max  # the largest finite number: every float option is finite


def flowkit(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def refused(result, match: str, folder=None) -> None:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert match in lines[0], result.output
    if folder is not None:
        assert not list(folder.iterdir()), list(folder.iterdir())


def ok(result):
    assert result.exit_code == 0, result.output
    assert "damaged" not in result.output and "Traceback" not in result.output
    return result


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


# ---- 3. huge flag values: refused before any data is loaded ----------------------------------


@pytest.mark.parametrize(
    "args, match",
    [
        (["--patience", 2**63], "--patience 9,223,372,036,854,775,808 is more than"),
        (["--epochs", 2**63], "--epochs"),
        (["--epochs", 10**9 + 1], "at most 1,000,000,000"),
        (["--batch-size", 2**31 + 1], "--batch-size"),
        (["--lr-step-epochs", 2**63], "--lr-step-epochs"),
        (["--num-samples", 2**31], "--num-samples"),
        (["--num-samples", MAX_SAMPLES + 1], "at most 1,000,000"),
        (["--set", f"zero_init={2**63}"], "zero_init"),
        (["--threads", 99999999999], "--threads"),
        (["--threads", 100000], "--threads 100,000 is more than"),
        (["--eps", "inf"], "eps must be a finite number"),
        (["--max-time", "inf"], "must be a finite number"),
        (["--weight-decay", "inf"], "weight_decay must be a finite number"),
        (["--clip-grad-norm", "inf"], "must be a finite number"),
    ],
)
def test_huge_flag_values_are_one_line(args, match, out):
    result = flowkit("run", "nice", "--dataset", "moons", *TINY, *args, "--out", out / "r.h5")
    refused(result, match, out)


@pytest.mark.parametrize(
    "text, match",
    [
        ("[train]\ninit_examples = 1e20\n", "'init_examples' must be an integer"),
        (f"[train]\ninit_examples = {2**62}\n", "init_examples=4,611,686,018,427,387,904"),
        (f"[train]\neval_batch_size = {2**40}\n", "eval_batch_size"),
        (f"threads = {2**40}\n", "--threads"),
        (f"sample_temperatures = {[1 - i / 20 for i in range(17)]}\n", "17 sample temperatures"),
        ("sample_temperatures = [0.751, 0.752]\n", "first two decimals"),
        ("sample_temperatures = [inf]\n", "finite"),
    ],
)
def test_huge_config_file_values_are_one_line(tmp_path, out, text, match):
    (tmp_path / "c.toml").write_text(text)
    result = flowkit(
        "run", "nice", "--dataset", "moons", *TINY, "--config", tmp_path / "c.toml",
        "--out", out / "r.h5",
    )  # fmt: skip
    refused(result, match, out)


# ---- 7. unbounded counts: the rule of --layers -------------------------------------------------


@pytest.mark.parametrize(
    "pipeline, option",
    [("nice", "layers=100000"), ("glow", "steps=1000000"), ("realnvp", "blocks=1000000")],
)
def test_pipeline_counts_are_bounded_by_the_rule_of_layers(pipeline, option, out):
    result = flowkit("run", pipeline, "--dataset", "digits", "--threads", "1", "--set", option,
                     "--out", out / "r.h5")  # fmt: skip
    name, value = option.split("=")
    refused(result, f"{name}={int(value):,} is more than flowkit takes (at most", out)


def test_one_rule_bounds_every_count():
    for options in ({"layers": 10**6}, {"steps": 10**6}, {"depth": 10**7}, {"levels": 10**9}):
        with pytest.raises(ConfigurationError, match="is more than flowkit takes"):
            check_option_bounds(options)
    for options in ({"repeats": 10**20}, {"speed_rounds": 10**20}):
        with pytest.raises(ConfigurationError, match="is more than flowkit takes"):
            BenchOptions(**options).validate()


@pytest.mark.parametrize("flag", ["--repeats", "--speed-rounds"])
def test_bench_counts_are_bounded(flag, out):
    result = flowkit("bench", "--dataset", "moons", "--epochs", 1, flag, 10**20,
                     "--out", out / "b.h5")  # fmt: skip
    refused(result, f"{flag} 100,000,000,000,000,000,000 is more than flowkit takes", out)


def test_eval_draws_are_bounded(limit_runs):
    for draws in (10**6, 10**20):
        refused(flowkit("eval", limit_runs["most"], "--draws", draws), "--draws")


# ---- 4. every limit flowkit run accepts reads back with every command --------------------------


def _run(tmp_path, name, toml, *args):
    (tmp_path / f"{name}.toml").write_text(toml)
    path = tmp_path / f"{name}.h5"
    ok(flowkit("run", "nice", "--dataset", "moons", *TINY, "--config", tmp_path / f"{name}.toml",
               *args, "--out", path))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def limit_runs(tmp_path_factory):
    """Run files at the limits: ``most``, every integer at its most (trained one epoch: the
    time budget stops it) and a million samples; ``floats``, every float option at the largest
    finite number and the most sample temperatures (no epoch trained)."""
    folder = tmp_path_factory.mktemp("limits")
    most = {name: high for name, (_, high) in INT_BOUNDS.items() if name != "threads"}
    integers = _run(
        folder, "most",
        f"sample_temperatures = [1.0]\nsplit_seed = {most['seed']}\n"
        f"[train]\ninit_examples = {most['init_examples']}\n"
        f"eval_batch_size = {most['eval_batch_size']}\n",
        "--epochs", most["epochs"], "--patience", most["patience"], "--seed", most["seed"],
        "--batch-size", most["batch_size"], "--lr-schedule", "step",
        "--lr-step-epochs", most["lr_step_epochs"], "--num-samples", MAX_SAMPLES,
        "--max-time", 1e-3,
    )  # fmt: skip
    temperatures = [round(1 - i / 20, 2) for i in range(MAX_TEMPERATURES)]
    floats = _run(
        folder, "floats", f"sample_temperatures = {temperatures}\n",
        "--epochs", 0, "--eps", MOST, "--weight-decay", MOST, "--max-time", MOST,
        "--clip-grad-norm", MOST, "--lr-min", 0, "--lr-gamma", 1,
    )  # fmt: skip
    return {"most": integers, "floats": floats}


def test_the_runs_at_the_limits_hold_them(limit_runs):
    record = read_run_record(limit_runs["most"])
    assert record.config.train.batch_size == 2**31 and record.config.train.epochs == 10**9
    assert record.config.num_samples == MAX_SAMPLES
    assert record.samples[1.0].shape == (MAX_SAMPLES, 2)
    record = read_run_record(limit_runs["floats"])
    assert record.config.train.eps == MOST and record.config.train.max_seconds == MOST
    assert len(record.samples) == MAX_TEMPERATURES


@pytest.mark.parametrize("which", ["most", "floats"])
def test_every_command_reads_the_runs_at_the_limits(limit_runs, which, tmp_path):
    path = limit_runs[which]
    assert which in ok(flowkit("show", path)).output
    ok(flowkit("eval", path))
    ok(flowkit("sample", path, "-n", 4, "-o", tmp_path / "s.npy"))
    ok(flowkit("compare", *limit_runs.values()))
    toml = ok(flowkit("config", path)).output
    tomllib.loads(toml)
    (tmp_path / "again.toml").write_text(toml)  # the TOML runs again, limits and all
    ok(flowkit("run", "nice", "--config", tmp_path / "again.toml", "--epochs", 0,
               "--num-samples", 2, "--out", tmp_path / "again.h5"))  # fmt: skip


def test_the_runs_at_the_limits_resume(limit_runs, tmp_path):
    copy = tmp_path / "most.h5"
    copy.write_bytes(limit_runs["most"].read_bytes())
    ok(flowkit("run", "--resume", copy, "--epochs", 2, "--max-time", MOST, "-q"))
    assert read_run_record(copy).checkpoint.epoch == 2
    copy = tmp_path / "floats.h5"
    copy.write_bytes(limit_runs["floats"].read_bytes())
    result = flowkit("run", "--resume", copy, "--epochs", 1, "-q")
    assert result.exit_code in (0, 1), result.output  # 1: this weight decay diverges
    assert "damaged" not in result.output and "Traceback" not in result.output


# ---- 2. huge sizes in a run file: refused before a model is built ------------------------------


def _edited(source, target, **options):
    target.write_bytes(source.read_bytes())
    with h5py.File(target, "r+") as handle:
        config = json.loads(handle.attrs["config"])
        config["pipeline_options"].update(options)
        handle.attrs["config"] = json.dumps(config)
    return target


@pytest.fixture(scope="module")
def glow_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("glow") / "glow.h5"
    ok(flowkit("run", "glow", "--dataset", "digits", "--set", "levels=1", "--set", "steps=1",
               "--set", "hidden=4", "--epochs", 0, "--threads", 1, "--device", "cpu", "-q",
               "--num-samples", 2, "--out", path))  # fmt: skip
    return path


@pytest.mark.parametrize(
    "which, options, match",
    [
        ("most", {"depth": 10**7}, "depth=10,000,000"),
        ("most", {"layers": 10**8}, "layers=100,000,000"),
        ("most", {"hidden": 2**40}, "hidden="),
        ("glow", {"steps": 10**7}, "steps=10,000,000"),
        ("glow", {"levels": 10**18}, "levels="),
    ],
)
@pytest.mark.parametrize("command", ["eval", "show"])
def test_huge_sizes_in_a_run_file_are_one_line(
    limit_runs, glow_run, tmp_path, which, options, match, command
):
    source = glow_run if which == "glow" else limit_runs["most"]
    path = _edited(source, tmp_path / "r.h5", **options)
    refused(flowkit(command, path), match)


@pytest.mark.parametrize("most", [2**24 - 1, 2**24])
def test_quantisation_levels_beyond_what_a_run_file_holds_are_one_line(tmp_path, out, most):
    values = np.random.default_rng(0).integers(0, 1000, size=(100, 2))
    values[0, 0] = most  # levels: most + 1
    np.save(tmp_path / "counts.npy", values)
    args = ["run", "nice", "--dataset", tmp_path / "counts.npy", *TINY, "--epochs", 0]
    result = flowkit(*args, "--out", out / "r.h5")
    if most + 1 > 2**24:
        refused(result, "quantisation levels; flowkit models at most 16,777,216", out)
    else:
        ok(result)
        assert "levels" in ok(flowkit("show", out / "r.h5")).output
