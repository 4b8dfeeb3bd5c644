"""Shared fixtures: a freshly loaded registry and a seeded RNG for every test."""

from __future__ import annotations

import sys

import pytest
import torch
from click.testing import CliRunner

from flowkit import load_registry
from flowkit.cli import cli

#: A tiny NICE run, for the commands that read run files.
RUN_OPTIONS = [
    "--hidden",
    "16",
    "--depth",
    "1",
    "--layers",
    "3",
    "--epochs",
    "3",
    "--num-samples",
    "4",
    "--device",
    "cpu",
    "-q",
]


@pytest.fixture(scope="session")
def registry():
    """The registry of every installed plugin (flowkit's built-ins included)."""
    return load_registry()


@pytest.fixture
def install_dists(tmp_path, monkeypatch):
    """``install_dists("fk_clash", ...)`` installs test plugins of tests/plugin_dists/ as real
    distributions (entry points included) for this test only."""
    from tests.plugin_dists import install

    modules: list[str] = []
    yield lambda *names: modules.extend(install(names, tmp_path / "dists", monkeypatch))
    for name in list(sys.modules):
        if name.split(".")[0] in modules:
            del sys.modules[name]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """Run files of tiny NICE models trained by the real `flowkit run`, on images and 2-D data."""
    folder = tmp_path_factory.mktemp("run")
    paths = {}
    for dataset in ("digits", "moons"):
        paths[dataset] = folder / f"{dataset}.h5"
        result = CliRunner().invoke(
            cli, ["run", "nice", "--dataset", dataset, *RUN_OPTIONS, "--out", str(paths[dataset])]
        )
        assert result.exit_code == 0, result.output
    return paths
