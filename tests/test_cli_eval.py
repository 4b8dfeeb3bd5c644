"""`flowkit eval`: the run's test log-likelihood, other data, JSON, damaged files."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from flowkit.cli import cli

PLUGIN = "tests.plugins.run_test_plugin"


def flowkit(*args):
    return CliRunner().invoke(cli, ["-p", PLUGIN, *map(str, args)])


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "run.h5"
    result = flowkit(
        "run",
        "nice",
        "--dataset",
        "tiny-grid",
        "--hidden",
        "8",
        "--depth",
        "1",
        "--batch-size",
        "32",
        "--epochs",
        "2",
        "-q",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    return out


def stored_results(path):
    with h5py.File(path, "r") as f:
        return dict(f["results"].attrs)


def test_eval_matches_the_results_in_the_file(run_file):
    result = flowkit("eval", run_file, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    stored = stored_results(run_file)
    assert payload["log_likelihood_nats"] == pytest.approx(
        stored["test_log_likelihood_nats"], rel=1e-9
    )
    assert payload["bits_per_dim"] == pytest.approx(stored["test_bits_per_dim"], rel=1e-9)
    assert payload["examples"] == stored["test_examples"] == 48
    assert payload["split"] == "test" and payload["data"] == "tiny-grid"
    text = flowkit("eval", run_file)
    assert text.exit_code == 0
    assert f"{stored['test_log_likelihood_nats']:.4f} nats/example" in text.stdout


def test_eval_on_other_data_uses_every_example(run_file, tmp_path):
    by_name = json.loads(flowkit("eval", run_file, "--json", "--data", "tiny-grid").stdout)
    assert by_name["examples"] == 240 and by_name["split"] == "all"
    # the same values from a user's file: the file dataset infers 8 levels from max + 1
    values = np.concatenate([np.zeros((1, 4, 4)), np.full((1, 4, 4), 7), np.ones((3, 4, 4))])
    np.save(tmp_path / "mine.npy", values.astype(np.uint8))
    result = flowkit("eval", run_file, "--json", "--data", tmp_path / "mine.npy")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["examples"] == 5 and np.isfinite(payload["log_likelihood_nats"])


def assert_one_line_error(result, match):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and match in lines[0], lines


def test_damaged_and_foreign_files_are_one_line_errors(run_file, tmp_path):
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(run_file.read_bytes()[:4096])
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"certainly not HDF5" * 50)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["images"] = np.zeros((2, 2))
    for path, match in (
        (truncated, "HDF5"),
        (garbage, "not a readable HDF5"),
        (foreign, "not a flowkit run file"),
        (tmp_path / "none.h5", "no such"),
    ):
        assert_one_line_error(flowkit("eval", path), match)


def test_data_that_does_not_fit_the_model(run_file, tmp_path):
    np.save(tmp_path / "wide.npy", np.zeros((5, 3), dtype=np.uint8))
    assert_one_line_error(
        flowkit("eval", run_file, "--data", tmp_path / "wide.npy"), "3 dimensions"
    )
    np.save(tmp_path / "floats.npy", np.random.default_rng(0).normal(size=(5, 16)))
    assert_one_line_error(
        flowkit("eval", run_file, "--data", tmp_path / "floats.npy"), "continuous"
    )
    assert_one_line_error(flowkit("eval", run_file, "--data", "tiny-grdi"), "did you mean")
