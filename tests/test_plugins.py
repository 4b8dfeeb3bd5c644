"""Plugin discovery, failure isolation, name clashes, blocking and listing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from flowkit import PluginConflictError, PluginWarning, UnknownComponentError, load_registry
from flowkit.cli import cli
from tests.plugins import clashing_plugin, raising_plugin

BUILTIN_NAMES = {
    ("law", "additive"),
    ("law", "multiplicative"),
    ("law", "affine"),
    ("conditioner", "mlp"),
    ("conditioner", "glow"),
    ("conditioner", "resnet"),
    ("conditioner", "made"),
    ("permutation", "reverse"),
    ("permutation", "random"),
    ("permutation", "lu"),
    ("scaling", "diagonal"),
    ("scaling", "actnorm"),
    ("whitening", "zca"),
    ("whitening", "pca"),
    ("whitening", "learned"),
    ("prior", "logistic"),
    ("prior", "gaussian"),
    ("pipeline", "nice"),
}


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """Install a fake distribution with a `flowkit` entry point by putting it on sys.path."""

    def install(module_name: str, source: str, entry_name: str | None = None) -> None:
        entry_name = entry_name or module_name
        (tmp_path / f"{module_name}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{module_name}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {module_name}\nVersion: 1.2.3\n"
        )
        (info / "entry_points.txt").write_text(f"[flowkit]\n{entry_name} = {module_name}\n")
        monkeypatch.syspath_prepend(str(tmp_path))

    return install


def test_builtins_are_registered_through_entry_points(registry):
    names = {(entry.kind, entry.name) for entry in registry}
    assert names >= BUILTIN_NAMES
    additive = registry.entry("law", "additive")
    assert additive.distribution == "flowkit" and additive.version
    assert additive.component.__module__.startswith("flowkit_builtins.")


def test_plugins_json_lists_every_builtin():
    result = CliRunner().invoke(cli, ["plugins", "--components", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {(r["kind"], r["name"]) for r in rows} >= BUILTIN_NAMES
    assert all(r["plugin"] and r["version"] for r in rows if r["distribution"] == "flowkit")


def test_plugins_table_has_headers_and_rows():
    result = CliRunner().invoke(cli, ["plugins", "--components"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["kind", "name", "plugin", "version"]
    assert any(line.split()[:2] == ["law", "affine"] for line in lines)
    plugins = CliRunner().invoke(cli, ["plugins"])
    assert plugins.exit_code == 0
    lines = plugins.stdout.splitlines()
    assert lines[0].split() == ["plugin", "distribution", "version", "contributes"]
    assert any(
        line.startswith("flowkit.couplings ") and "law: additive, affine" in line for line in lines
    )


def test_third_party_entry_point_is_discovered(installed_plugin):
    installed_plugin(
        "fk_extra_prior",
        """
        from flowkit import hookimpl
        from flowkit_builtins.priors import GaussianPrior

        class WidePrior(GaussianPrior):
            name = "wide"

        @hookimpl
        def flowkit_register_priors():
            return [WidePrior]
        """,
    )
    entry = load_registry().entry("prior", "wide")
    assert (entry.plugin, entry.distribution, entry.version) == (
        "fk_extra_prior",
        "fk_extra_prior",
        "1.2.3",
    )


def test_plugin_that_fails_to_import_is_a_warning(installed_plugin):
    installed_plugin("fk_broken", "raise ImportError('missing dependency xyz')")
    with pytest.warns(PluginWarning, match="fk_broken.*missing dependency xyz"):
        registry = load_registry()
    assert ("law", "additive") in registry
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    assert "fk_broken" in result.stderr and "missing dependency xyz" in result.stderr
    assert "additive" in result.stdout


def test_plugin_whose_hook_raises_is_a_warning():
    with pytest.warns(PluginWarning, match="raising_plugin.*broken on purpose"):
        registry = load_registry(plugins=[raising_plugin])
    assert registry.names("prior") == ["gaussian", "logistic"]


def test_name_clash_names_both_plugins():
    with pytest.warns(PluginWarning, match="both register the coupling 'additive'"):
        registry = load_registry(plugins=[clashing_plugin])
    with pytest.raises(PluginConflictError) as info:
        registry.get("coupling", "additive")
    message = str(info.value)
    assert "'flowkit.couplings'" in message and "tests.plugins.clashing_plugin" in message
    assert "-p no:tests.plugins.clashing_plugin" in message and "-p no:flowkit" not in message
    assert registry.get("coupling", "affine")  # everything else works


def test_name_clash_in_the_cli_is_one_line_and_blockable():
    result = CliRunner().invoke(cli, ["-p", "tests.plugins.clashing_plugin", "plugins"])
    assert result.exit_code == 0
    assert "both register the coupling 'additive'" in result.stderr
    assert "additive (contested)" in result.stdout
    blocked = CliRunner().invoke(
        cli,
        [
            "-p",
            "tests.plugins.clashing_plugin",
            "-p",
            "no:tests.plugins.clashing_plugin",
            "plugins",
        ],
    )
    assert blocked.exit_code == 0 and "contested" not in blocked.stdout + blocked.stderr


def test_block_builtin_plugin_by_cli_and_environment(monkeypatch):
    result = CliRunner().invoke(cli, ["-p", "no:whitenings", "plugins", "--components", "--json"])
    assert result.exit_code == 0
    kinds = {row["kind"] for row in json.loads(result.stdout)}
    assert "whitening" not in kinds and "law" in kinds
    monkeypatch.setenv("FLOWKIT_DISABLE_PLUGINS", "couplings, priors")
    registry = load_registry()
    assert "additive" not in registry.coupling_names() and registry.names("prior") == []
    assert registry.names("whitening")


def test_autoload_can_be_disabled(monkeypatch):
    monkeypatch.setenv("FLOWKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert len(load_registry()) == 0
    monkeypatch.setenv("FLOWKIT_PLUGINS", "flowkit_builtins.priors")
    assert load_registry().names("prior") == ["gaussian", "logistic"]


def test_unknown_component_suggests_close_names(registry):
    with pytest.raises(UnknownComponentError, match="did you mean 'additive'"):
        registry.get("coupling", "additiv")


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "flowkit", "plugins", "--json"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {"name", "distribution", "version", "components", "commands", "listeners"} <= set(
        rows[0]
    )


def test_misspelled_hook_skips_that_plugin_with_a_warning():
    with pytest.warns(PluginWarning, match="misspelled_plugin.*flowkit_register_coupling"):
        registry = load_registry(plugins=["tests.plugins.misspelled_plugin"])
    assert "additive" in registry.names("law")
    result = CliRunner().invoke(cli, ["-p", "tests.plugins.misspelled_plugin", "plugins"])
    assert result.exit_code == 0 and "misspelled_plugin" in result.stderr


def test_usage_errors_of_every_command_are_one_line():
    for args in (["report", "--bogus"], ["bench", "--repeats", "0"], ["plugins", "--nope"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("Error:") and result.stderr.count("\n") == 1, result.stderr
