"""``flowkit new-plugin``: the skeleton installs, is discovered, and passes its own tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowkit.cli import cli

NAME = "fk_skeleton_law"
DIST = "flowkit-fk-skeleton-law"


def new_plugin(*args: str):
    return CliRunner().invoke(cli, ["new-plugin", *args])


def test_skeleton_layout_and_entry_point(tmp_path):
    result = new_plugin(NAME, "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    project = tmp_path / DIST
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == sorted(
        [".gitignore", "README.md", "pyproject.toml", f"{NAME}/__init__.py",
         f"{NAME}/coupling.py", f"{NAME}/plugin.py", f"tests/test_{NAME}.py"]
    )  # fmt: skip
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["project"]["name"] == DIST
    assert meta["project"]["entry-points"]["flowkit"] == {NAME: f"{NAME}.plugin"}
    assert meta["tool"]["setuptools"]["packages"] == [NAME]
    assert "pip install -e" in result.output and str(project) in result.output
    # no staging directory left next to it
    assert [p.name for p in tmp_path.iterdir()] == [DIST]


@pytest.mark.slow
def test_installed_skeleton_is_discovered_and_passes_its_tests(tmp_path):
    assert new_plugin(NAME, "--dir", str(tmp_path)).exit_code == 0
    project, site = tmp_path / DIST, tmp_path / "site"
    # A real install (wheel build + entry-point metadata), into a private directory.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(project)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    script = textwrap.dedent(
        f"""
        import sys, pytest
        from flowkit import CouplingLaw, load_registry
        from flowkit.testing.pytest_plugin import plugin_checks
        registry = load_registry()
        entry = registry.entry("law", "{NAME}")
        assert (entry.plugin, entry.distribution) == ("{NAME}", "{DIST}"), entry
        assert entry.component.__module__ == "{NAME}.coupling"
        assert issubclass(entry.component, CouplingLaw)
        assert registry.coupling_kind("{NAME}") == "law"  # what --coupling {NAME} finds
        print("contract checks:", len(plugin_checks("{NAME}")))
        sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", r"{project / "tests"}"]))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("FLOWKIT_DISABLE_PLUGIN_AUTOLOAD", None)
    # cwd outside the project: the package is imported from the install, not the source tree
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    checks = int(re.search(r"contract checks: (\d+)", run.stdout).group(1))
    # 6 law checks x 2 constructor examples, then the law in every layer type with every
    # conditioner (flat: mlp, image: glow and resnet, autoregressive: made, 7-8 checks each)
    assert checks >= 2 * 6 + 30
    # the contract checks, the 4 pipelines (nice, maf, realnvp, glow) and the training test
    assert f"{checks + 5} passed" in run.stdout, run.stdout[-2000:]


def test_refuses_to_overwrite_without_force(tmp_path):
    assert new_plugin(NAME, "--dir", str(tmp_path)).exit_code == 0
    project = tmp_path / DIST
    coupling = project / NAME / "coupling.py"
    original = coupling.read_text()
    coupling.write_text("# edited\n")
    (project / "notes.txt").write_text("mine")

    refused = new_plugin(NAME, "--dir", str(tmp_path))
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        f"Error: {project} already exists; pass --force to overwrite its generated files"
    ]
    assert coupling.read_text() == "# edited\n"

    forced = new_plugin(NAME, "--dir", str(tmp_path), "--force")
    assert forced.exit_code == 0, forced.output
    assert coupling.read_text() == original
    assert (project / "notes.txt").read_text() == "mine"  # files it did not generate are kept


@pytest.mark.parametrize(
    "name, message",
    [
        ("my-law", "is not a Python identifier (letters, digits and underscores, not start"),
        ("1law", "is not a Python identifier"),
        ("MyLaw", "must be lower case; try 'mylaw'"),
        ("class", "is a Python keyword"),
        ("json", "would shadow the module 'json'"),
        ("torch", "would shadow the module 'torch'"),
        (
            "additive",
            "a coupling named 'additive' is already registered by plugin 'flowkit.couplings'",
        ),
        ("rqspline", "a coupling named 'rqspline' is already registered by plugin 'spline'"),
        ("spline", "a flowkit plugin named 'spline' is already installed"),
    ],
)
def test_bad_names_are_one_line_errors(tmp_path, name, message):
    result = new_plugin(name, "--dir", str(tmp_path))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], lines
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    calls = {"n": 0}
    real_write_text = Path.write_text

    def failing_write_text(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", failing_write_text)
    result = new_plugin(NAME, "--dir", str(tmp_path))
    assert result.exit_code != 0 and isinstance(result.exception, OSError)
    assert list(tmp_path.iterdir()) == []
