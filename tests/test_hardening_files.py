"""Hostile and damaged run files: every reader answers one line, exit 2, never a traceback."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowkit.cli import cli
from flowkit.io.runfile import read_run_record
from flowkit.run.config import RunConfig, resolve_pipeline_options
from flowkit.run.runner import start_run
from flowkit.train.options import TrainOptions
from flowkit.train.trainer import Callback

DAMAGED = "damaged flowkit run file"


def flowkit(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_exit_2(result, match=DAMAGED):
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert match in lines[0], lines[0]


class _StopAfterFirstEpoch(Callback):
    def on_epoch_end(self, end):
        raise KeyboardInterrupt


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, registry):
    """A resumable (interrupted) tiny run on 2-D data, its checkpoint after epoch 1."""
    path = tmp_path_factory.mktemp("hardening") / "interrupted.h5"
    options = resolve_pipeline_options(registry, "nice", {"hidden": 8, "depth": 1, "layers": 3})
    config = RunConfig(
        pipeline="nice",
        pipeline_options=options,
        dataset="moons",
        train=TrainOptions(epochs=3, device="cpu"),
        num_samples=2,
    )
    outcome = start_run(
        registry,
        config,
        path,
        callbacks=[_StopAfterFirstEpoch()],
        progress="none",
        checkpoint_seconds=0,
    )
    assert outcome.status == "interrupted"
    return path


def copy(source, tmp_path, name="bad.h5"):
    target = tmp_path / name
    shutil.copy(source, target)
    return target


def edit_config(path, change):
    with h5py.File(path, "a") as f:
        config = json.loads(f.attrs["config"])
        change(config)
        f.attrs["config"] = json.dumps(config)


def test_a_short_adam_moment_is_refused_before_the_optimizer_sees_it(interrupted, tmp_path):
    bad = copy(interrupted, tmp_path)
    with h5py.File(bad, "a") as f:
        group = f["checkpoint/optimizer/0"]
        del group["exp_avg"]
        group["exp_avg"] = np.zeros(7, dtype=np.float32)  # exit 134 (munmap_chunk) before
    one_line_exit_2(flowkit("run", "--resume", bad, "-q"), "exp_avg")


@pytest.mark.parametrize(
    "case",
    ["rng dtype", "rng size", "step", "no checkpoint model", "checkpoint weights", "epoch text"],
)
def test_every_checkpoint_tensor_is_checked(case, interrupted, tmp_path):
    bad = copy(interrupted, tmp_path)
    with h5py.File(bad, "a") as f:
        ckpt = f["checkpoint"]
        if case == "rng dtype":
            values = np.array(ckpt["rng/shuffle"]).astype(np.float64)
            del ckpt["rng/shuffle"]
            ckpt["rng/shuffle"] = values
        elif case == "rng size":
            del ckpt["rng/shuffle"]
            ckpt["rng/shuffle"] = np.zeros(3, dtype=np.uint8)
        elif case == "step":
            del ckpt["optimizer/0/step"]
            ckpt["optimizer/0/step"] = np.float32(np.nan)
        elif case == "no checkpoint model":
            del ckpt["model"]
        elif case == "checkpoint weights":
            name = next(iter(ckpt["model"]))
            del ckpt["model"][name]
            ckpt["model"][name] = np.zeros((3, 3, 3), dtype=np.float32)
        else:
            ckpt.attrs["epoch"] = "one"
    one_line_exit_2(flowkit("run", "--resume", bad, "-q"))
    assert read_run_record(interrupted).status == "interrupted"  # the good copy is untouched


CONFIG_CASES = {
    "config is a list": lambda c: c.clear() or None,
    "train is a list": lambda c: c.update(train=[1, 2]),
    "hidden is text": lambda c: c["pipeline_options"].update(hidden="wide"),
    "unknown coupling option": lambda c: c["pipeline_options"].update(
        coupling_options={"wobble": 1}
    ),
    "lr is text": lambda c: c["train"].update(lr="0.001"),
    "eps is negative": lambda c: c["train"].update(eps=-1),
    "huge seed": lambda c: c["train"].update(seed=10**20),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_hand_edited_configuration_is_one_line(case, runs, tmp_path):
    bad = copy(runs["moons"], tmp_path)
    if case == "config is a list":
        with h5py.File(bad, "a") as f:
            f.attrs["config"] = "[1, 2, 3]"
    else:
        edit_config(bad, CONFIG_CASES[case])
    one_line_exit_2(flowkit("eval", bad))


@pytest.mark.parametrize("text", ["{not json", "[" * 100000 + "]" * 100000])
def test_invalid_or_deeply_nested_json_is_one_line(text, runs, tmp_path):
    bad = copy(runs["moons"], tmp_path)
    with h5py.File(bad, "a") as f:
        f.attrs["config"] = text
    one_line_exit_2(flowkit("eval", bad))


def test_a_huge_event_shape_is_refused_without_allocating(runs, tmp_path):
    for shape in ([10**6, 10**6], [2, 1000]):  # too big; plausible but not the stored weights
        bad = copy(runs["moons"], tmp_path, f"bad{shape[0]}.h5")
        with h5py.File(bad, "a") as f:
            f["dataset"].attrs["event_shape"] = np.asarray(shape)
        one_line_exit_2(flowkit("eval", bad))
        one_line_exit_2(flowkit("sample", bad, "-o", tmp_path / f"s{shape[0]}.npy"))


def test_a_dataset_declaring_terabytes_is_not_read(runs, tmp_path):
    bad = copy(runs["moons"], tmp_path)
    with h5py.File(bad, "a") as f:
        name = next(iter(f["model"]))
        del f["model"][name]
        f["model"].create_dataset(name, shape=(10**7, 10**5), dtype=np.float32, chunks=True)
    one_line_exit_2(flowkit("eval", bad))


# ---- fuzzing --------------------------------------------------------------------------------

ATTRIBUTE_VALUES = st.one_of(
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.just("json:[[[[[[[[[[1]]]]]]]]]]"),
    st.just("json:{"),
    st.lists(st.integers(-5, 10**7), max_size=4).map(np.asarray),
)


def _mutate(path, data):
    """One random damage: an attribute replaced, a dataset's shape or dtype changed, or the file
    truncated."""
    kind = data.draw(st.sampled_from(["attribute", "dataset", "truncate"]))
    if kind == "truncate":
        content = path.read_bytes()
        cut = data.draw(st.integers(0, len(content) - 1))
        path.write_bytes(content[:cut])
        return
    with h5py.File(path, "a") as f:
        names = []
        f.visititems(lambda name, item: names.append(name))
        if kind == "attribute":
            holders = ["/", *names]
            holder = f[data.draw(st.sampled_from(holders))]
            keys = sorted(holder.attrs) or ["extra"]
            holder.attrs[data.draw(st.sampled_from(keys))] = data.draw(ATTRIBUTE_VALUES)
        else:
            datasets = [n for n in names if isinstance(f[n], h5py.Dataset)]
            name = data.draw(st.sampled_from(datasets))
            shape = tuple(data.draw(st.lists(st.integers(0, 9), max_size=3)))
            dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int64, np.uint8, "S4"]))
            del f[name]
            f.create_dataset(name, data=np.zeros(shape, dtype=dtype))


def _commands(path, out):
    return [
        ("eval", path),
        ("sample", path, "-n", 3, "-o", out / "s.npy", "--force"),
        ("report", path, "-o", out / "report", "-n", 8, "--force"),
        ("inpaint", path, "--mask", "top", "-n", 1, "--steps", 2, "-o", out / "i.png", "--force"),
        ("run", "--resume", path, "-q", "--checkpoint-every", 0),
    ]


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_run_files_end_with_exit_0_or_one_line(data, runs, interrupted, tmp_path):
    source = data.draw(st.sampled_from([runs["digits"], interrupted]))
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = copy(source, folder, "fuzz.h5")
    _mutate(path, data)
    command = data.draw(st.sampled_from(_commands(path, folder)))
    result = CliRunner().invoke(cli, [str(a) for a in command])
    lines = result.output.strip().splitlines()
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), (command, result.output, repr(result.exception))
    assert result.exit_code in (0, 1, 2, 130), (command, result.output)
    if result.exit_code == 2:
        errors = [line for line in lines if line.startswith("Error: ")]
        assert len(errors) == 1 and "Traceback" not in result.output, (command, result.output)
