"""`flowkit inpaint`: NICE section 5.2 on the test images of a real (tiny) run file."""

from __future__ import annotations

import h5py
import matplotlib.image
import numpy as np
import pytest
from click.testing import CliRunner

from flowkit.apps.inpainting import MASKS
from flowkit.cli import cli


def inpaint(*args):
    return CliRunner().invoke(cli, ["inpaint", *map(str, args)])


def test_writes_the_figure_and_the_arrays(runs, tmp_path):
    out = tmp_path / "fig.png"
    result = inpaint(
        runs["digits"], "--mask", "top", "--out", out, "-n", 6, "--steps", 150, "--device", "cpu"
    )
    assert result.exit_code == 0, result.output
    assert "inpainted 6 test images (mask top, 150 steps)" in result.output
    figure = matplotlib.image.imread(out)
    assert figure.ndim == 3 and figure.shape[1] > figure.shape[0]  # one column per example
    with np.load(tmp_path / "fig.npz", allow_pickle=False) as arrays:
        original, mask = arrays["original"], arrays["mask"]
        initial, inpainted = arrays["initial"], arrays["inpainted"]
        trace = arrays["log_likelihood"]
        assert str(arrays["mask_name"]) == "top"
    assert original.shape == mask.shape == initial.shape == inpainted.shape == (6, 8, 8)
    assert trace.shape == (151, 6)
    assert mask[:, :4].all() and not mask[:, 4:].any()
    # Observed pixels untouched, hidden ones inside the data range, likelihood raised.
    assert np.array_equal(inpainted[~mask], original[~mask])
    assert inpainted.min() >= 0.0 and inpainted.max() <= 1.0
    assert trace[-1].mean() > trace[0].mean()
    # The originals are the run's test images (pixel bin centres of 17 levels).
    assert np.allclose((original * 17 - 0.5), np.round(original * 17 - 0.5), atol=1e-4)


@pytest.mark.parametrize("mask", sorted(MASKS))
def test_every_mask_runs(runs, tmp_path, mask):
    out = tmp_path / "fig.png"
    result = inpaint(runs["digits"], "--mask", mask, "--out", out, "-n", 2, "--steps", 3)
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "fig.npz") as arrays:
        assert arrays["mask"].any() and not arrays["mask"].all()


def test_h5_arrays_and_seeded_random_masks(runs, tmp_path):
    for name in ("a", "b"):
        result = inpaint(
            runs["digits"],
            "--mask",
            "random75",
            "--out",
            tmp_path / f"{name}.png",
            "--arrays",
            tmp_path / f"{name}.h5",
            "-n",
            3,
            "--steps",
            5,
            "--seed",
            4,
        )
        assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "a.h5", "r") as a, h5py.File(tmp_path / "b.h5", "r") as b:
        assert a.attrs["mask_name"] == "random75" and a.attrs["steps"] == 5
        assert (a["mask"][()].reshape(3, -1).sum(axis=1) == 48).all()
        assert np.array_equal(a["inpainted"][()], b["inpainted"][()])
    assert not (tmp_path / "a.npz").exists()


def test_2d_toy_data_is_a_clear_error(runs, tmp_path):
    result = inpaint(runs["moons"], "--mask", "top", "--out", tmp_path / "fig.png")
    assert result.exit_code == 2
    assert "need image data" in result.output and "(2,)" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_existing_outputs_need_force(runs, tmp_path):
    (tmp_path / "fig.npz").write_bytes(b"keep")
    result = inpaint(runs["digits"], "--mask", "left", "--out", tmp_path / "fig.png")
    assert result.exit_code == 2 and "fig.npz already exists" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.npz"]
    assert (tmp_path / "fig.npz").read_bytes() == b"keep"
    result = inpaint(
        runs["digits"],
        "--mask",
        "left",
        "--out",
        tmp_path / "fig.png",
        "--force",
        "-n",
        2,
        "--steps",
        2,
    )
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "fig.npz")["mask"].shape == (2, 8, 8)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mask", "diagonal"], "unknown mask 'diagonal'"),
        (["--mask", "rnadom75"], "did you mean 'random75'"),
        (["--mask", "top", "-n", "0"], "number of examples must be a positive integer"),
        (["--mask", "top", "--steps", "-1"], "'--steps': -1 is not in the range 0<=x<=100000"),
        (["--mask", "top", "-n", "100000"], "the test split has only"),
        (["--mask", "top", "--arrays", "x.txt"], "cannot tell how to write"),
    ],
)
def test_bad_options(runs, tmp_path, args, message):
    result = CliRunner().invoke(
        cli, ["inpaint", str(runs["digits"]), *args, "--out", str(tmp_path / "f.png")]
    )
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_not_a_run_file(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_text("hello")
    result = inpaint(junk, "--mask", "top", "--out", tmp_path / "f.png")
    assert result.exit_code == 2 and result.output.startswith("Error: ")
    assert len(result.output.strip().splitlines()) == 1
