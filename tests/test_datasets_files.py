"""The ``file`` dataset: .npy, .npz, .csv and .h5 files written here, and every bad input."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from flowkit import ConfigurationError, DataError
from flowkit.testing import check_component, check_dataset, checks_for

PIXELS = np.random.default_rng(0).integers(0, 200, size=(30, 3, 4), dtype=np.uint8)
POINTS = np.random.default_rng(1).normal(size=(30, 5))


@pytest.fixture
def file_dataset(registry):
    return registry.get("dataset", "file")


def write(tmp_path, kind: str):
    """A small file of each format; returns (path spec, the array it holds)."""
    if kind == "npy":
        np.save(tmp_path / "pixels.npy", PIXELS)
        return str(tmp_path / "pixels.npy"), PIXELS
    if kind == "npz":
        np.savez(tmp_path / "points.npz", points=POINTS)
        return str(tmp_path / "points.npz"), POINTS
    if kind == "csv":
        table = np.round(POINTS, 6)
        np.savetxt(tmp_path / "points.csv", table, delimiter=",", header="a,b,c,d,e", comments="")
        return str(tmp_path / "points.csv"), table
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["group/images"] = PIXELS
        f["labels"] = np.arange(30)
    return f"{tmp_path / 'data.h5'}:group/images", PIXELS


@pytest.mark.parametrize("kind", ["npy", "npz", "csv", "h5"])
def test_each_format_passes_the_contract_kit_and_round_trips(file_dataset, tmp_path, kind):
    spec, array = write(tmp_path, kind)
    check_dataset(lambda **kw: file_dataset(path=spec, **kw))
    dataset = file_dataset(path=spec, seed=0)
    splits = dataset.load()
    everything = np.concatenate([p.numpy() for p in splits])
    assert everything.shape == array.shape
    order = np.lexsort(everything.reshape(len(everything), -1).T)
    expected = array[np.lexsort(array.reshape(len(array), -1).T)]
    np.testing.assert_allclose(everything[order], expected.astype(np.float32), rtol=1e-6)
    assert dataset.event_shape == array.shape[1:]
    assert dataset.info().extra["format"] in ("npy", "npz", "csv", "hdf5")


def test_integer_data_is_quantised_with_inferred_levels(file_dataset, tmp_path):
    spec, _ = write(tmp_path, "npy")
    dataset = file_dataset(path=spec)
    dataset.load()
    assert dataset.levels == int(PIXELS.max()) + 1
    dataset = file_dataset(path=spec, levels=256)
    dataset.load()
    assert dataset.levels == 256
    with pytest.raises(DataError, match="levels=100 but the data reach"):
        file_dataset(path=spec, levels=100).load()


def test_float_data_is_continuous_unless_levels_are_given(file_dataset, tmp_path):
    spec, _ = write(tmp_path, "npz")
    dataset = file_dataset(path=spec)
    dataset.load()
    assert dataset.levels is None
    np.save(tmp_path / "whole.npy", PIXELS.astype(np.float64))
    dataset = file_dataset(path=str(tmp_path / "whole.npy"), levels=256)
    dataset.load()
    assert dataset.levels == 256
    with pytest.raises(DataError, match="not whole numbers"):
        file_dataset(path=spec, levels=4).load()


def test_csv_header_detection_and_integer_csv(file_dataset, tmp_path):
    (tmp_path / "plain.csv").write_text("1,2\n3,4\n0,5\n7,1\n")
    dataset = file_dataset(path=str(tmp_path / "plain.csv"))
    splits = dataset.load()
    assert dataset.levels == 8 and sum(len(p) for p in splits) == 4  # no header row lost
    (tmp_path / "floats.csv").write_text("x,y\n1.0,2\n3,4\n0,5\n7,1\n")
    dataset = file_dataset(path=str(tmp_path / "floats.csv"))
    splits = dataset.load()
    assert dataset.levels is None and sum(len(p) for p in splits) == 4
    (tmp_path / "tabs.csv").write_text("1\t2\n3\t4\n5\t6\n")
    assert file_dataset(path=str(tmp_path / "tabs.csv"), delimiter="\t").load().train.shape[
        1:
    ] == (2,)


def test_npz_and_h5_keys(file_dataset, tmp_path):
    np.savez(tmp_path / "two.npz", x=POINTS, y=PIXELS)
    assert file_dataset(path=str(tmp_path / "two.npz"), key="y").event_shape == (3, 4)
    assert file_dataset(path=f"{tmp_path / 'two.npz'}:x").event_shape == (5,)
    with pytest.raises(DataError, match=r"several arrays \(x, y\).*key=NAME"):
        file_dataset(path=str(tmp_path / "two.npz")).load()
    with pytest.raises(DataError, match="has no array 'z'; it has: x, y"):
        file_dataset(path=str(tmp_path / "two.npz"), key="z").load()
    spec, _ = write(tmp_path, "h5")
    plain = str(tmp_path / "data.h5")
    with pytest.raises(DataError, match=r"data.h5:labels is 1-D"):  # the key picks the dataset
        file_dataset(path=plain, key="labels").load()
    with pytest.raises(DataError, match="has no dataset 'images'; it has: group/images, labels"):
        file_dataset(path=plain, key="images").load()
    with pytest.raises(DataError, match="several datasets"):
        file_dataset(path=plain).load()
    with pytest.raises(DataError, match="is a group"):
        file_dataset(path=plain, key="group").load()
    with pytest.raises(ConfigurationError, match="two keys"):
        file_dataset(path=spec, key="labels")
    dataset = file_dataset(path=spec)
    dataset.load()
    assert dataset.variant.endswith("data.h5:group/images") and dataset.levels == PIXELS.max() + 1


@pytest.mark.parametrize(
    "name, content, message",
    [
        (
            "nan.npy",
            np.array([[1.0, np.nan], [2.0, 3.0], [1.0, 1.0]]),
            "NaN or infinite values in 1 example",
        ),
        ("inf.npy", np.array([[1.0, 2.0], [2.0, np.inf], [1.0, 1.0]]), "the first at row 1"),
        ("flat.npy", np.arange(10.0), r"is 1-D \(shape \(10,\)\).*reshape it to \(10, 1\)"),
        ("empty.npy", np.zeros((0, 3)), "has no rows"),
        ("scalar.npy", np.array(3.0), "single value"),
        ("negative.npy", np.array([[-1, 2], [3, 4], [0, 0]]), "minimum is -1"),
        ("text.npy", np.array([["a", "b"], ["c", "d"], ["e", "f"]]), "not numeric"),
        ("complex.npy", np.ones((3, 2), dtype=complex), "not numeric"),
        ("nan.csv", "1,2\nnan,3\n4,5\n", "NaN or infinite"),
        ("words.csv", "a,b\nc,d\n", "not a numeric CSV"),
        ("ragged.csv", "1,2\n3\n4,5\n", "not a numeric CSV"),
        ("header_only.csv", "a,b\n", "header but no rows"),
        ("blank.csv", "\n\n", "has no rows"),
        ("data.txt", "1,2\n", "unknown file type .txt"),
        ("noext", "1,2\n", r"unknown file type \(no suffix\)"),
        ("broken.h5", "not hdf5", "not a readable HDF5 file"),
        ("broken.npz", "not a zip", "not a valid .npz file"),
        ("broken.npy", "not npy", "not a valid .npy file"),
    ],
)
def test_bad_files_raise_clear_data_errors(file_dataset, tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        np.save(path, content)
    with pytest.raises(DataError, match=message) as err:
        file_dataset(path=str(path)).load()
    assert name in str(err.value)


def test_pickled_objects_are_refused(file_dataset, tmp_path):
    np.save(
        tmp_path / "objects.npy",
        np.array([[{"a": 1}], [None], [3]], dtype=object),
        allow_pickle=True,
    )
    with pytest.raises(DataError, match="Python objects"):
        file_dataset(path=str(tmp_path / "objects.npy")).load()


def test_missing_file_and_bad_options(file_dataset, tmp_path):
    with pytest.raises(DataError, match="no such file"):
        file_dataset(path=str(tmp_path / "absent.npy")).load()
    with pytest.raises(DataError, match="not a file"):
        file_dataset(path=str(tmp_path)).load()
    with pytest.raises(ConfigurationError, match="needs a path"):
        file_dataset()
    with pytest.raises(ConfigurationError, match="applies to .npz and .h5"):
        file_dataset(path="x.csv", key="a")
    with pytest.raises(ConfigurationError, match="levels"):
        file_dataset(path="x.npy", levels=1)
    with pytest.raises(ConfigurationError, match="no option 'size'"):
        file_dataset(path="x.npy", size=3)


def test_dataset_values_that_name_files(file_dataset):
    from flowkit_builtins.datasets import split_spec

    looks_like_path = file_dataset.looks_like_path  # what the CLI reaches through the registry
    assert looks_like_path("data.h5:images") and looks_like_path("x.CSV")
    assert looks_like_path("some/dir/data") and looks_like_path(".")
    assert not looks_like_path("mnist") and not looks_like_path("two-moons")
    assert split_spec("a/b.h5:group/x") == (split_spec("a/b.h5")[0], "group/x")
    assert split_spec("a.csv:x")[1] is None


def test_the_contract_kit_skips_file_with_its_reason(file_dataset):
    checks = list(checks_for("dataset", file_dataset))
    assert [c.check for c in checks] == ["skipped"]
    with pytest.raises(__import__("unittest").SkipTest, match="needs a user's file"):
        checks[0]()
    check_component("dataset", file_dataset)  # the kit's own runner passes over it
