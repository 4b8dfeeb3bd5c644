"""Option values of the right type (issue 21, second round): booleans that mean what they say,
a type per option read off its declaration, image data in the range its pipeline models, and
TOML that is refused in one line (nested too deeply, a number for text, a null TOML cannot write).

Every bad input is one ``Error:`` line, exit status 2, and no run file.
"""

from __future__ import annotations

import json
import sys

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from flowkit import ConfigurationError
from flowkit.cli import cli
from flowkit.io.runfile import read_run_record
from flowkit.options import check_options, constructor_parameters, option_types
from flowkit.registry import KINDS
from flowkit.run.config import RunConfig, build_flow, resolve_pipeline_options

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TINY = ["--hidden", "8", "--depth", "1", "--layers", "3", "--epochs", "1", "--threads", "1"]
TINY += ["--device", "cpu", "-q", "--num-samples", "2"]
IMAGE = ["--set", "levels=1", "--set", "steps=1", "--set", "hidden=4", "--epochs", "1"]
IMAGE += ["--threads", "1", "--device", "cpu", "-q", "--num-samples", "2"]


def flowkit(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def refused(result, match: str, folder) -> None:
    """One ``Error:`` line holding ``match``, exit status 2, nothing written in ``folder``."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert match in lines[0], result.output
    assert "Traceback" not in result.output
    assert not list(folder.iterdir()), list(folder.iterdir())


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def data(tmp_path):
    """Small data files of every kind the file dataset reads."""
    folder = tmp_path / "data"
    folder.mkdir()
    rng = np.random.default_rng(0)
    values = rng.normal(size=(120, 2)).astype("float32")
    np.save(folder / "x.npy", values)
    np.savez(folder / "x.npz", a=values)
    np.savetxt(folder / "x.csv", values, delimiter=",")
    return folder


# ---- 1. booleans --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelled, meant",
    [("no", False), ("false", False), (0, False), ("No", False), ("yes", True), (1, True)],
)
def test_a_boolean_option_spelled_as_a_word_means_that_word(registry, spelled, meant):
    options = resolve_pipeline_options(registry, "realnvp", {"actnorm": spelled})
    assert options["actnorm"] is meant
    small = {"levels": 1, "steps": 1, "hidden": 4}

    def parameters(actnorm):
        config = RunConfig(
            pipeline="realnvp",
            pipeline_options=resolve_pipeline_options(registry, "realnvp", {**small, **actnorm}),
        )
        with torch.device("meta"):
            return sum(p.numel() for p in build_flow(registry, config, (1, 4, 4)).parameters())

    assert parameters({"actnorm": spelled}) == parameters({"actnorm": meant})


def test_booleans_spelled_as_words_are_recorded_as_booleans(tmp_path, out):
    toml = tmp_path / "c.toml"
    toml.write_text('[pipeline_options]\nzero_init = "no"\n')
    result = flowkit(
        "run",
        "nice",
        "--dataset",
        "moons",
        *TINY,
        "--config",
        toml,
        "--permutation",
        "lu",
        "--permutation-option",
        "bias=no",
        "--out",
        out / "r.h5",
    )
    assert result.exit_code == 0, result.output
    options = read_run_record(out / "r.h5").config.pipeline_options
    assert options["zero_init"] is False and options["permutation_options"] == {"bias": False}


@pytest.mark.parametrize(
    "args, match",
    [
        (["--set", "zero_init=maybe"], "zero_init must be true or false"),
        (["--set", "zero_init=2"], "zero_init must be true or false"),
        (["--set", "zero_init=99999999999999999999"], "zero_init"),
        (["--set", "zero_init="], "zero_init must be true or false"),
        (["--permutation", "lu", "--permutation-option", "bias=maybe"], "'bias' must be true"),
    ],
)
def test_a_boolean_takes_true_or_false_and_nothing_else(args, match, out):
    refused(
        flowkit("run", "nice", "--dataset", "moons", *TINY, *args, "--out", out / "r.h5"),
        match,
        out,
    )


def test_a_boolean_in_a_config_file_takes_true_or_false(tmp_path, out):
    toml = tmp_path / "c.toml"
    toml.write_text('[pipeline_options]\nzero_init = "maybe"\n')
    result = flowkit(
        "run", "nice", "--dataset", "moons", *TINY, "--config", toml, "--out", out / "r.h5"
    )
    refused(result, "zero_init must be true or false", out)


# ---- 5. option types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dataset, args, match",
    [
        ("x.npy", ["--dataset-option", "path=3"], "'path' must be text"),
        ("x.csv", ["--dataset-option", "delimiter=3"], "'delimiter' must be text"),
        ("x.csv", ["--dataset-option", "delimiter="], "delimiter"),
        ("x.npz", ["--dataset-option", "key=5"], "'key' must be text"),
        ("x.npz", ["--dataset-option", "key=[1]"], "'key' must be text"),
        ("x.npy", ["--dataset-option", "test_fraction=abc"], "'test_fraction' must be a number"),
        ("moons", ["--scaling-option", "min_std=abc"], "'min_std' must be a number"),
        ("moons", ["--whitening", "zca", "--whitening-option", "eps=abc"], "'eps' must be"),
    ],
)
def test_option_values_of_the_wrong_type_are_one_line(data, out, dataset, args, match):
    dataset = dataset if dataset == "moons" else data / dataset
    result = flowkit("run", "nice", "--dataset", dataset, *TINY, *args, "--out", out / "r.h5")
    refused(result, match, out)


def test_a_pipeline_option_of_the_wrong_type_is_one_line(out):
    result = flowkit(
        "run",
        "realnvp",
        "--dataset",
        "digits",
        *IMAGE,
        "--set",
        "logit_alpha=abc",
        "--out",
        out / "r.h5",
    )
    refused(result, "logit_alpha must be a number", out)


def test_every_typed_option_of_every_registered_component_checks_its_type(registry):
    """The rule is generic: the type of each constructor option (its annotation, else its
    default's type), checked where options are checked, for every kind."""
    checked = set()
    for kind in KINDS:
        for name in registry.names(kind):
            cls = registry.coupling(name) if kind == "coupling" else registry.get(kind, name)
            for option, parameter in (constructor_parameters(cls) or {}).items():
                if not option_types(parameter.default, parameter.annotation):
                    continue
                with pytest.raises(ConfigurationError, match=f"'{option}' must be"):
                    check_options(cls, {option: [object()]}, what=f"{kind} {name!r}")
                checked.add(kind)
    assert {"dataset", "prior", "scaling", "permutation", "whitening", "conditioner"} <= checked


# ---- 6. image data outside [0, 1] ---------------------------------------------------------------


@pytest.mark.parametrize("pipeline", ["glow", "realnvp"])
@pytest.mark.parametrize("low, high", [(-1.0, 0.5), (0.0, 1.5), (0.0, 1e30)])
def test_image_data_outside_the_unit_range_is_refused_in_one_line(
    tmp_path, out, pipeline, low, high
):
    images = np.random.default_rng(0).uniform(0, 1, size=(60, 1, 4, 4)).astype("float32")
    images[0, 0, 0, :2] = low, high
    np.save(tmp_path / "images.npy", images)
    result = flowkit(
        "run", pipeline, "--dataset", tmp_path / "images.npy", *IMAGE, "--out", out / "r.h5"
    )
    refused(result, "models values in [0, 1]", out)


def test_eval_on_other_image_data_outside_the_unit_range_is_one_line(tmp_path, out):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "unit.npy", rng.uniform(0, 1, size=(60, 1, 4, 4)).astype("float32"))
    np.save(tmp_path / "wide.npy", rng.normal(size=(60, 1, 4, 4)).astype("float32"))
    run = out / "r.h5"
    result = flowkit("run", "glow", "--dataset", tmp_path / "unit.npy", *IMAGE, "--epochs", 0,
                     "--out", run)  # fmt: skip
    assert result.exit_code == 0, result.output
    run.rename(tmp_path / "r.h5")
    refused(flowkit("eval", tmp_path / "r.h5", "--data", tmp_path / "wide.npy"),
            "models values in [0, 1]", out)  # fmt: skip


def test_integer_pixels_are_scaled_by_their_levels(tmp_path, out):
    pixels = np.random.default_rng(0).integers(0, 256, size=(60, 1, 4, 4)).astype("uint8")
    np.save(tmp_path / "pixels.npy", pixels)
    result = flowkit(
        "run", "realnvp", "--dataset", tmp_path / "pixels.npy", *IMAGE, "--epochs", 0,
        "--out", out / "r.h5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read_run_record(out / "r.h5").dataset_info.levels == 256


# ---- 8. TOML ------------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [40, 5000])
@pytest.mark.parametrize("kind", ["array", "table"])
def test_deeply_nested_toml_is_one_line(tmp_path, out, levels, kind):
    value = (
        "[" * levels + "]" * levels if kind == "array" else "{a = " * levels + "1" + "}" * levels
    )
    toml = tmp_path / "c.toml"
    toml.write_text(f"[pipeline_options]\ncoupling_options = {{x = {value}}}\n")
    result = flowkit(
        "run", "nice", "--dataset", "moons", *TINY, "--config", toml, "--out", out / "r.h5"
    )
    refused(result, "nested more than", out)


def test_deeply_nested_set_value_is_one_line(out):
    result = flowkit(
        "run",
        "nice",
        "--dataset",
        "moons",
        *TINY,
        "--set",
        "coupling_options=" + "[" * 100_000,
        "--out",
        out / "r.h5",
    )
    refused(result, "nested more than", out)


@pytest.mark.parametrize(
    "dataset, table, match",
    [
        ("x.npy", "path = 3", "'path' must be text"),
        ("x.csv", "delimiter = 3", "'delimiter' must be text"),
        ("x.npz", "key = 5", "'key' must be text"),
        ("moons", 'validation_fraction = "x"', "'validation_fraction' must be a number"),
    ],
)
def test_a_number_for_text_in_the_dataset_table_is_one_line(
    tmp_path, data, out, dataset, table, match
):
    toml = tmp_path / "c.toml"
    toml.write_text(f"[dataset_options]\n{table}\n")
    dataset = dataset if dataset == "moons" else data / dataset
    result = flowkit(
        "run", "nice", "--dataset", dataset, *TINY, "--config", toml, "--out", out / "r.h5"
    )
    refused(result, match, out)


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("values") / "moons.h5"
    result = flowkit("run", "nice", "--dataset", "moons", *TINY, "--out", path)
    assert result.exit_code == 0, result.output
    return path


def _edited(source, target, change):
    target.write_bytes(source.read_bytes())
    with h5py.File(target, "r+") as handle:
        config = json.loads(handle.attrs["config"])
        change(config)
        handle.attrs["config"] = json.dumps(config)
    return target


def test_config_of_a_run_whose_list_holds_null_is_one_line(moons_run, tmp_path):
    def change(config):
        config["dataset_options"]["noise"] = [0.1, None]

    result = flowkit("config", _edited(moons_run, tmp_path / "r.h5", change))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "dataset_options.noise" in lines[0] and "null" in lines[0]


def test_config_of_a_run_with_nested_dataset_options_reads_back(moons_run, tmp_path):
    nested = {"a": {"b": [1, {"c": "d"}], "e": {}}, "f": [[1, 2], []]}

    def change(config):
        config["dataset_options"]["extra"] = nested

    result = flowkit("config", _edited(moons_run, tmp_path / "r.h5", change))
    assert result.exit_code == 0, result.output
    assert tomllib.loads(result.output)["dataset_options"]["extra"] == nested
