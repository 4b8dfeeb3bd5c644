"""Fashion-MNIST: a miniature IDX folder written here, and the full files of Debian's
``dataset-fashion-mnist`` package when it is installed."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from flowkit import DataError
from flowkit.cli import cli
from flowkit.io.runfile import read_run_record
from flowkit.testing import check_dataset
from tests.test_datasets_images import TEST, TRAIN, write_mnist

SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"


@pytest.fixture
def fashion(registry, monkeypatch):
    monkeypatch.delenv("FLOWKIT_FASHION_MNIST_DIR", raising=False)
    return registry.get("dataset", "fashion-mnist")


def test_miniature_folder_loads_with_official_test_split(fashion, tmp_path):
    arrays = write_mnist(tmp_path, n_train=20, n_test=6, gz=True)
    dataset = fashion(data_dir=str(tmp_path))
    splits = dataset.load()
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (18, 2, 6)
    assert (splits.test.numpy() == arrays[TEST]).all()  # the official test images, in order
    info = dataset.info()
    assert info.name == "fashion-mnist" and info.levels == 256 and info.event_shape == (28, 28)
    assert info.extra["title"] == "Fashion-MNIST" and info.extra["source"] == str(tmp_path)
    assert dataset.labels is not None and len(dataset.labels.test) == 6
    assert dataset.describe().startswith("fashion-mnist (full): 26 examples")


def test_miniature_folder_passes_the_dataset_contract(fashion, tmp_path):
    write_mnist(tmp_path, n_train=20, n_test=6)
    check_dataset(lambda **kw: fashion(data_dir=str(tmp_path), **kw))


def test_environment_variable_names_the_folder(fashion, tmp_path, monkeypatch):
    write_mnist(tmp_path, n_train=10, n_test=3)
    monkeypatch.setenv("FLOWKIT_FASHION_MNIST_DIR", str(tmp_path))
    assert len(fashion().load().test) == 3


def test_missing_files_say_how_to_install(fashion, tmp_path):
    write_mnist(tmp_path, n_train=10, n_test=3)
    (tmp_path / TRAIN).unlink()
    with pytest.raises(DataError) as caught:
        fashion(data_dir=str(tmp_path)).load()
    message = str(caught.value)
    assert "\n" not in message
    assert "Fashion-MNIST not found" in message and TRAIN in message and TEST not in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_mnist_options_are_not_fashion_options(fashion, tmp_path):
    with pytest.raises(Exception, match="no option 'variant'"):
        fashion(data_dir=str(tmp_path), variant="full")


def test_cli_records_fashion_mnist_in_the_run_file(tmp_path):
    data = tmp_path / "fm"
    write_mnist(data, n_train=40, n_test=8)
    out = tmp_path / "run.h5"
    result = CliRunner().invoke(
        cli,
        ["run", "nice", "--dataset", "fashion-mnist", "--data-dir", str(data),
         "--layers", "3", "--hidden", "8", "--depth", "1", "--epochs", "1",
         "--num-samples", "0", "--out", str(out), "--progress", "none"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fashion-mnist (full)" in result.output
    record = read_run_record(out)
    assert record.config.dataset == "fashion-mnist"
    assert record.dataset_info.name == "fashion-mnist"
    assert record.dataset_info.extra["title"] == "Fashion-MNIST"


def test_cli_missing_data_is_one_error_line(tmp_path):
    out = tmp_path / "run.h5"
    result = CliRunner().invoke(
        cli, ["run", "nice", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path),
              "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: Fashion-MNIST not found")
    assert not out.exists()


@pytest.mark.skipif(
    not __import__("pathlib").Path(SYSTEM_DIR, TRAIN + ".gz").exists(),
    reason="Debian's dataset-fashion-mnist package is not installed",
)
@pytest.mark.slow
def test_real_files_from_the_debian_package(fashion):
    dataset = fashion()  # found in the package's folder without --data-dir
    splits = dataset.load()
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (54000, 6000, 10000)
    assert tuple(splits.train.shape[1:]) == (28, 28)
    assert float(splits.train.min()) == 0.0 and float(splits.train.max()) == 255.0
    info = dataset.info()
    assert info.extra["source"] == SYSTEM_DIR and info.extra["title"] == "Fashion-MNIST"
    labels = dataset.labels
    assert labels is not None and sorted(set(labels.test.tolist())) == list(range(10))
    # Fashion-MNIST's test set holds 1,000 images of each class
    assert labels.test.bincount().tolist() == [1000] * 10
