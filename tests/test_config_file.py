"""`flowkit run --config FILE.toml` and `flowkit config RUN.h5` (docs/experiments.md)."""

from __future__ import annotations

import json

import click
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from flowkit.cli import cli
from flowkit.cli.run_cmd import command as run_command
from flowkit.errors import ConfigurationError
from flowkit.run.config import RunConfig
from flowkit.run.config_file import config_to_dict, parse_config, tomllib

TINY = """
pipeline = "nice"
dataset = "moons"
layers = 3
hidden = 8
depth = 1
epochs = 1
batch-size = 128
num_samples = 2
device = "cpu"
"""


def flowkit(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def stored_config(path) -> dict:
    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["config"])


def weights(path) -> dict:
    with h5py.File(path, "r") as f:
        return {k: f["model"][k][()] for k in f["model"]}


def test_file_sets_options_and_flags_override_it(tmp_path):
    config = tmp_path / "mine.toml"
    config.write_text(TINY + "lr = 0.002\n[pipeline_options]\nzero_init = false\n")
    out = tmp_path / "run.h5"
    result = flowkit("run", "--config", config, "--hidden", 6, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    stored = stored_config(out)
    assert stored["pipeline_options"]["hidden"] == 6  # the flag wins
    assert stored["pipeline_options"]["layers"] == 3  # from the file
    assert stored["pipeline_options"]["zero_init"] is False  # from the table
    assert stored["train"]["batch_size"] == 128 and stored["train"]["lr"] == 0.002
    assert stored["dataset"] == "moons" and stored["num_samples"] == 2


def test_flowkit_config_reproduces_the_run_bit_for_bit(tmp_path):
    first = tmp_path / "first.h5"
    result = flowkit(
        "run", "nice", "--dataset", "digits", "--layers", 3, "--hidden", 16, "--depth", 1,
        "--epochs", 1, "--batch-size", 64, "--lr", 0.003, "--seed", 7, "--num-samples", 2,
        "--set", "zero_init=false", "--device", "cpu", "--out", first, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    printed = flowkit("config", first)
    assert printed.exit_code == 0, printed.output
    data = tomllib.loads(printed.stdout)
    assert data["seed"] == 7 and data["hidden"] == 16
    assert data["pipeline_options"]["zero_init"] is False
    (tmp_path / "again.toml").write_text(printed.stdout)
    second = tmp_path / "second.h5"
    result = flowkit("run", "--config", tmp_path / "again.toml", "--out", second, "-q")
    assert result.exit_code == 0, result.output
    assert stored_config(first) == stored_config(second)
    a, b = weights(first), weights(second)
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("layer = 3\n", "unknown key 'layer' (did you mean 'layers'?)"),
        ('layers = "four"\n', "'layers' must be an integer, not string 'four'"),
        ("layers = 2.5\n", "'layers' must be an integer"),
        ("layers = 0\n", "'layers'"),
        ("lr = true\n", "'lr' must be a number"),
        ('coupling = ["additive"]\n', "'coupling' must be a string"),
        ("layers = \n", "TOML syntax error"),
        ("[train]\nwarmup = 3\n", "unknown key [train] 'train.warmup'"),
        ("[train]\ninit_examples = 'many'\n", "'init_examples' must be an integer"),
        ("[pipeline_options]\nzero_unit = false\n", "'pipeline_options.zero_unit'"),
        ("pipeline_options = 3\n", "'pipeline_options' must be a table"),
        ("batch-size = 3\nbatch_size = 4\n", "the same key"),
    ],
)
def test_bad_config_file_is_one_line_naming_file_and_key(tmp_path, text, expected):
    config = tmp_path / "bad.toml"
    config.write_text('pipeline = "nice"\ndataset = "moons"\n' + text)
    out = tmp_path / "run.h5"
    result = flowkit("run", "--config", config, "--epochs", 1, "--out", out)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {config}"), result.stderr
    assert expected in lines[0]
    assert not out.exists()


def test_missing_config_and_config_with_resume(tmp_path):
    result = flowkit("run", "--config", tmp_path / "none.toml")
    assert result.exit_code == 2 and "no such config file" in result.stderr
    result = flowkit("run", "--config", "no-such-recipe")
    assert result.exit_code == 2 and "no such file or recipe" in result.stderr
    config = tmp_path / "c.toml"
    config.write_text(TINY)
    result = flowkit("run", "--resume", tmp_path / "r.h5", "--config", config)
    assert result.exit_code == 2 and "drop --config" in result.stderr


def test_keys_come_from_the_command_parameters():
    """A flag added to `run` (by anyone) is a config key without further work."""
    extended = click.Command(
        "run",
        params=[
            *run_command.params,
            click.Option(["--precision"], type=click.Choice(["fp32", "bf16"])),
            click.Option(["--track"], multiple=True),
        ],
    )
    loaded = parse_config({"precision": "bf16", "track": ["tensorboard=tb"]}, extended, "x.toml")
    assert loaded.values == {"precision": "bf16", "track": ["tensorboard=tb"]}
    with pytest.raises(ConfigurationError, match="x.toml: 'precision'"):
        parse_config({"precision": "fp8"}, extended, "x.toml")
    with pytest.raises(ConfigurationError, match="must be a list"):
        parse_config({"track": "tensorboard"}, extended, "x.toml")


def test_written_config_puts_flags_on_top_and_the_rest_in_tables():
    config = RunConfig(pipeline_options={"layers": 4, "zero_init": True, "coupling_options": {}})
    config.train.init_examples = 50
    data = config_to_dict(config, run_command)
    assert data["layers"] == 4 and data["lr"] == config.train.lr
    assert data["pipeline_options"] == {"zero_init": True, "coupling_options": {}}
    assert data["train"]["init_examples"] == 50
    assert "max_time" not in data  # None: left out (its default)
    loaded = parse_config(data, run_command, "round.toml")
    assert loaded.train["init_examples"] == 50 and loaded.values["layers"] == 4
