"""`flowkit sample`: figures and arrays from a real (tiny) run file."""

from __future__ import annotations

import h5py
import matplotlib.image
import numpy as np
import pytest
from click.testing import CliRunner

from flowkit.cli import cli

RUN_OPTIONS = [
    "--hidden",
    "16",
    "--depth",
    "1",
    "--layers",
    "3",
    "--epochs",
    "2",
    "--num-samples",
    "8",
    "--device",
    "cpu",
    "-q",
]


def make_run(folder, dataset):
    path = folder / f"{dataset}.h5"
    result = CliRunner().invoke(
        cli, ["run", "nice", "--dataset", dataset, *RUN_OPTIONS, "--out", str(path)]
    )
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("run"), "digits")


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("run"), "moons")


def sample(*args):
    return CliRunner().invoke(cli, ["sample", *map(str, args)])


def test_image_data_gives_an_image_grid(digits_run, tmp_path):
    out = tmp_path / "grid.png"
    result = sample(digits_run, "-n", 16, "--temperature", 0.8, "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "wrote 16 samples (temperature 0.8)" in result.output
    image = matplotlib.image.imread(out)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


def test_2d_data_gives_a_scatter_plot(moons_run, tmp_path):
    out = tmp_path / "scatter.png"
    result = sample(moons_run, "-n", 300, "--out", out)
    assert result.exit_code == 0, result.output
    assert matplotlib.image.imread(out).ndim == 3


def test_arrays_by_suffix(digits_run, tmp_path):
    assert sample(digits_run, "-n", 5, "--out", tmp_path / "s.npy", "--seed", 3).exit_code == 0
    samples = np.load(tmp_path / "s.npy", allow_pickle=False)
    assert samples.shape == (5, 8, 8) and np.isfinite(samples).all()

    assert sample(digits_run, "-n", 5, "--out", tmp_path / "s.npz", "--seed", 3).exit_code == 0
    with np.load(tmp_path / "s.npz", allow_pickle=False) as archive:
        assert np.array_equal(archive["samples"], samples)  # same seed, same samples
        assert float(archive["temperature"]) == 1.0

    result = sample(digits_run, "-n", 6, "-t", 0.5, "--out", tmp_path / "s.h5")
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "s.h5", "r") as file:
        assert file["samples"].shape == (6, 8, 8)
        assert file.attrs["temperature"] == 0.5 and file.attrs["n"] == 6
        assert file.attrs["levels"] == 17
        quantized = file["quantized"][()]
        assert quantized.min() >= 0 and quantized.max() <= 16


def test_temperature_scales_the_spread_of_2d_samples(moons_run, tmp_path):
    for t in ("0.25", "1.0"):
        result = sample(moons_run, "-n", 2000, "-t", t, "--out", tmp_path / f"{t}.npy")
        assert result.exit_code == 0, result.output
    cold, warm = (np.load(tmp_path / f"{t}.npy") for t in ("0.25", "1.0"))
    assert cold.shape == (2000, 2)
    assert cold.std() < warm.std()


def test_seed_makes_samples_repeatable(moons_run, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        result = sample(moons_run, "-n", 10, "--seed", seed, "--out", tmp_path / f"{name}.npy")
        assert result.exit_code == 0, result.output
    a, b, c = (np.load(tmp_path / f"{n}.npy") for n in "abc")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "0"], "number of samples must be a positive integer"),
        (["-n", "-3"], "number of samples must be a positive integer"),
        (["--temperature", "0"], "temperature must be > 0"),
        (["--temperature", "-1"], "temperature must be > 0"),
    ],
)
def test_nonsense_numbers_are_one_line_errors(digits_run, tmp_path, args, message):
    result = sample(digits_run, *args, "--out", tmp_path / "x.png")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert message in result.output
    assert not any(tmp_path.iterdir())


def test_existing_output_needs_force(digits_run, tmp_path):
    out = tmp_path / "grid.png"
    out.write_bytes(b"precious")
    result = sample(digits_run, "-n", 4, "--out", out)
    assert result.exit_code == 2 and "already exists; pass --force" in result.output
    assert out.read_bytes() == b"precious"
    assert sample(digits_run, "-n", 4, "--out", out, "--force").exit_code == 0
    assert matplotlib.image.imread(out).ndim == 3


def test_bad_run_files_and_outputs(tmp_path, digits_run):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    for run in (junk, tmp_path / "missing.h5"):
        result = sample(run, "--out", tmp_path / "x.png")
        assert result.exit_code == 2, result.output
        assert result.output.startswith("Error: ") and len(result.output.strip().splitlines()) == 1
    with h5py.File(tmp_path / "other.h5", "w") as file:
        file["x"] = np.zeros(3)
    result = sample(tmp_path / "other.h5", "--out", tmp_path / "x.png")
    assert result.exit_code == 2 and "not a flowkit run file" in result.output
    result = sample(digits_run, "--out", tmp_path / "x.txt")
    assert result.exit_code == 2 and "cannot tell how to write" in result.output
    result = sample(digits_run, "--out", tmp_path / "nowhere" / "x.png")
    assert result.exit_code == 2 and "does not exist" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.h5", "other.h5"]
