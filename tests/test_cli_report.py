"""`flowkit report`: learning curves, samples and the scaling spectrum as PNG files."""

from __future__ import annotations

import matplotlib.image
import pytest
from click.testing import CliRunner

from flowkit.cli import cli
from flowkit.io.runfile import read_run_record, write_run_file
from flowkit.train.state import History
from flowkit_builtins.commands.report import metric_curves
from tests.conftest import RUN_OPTIONS

ALL_FILES = ["bits_per_dim.png", "learning_curves.png", "samples.png", "spectrum.png"]


def interrupted_copy(source, target, epochs):
    """The run file as Ctrl-C after ``epochs`` epochs leaves it: no results, spectrum or
    samples yet."""
    record = read_run_record(source)
    arrays = {name: values[:epochs] for name, values in record.history.as_arrays().items()}
    record.history = History.from_arrays(arrays)
    record.status, record.results, record.samples, record.spectrum = "interrupted", {}, {}, None
    write_run_file(target, record)
    return target


def report(*args):
    return CliRunner().invoke(cli, ["report", *map(str, args)])


def check_pngs(folder, names):
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    for name in names:
        image = matplotlib.image.imread(folder / name)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_report_of_an_image_run(runs, tmp_path):
    out = tmp_path / "report"
    result = report(runs["digits"], "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert sorted(result.output.split()) == sorted(str(out / name) for name in ALL_FILES)
    check_pngs(out, ALL_FILES)


def test_report_of_a_2d_run(runs, tmp_path):
    result = report(runs["moons"], "--out", tmp_path / "r", "-n", 300)
    assert result.exit_code == 0, result.output
    check_pngs(tmp_path / "r", ALL_FILES)


def test_a_model_without_scaling_layer_has_no_spectrum(tmp_path):
    run = tmp_path / "plain.h5"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "nice",
            "--dataset",
            "digits",
            *RUN_OPTIONS,
            "--scaling",
            "none",
            "--epochs",
            "1",
            "--out",
            str(run),
        ],
    )
    assert result.exit_code == 0, result.output
    result = report(run, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert "spectrum.png" not in result.output
    check_pngs(tmp_path / "r", [name for name in ALL_FILES if name != "spectrum.png"])


def test_metric_curves_pick_train_and_validation():
    metrics = {
        "epoch": [1, 2],
        "train_nll_nats": [3, 2],
        "valid_nll_nats": [4, 3],
        "train_bits_per_dim": [5, 4],
        "valid_bits_per_dim": [6, 5],
        "seconds": [1, 1],
    }
    curves = metric_curves(metrics, "nll")
    assert list(curves) == ["train", "validation"]
    assert list(curves["validation"]) == [4, 3]
    assert list(metric_curves(metrics, "bits_per_dim")["train"]) == [5, 4]


@pytest.mark.parametrize("epochs", [2, 0])
def test_report_of_an_interrupted_run(runs, tmp_path, epochs):
    run = interrupted_copy(runs["digits"], tmp_path / "interrupted.h5", epochs)
    out = tmp_path / "r"
    result = report(run, "--out", out)
    assert result.exit_code == 0, result.output
    # The spectrum comes from the model itself when the file has none yet.
    check_pngs(out, ALL_FILES)


def test_existing_figures_need_force(runs, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "spectrum.png").write_bytes(b"keep")
    result = report(runs["digits"], "--out", out)
    assert result.exit_code == 2 and "spectrum.png already exists" in result.output
    assert [p.name for p in out.iterdir()] == ["spectrum.png"]
    assert report(runs["digits"], "--out", out, "--force").exit_code == 0
    check_pngs(out, ALL_FILES)


def test_bad_input(runs, tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # an HDF5 signature, then garbage
    for args in (
        [junk, "--out", tmp_path / "a"],
        [tmp_path / "none.h5", "--out", tmp_path / "b"],
        [runs["digits"], "--out", tmp_path / "c", "-t", "0"],
        [runs["digits"], "--out", junk],
        [tmp_path, "--out", tmp_path / "d"],
    ):
        result = report(*args)
        assert result.exit_code == 2, result.output
        assert result.output.startswith("Error: ") and len(result.output.strip().splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["junk.h5"]
