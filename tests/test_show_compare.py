"""`flowkit show` and `flowkit compare`, on run files of today and of flowkit 0.1."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from flowkit.cli import cli

DATA = Path(__file__).parent / "data"
#: Written by flowkit 0.1 (commit 9cae1df): `flowkit run nice --dataset moons --layers 4
#: --hidden 16 --depth 1 --epochs 3 --batch-size 64 --num-samples 4` and an affine one with
#: `--hidden 8 --epochs 2 --lr 0.003`.
V01 = [DATA / "run-v0.1-moons-additive.h5", DATA / "run-v0.1-moons-affine.h5"]


def flowkit(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def today(tmp_path_factory):
    out = tmp_path_factory.mktemp("show") / "today.h5"
    result = flowkit(
        "run", "nice", "--dataset", "moons", "--layers", 3, "--hidden", 8, "--depth", 1,
        "--epochs", 2, "--num-samples", 2, "--device", "cpu", "--out", out, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_fixtures_are_what_flowkit_01_wrote():
    for path in V01:
        with h5py.File(path, "r") as f:
            assert f.attrs["flowkit_version"] == "0.1.0" and f.attrs["format_version"] == 1
            assert f.attrs["status"] == "completed" and "checkpoint" not in f
            assert "scheduler" not in json.loads(f.attrs["config"])["train"]


@pytest.mark.parametrize("which", ["today", "v0.1"])
def test_show_gives_status_config_data_results_timings(today, which):
    path = today if which == "today" else V01[0]
    result = flowkit("show", path)
    assert result.exit_code == 0, result.output
    text = result.stdout
    for expected in ("status:     completed", "model:      nice:", "coupling=additive",
                     "training:   epochs=", "data:       moons", "sha256:", "best epoch: ",
                     "bits/dim", "test log-likelihood", "timings:    "):  # fmt: skip
        assert expected in text, text
    info = json.loads(flowkit("show", path, "--json").stdout)
    assert info["status"] == "completed" and info["results"]["test_bits_per_dim"] > 0
    assert info["data"]["checksum"].startswith("sha256:")
    assert info["resumable"] is (which == "today")  # 0.1 dropped the final state


def test_compare_rows_show_the_differing_options_and_results(today):
    result = flowkit("compare", *V01, today, "--json", "--sort", "test_bits_per_dim")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 3
    assert {"pipeline.coupling", "pipeline.hidden", "train.lr"} <= set(rows[0])
    assert "pipeline.prior" not in rows[0]  # the same in every run
    values = [row["test_bits_per_dim"] for row in rows]
    assert values == sorted(values)
    descending = json.loads(flowkit("compare", *V01, today, "--json", "--sort",
                                    "-test_bits_per_dim").stdout)  # fmt: skip
    assert [row["test_bits_per_dim"] for row in descending] == sorted(values, reverse=True)
    by_path = {Path(row["path"]).name: row for row in rows}
    assert by_path["run-v0.1-moons-affine.h5"]["pipeline.coupling"] == "affine"
    assert by_path["run-v0.1-moons-additive.h5"]["best_epoch"] == 3


def test_compare_csv_text_and_folder(today):
    result = flowkit("compare", DATA, "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(list(DATA.glob("*.h5")))
    assert {"path", "status", "pipeline.coupling", "test_bits_per_dim"} <= set(rows[0])
    text = flowkit("compare", *V01, "--all")
    lines = text.stdout.splitlines()
    assert len(lines) == 3 and "pipeline.prior" in lines[0] and "logistic" in lines[1]


def test_compare_errors_are_one_line(tmp_path):
    result = flowkit("compare", *V01, "--sort", "nonsense")
    assert result.exit_code == 2 and "no such column" in result.stderr
    result = flowkit("compare", tmp_path / "missing.h5")
    assert result.exit_code == 2 and "missing.h5" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_config_of_a_01_run_reads_back():
    result = flowkit("config", V01[1])
    assert result.exit_code == 0, result.output
    assert 'coupling = "affine"' in result.stdout and "hidden = 8" in result.stdout
    assert "lr = 0.003" in result.stdout
