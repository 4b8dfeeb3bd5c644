"""Plugins cannot break each other or the built-ins (real distributions from tests/plugin_dists).

Each test installs the few small plugin distributions it needs, for itself only, through the
``install_dists`` fixture: they are found through their ``flowkit`` entry points exactly as a
``pip install``-ed plugin is.
"""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from flowkit import PluginConflictError, PluginWarning, get_plugin_manager, load_registry
from flowkit.cli import cli
from flowkit.plugins import BUILTIN_PREFIX, call_each
from flowkit.testing.pytest_plugin import plugin_checks

TINY = ["--layers", "3", "--hidden", "8", "--depth", "1", "--epochs", "1", "--num-samples", "0",
        "--device", "cpu", "-q"]  # fmt: skip


def run_nice(tmp_path, *args, plugins=()):
    spec = [arg for plugin in plugins for arg in ("-p", plugin)]
    out = tmp_path / "run.h5"
    return CliRunner().invoke(
        cli, [*spec, "run", "nice", "--dataset", "moons", *TINY, "--out", str(out), *args]
    )


def warning_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Warning:")]


# ---- plugin identity: (distribution, entry-point name) -----------------------------------------


def test_builtin_plugin_names_cannot_collide_with_third_party_names():
    pm = get_plugin_manager()
    builtins = [info for info in pm.plugin_info.values() if info.distribution == "flowkit"]
    assert len(builtins) >= 8
    assert all(info.name.startswith(BUILTIN_PREFIX) for info in builtins)


def test_third_party_entry_point_named_like_a_builtin_is_added_not_substituted(
    install_dists, tmp_path
):
    install_dists("fk_third_priors")  # its entry point is called `priors`
    registry = load_registry()
    assert {"logistic", "gaussian", "wide"} <= set(registry.names("prior"))
    assert registry.entry("prior", "wide").distribution == "fk-third-priors"
    assert registry.entry("prior", "logistic").plugin == "flowkit.priors"
    result = run_nice(tmp_path)  # the default prior (logistic) still works
    assert result.exit_code == 0, result.output


def test_two_distributions_with_the_same_plugin_name_both_load(install_dists):
    install_dists("fk_twin_a", "fk_twin_b")
    pm = get_plugin_manager()
    assert {"fk-twin-a:twin", "fk-twin-b:twin"} <= set(pm.plugin_info)
    assert pm.plugin_info["fk-twin-b:twin"].version == "2.0"
    registry = load_registry()
    assert registry.entry("prior", "twin_a").distribution == "fk-twin-a"
    assert registry.entry("prior", "twin_b").distribution == "fk-twin-b"
    # one of them can be blocked by distribution; the plain name blocks both
    one = load_registry(blocked=["fk-twin-a:twin"])
    assert "twin_a" not in one.names("prior") and "twin_b" in one.names("prior")
    both = load_registry(blocked=["twin"])
    assert not {"twin_a", "twin_b"} & set(both.names("prior"))


def test_old_short_names_of_the_builtins_still_block_them(monkeypatch):
    result = CliRunner().invoke(cli, ["-p", "no:whitenings", "plugins", "--json"])
    assert result.exit_code == 0
    names = {row["name"] for row in json.loads(result.stdout)}
    assert "flowkit.whitenings" not in names and "flowkit.couplings" in names
    monkeypatch.setenv("FLOWKIT_DISABLE_PLUGINS", "flowkit.priors")
    assert load_registry().names("prior") == []


# ---- a component-name clash affects only that name ---------------------------------------------


def test_component_name_clash_affects_only_that_name(install_dists, tmp_path):
    install_dists("fk_clash", "fk_options")
    with pytest.warns(PluginWarning, match="'flowkit.couplings' and 'clash' both register"):
        registry = load_registry()
    assert registry.get("prior", "clash_prior")  # the clashing plugin's other component works
    assert registry.get("law", "affine")  # and so do the built-ins
    assert registry.coupling_kind("affine") == "law"
    with pytest.raises(PluginConflictError) as info:
        registry.get("coupling", "additive")
    message = str(info.value)
    assert "-p no:clash" in message and "renames its coupling" in message
    assert "no:flowkit" not in message  # never advise blocking the built-in
    assert plugin_checks("options")  # another plugin's contract tests still collect


def test_component_name_clash_in_the_cli(install_dists, tmp_path):
    install_dists("fk_clash")
    listing = CliRunner().invoke(cli, ["plugins"])
    assert listing.exit_code == 0, listing.output
    (warning,) = [line for line in warning_lines(listing) if "both register" in line]
    assert "'flowkit.couplings'" in warning and "'clash'" in warning
    assert "additive (contested)" in listing.stdout
    assert CliRunner().invoke(cli, ["--help"]).exit_code == 0
    other = run_nice(tmp_path, "--coupling", "affine", "--force")
    assert other.exit_code == 0, other.output
    contested = run_nice(tmp_path, "--coupling", "additive", "--force")
    assert contested.exit_code == 2
    (error,) = [line for line in contested.stderr.splitlines() if line.startswith("Error:")]
    assert "'flowkit.couplings' and 'clash' both register the coupling 'additive'" in error
    assert "-p no:clash" in error
    blocked = run_nice(tmp_path, "--coupling", "additive", "--force", plugins=["no:clash"])
    assert blocked.exit_code == 0, blocked.output


# ---- hooks returning the wrong thing, misspelled hooks -----------------------------------------


def test_hook_returning_something_that_is_not_a_component_class_is_one_warning(install_dists):
    install_dists("fk_bad_returns")
    with pytest.warns(PluginWarning) as caught:
        registry = load_registry()
    messages = [str(w.message) for w in caught if "bad-returns" in str(w.message)]
    assert len(messages) == 3
    for hook, why in (
        ("flowkit_register_couplings", "no `name`"),
        ("flowkit_register_scalings", "the function make_scaling"),
        ("flowkit_register_whitenings", "an instance of GoodPrior"),
    ):
        assert any(hook in m and why in m for m in messages), (hook, messages)
    assert "good_prior" in registry.names("prior")  # its valid hook still counts
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    assert "Traceback" not in result.output
    assert len([line for line in warning_lines(result) if "bad-returns" in line]) == 3
    assert "good_prior" in result.stdout


def test_misspelled_hook_gets_a_did_you_mean(install_dists):
    install_dists("fk_misspelled")
    with pytest.warns(PluginWarning, match="did you mean 'flowkit_register_priors'"):
        pm = get_plugin_manager()
    assert not pm.has_plugin("misspelled")


# ---- non-registration hooks are called one plugin at a time ------------------------------------


def test_a_raising_run_listener_does_not_stop_the_others(install_dists, tmp_path):
    install_dists("fk_listener_ok", "fk_listener_raises")
    result = run_nice(tmp_path)
    assert result.exit_code == 0, result.output
    calls = sys.modules["fk_listener_ok"].CALLS
    assert calls == [(str(tmp_path / "run.h5"), "completed")]
    (warning,) = [line for line in warning_lines(result) if "tracker is down" in line]
    assert "'listener-raises'" in warning and "flowkit_run_finished" in warning


def test_call_each_calls_every_plugin_and_warns_for_the_one_that_raises(install_dists):
    install_dists("fk_listener_ok", "fk_listener_raises")
    pm = get_plugin_manager()
    with pytest.warns(PluginWarning, match="'listener-raises' failed in flowkit_run_finished"):
        results = call_each(
            pm, "flowkit_run_finished", run_file="r.h5", status="failed", results={}
        )
    assert [name for name, _ in results] == ["listener-ok"]
    assert sys.modules["fk_listener_ok"].CALLS == [("r.h5", "failed")]


# ---- flowkit plugins lists what each plugin contributes ----------------------------------------


def test_plugins_lists_what_each_plugin_contributes(install_dists):
    install_dists("fk_contrib", "fk_broken_import")
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    contrib = rows["contrib"]
    assert (contrib["distribution"], contrib["version"], contrib["status"]) == (
        "fk-contrib",
        "0.2",
        "loaded",
    )
    assert contrib["components"] == {"coupling": ["contrib_shift"]}
    assert contrib["commands"] == ["contrib-hello"]
    assert contrib["listeners"] == ["flowkit_run_finished"]
    assert "flowkit_register_commands" in contrib["hooks"]
    assert {"bench", "inpaint", "sample"} <= set(rows["flowkit.commands"]["commands"])
    assert rows["flowkit.priors"]["components"] == {"prior": ["gaussian", "logistic"]}
    broken = rows["broken-import"]
    assert (
        broken["status"] == "failed" and "fk_a_dependency_that_is_not_installed" in broken["error"]
    )
    table = CliRunner().invoke(cli, ["plugins"]).stdout
    (line,) = [line for line in table.splitlines() if line.startswith("contrib ")]
    assert "fk-contrib" in line and "0.2" in line
    assert (
        "coupling: contrib_shift; commands: contrib-hello; listens: flowkit_run_finished" in line
    )


# ---- the contract kit names a plugin that failed to load ---------------------------------------


def test_contract_kit_says_an_installed_plugin_failed_to_load(install_dists):
    install_dists("fk_broken_import")
    for name in ("broken-import", "fk_broken_import"):
        with pytest.raises(LookupError) as info:
            plugin_checks(name)
        message = str(info.value)
        assert "installed but failed to load" in message and "fk-broken-import 0.1" in message
        assert "No module named 'fk_a_dependency_that_is_not_installed'" in message
