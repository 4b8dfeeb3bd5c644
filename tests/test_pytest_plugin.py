"""flowkit's pytest plugin (pytest11 entry point): fixtures and the one-line contract test."""

from __future__ import annotations

import re
import textwrap

import pytest

from flowkit.testing.pytest_plugin import plugin_checks

pytest_plugins = ["pytester"]

# A third-party plugin module as an author would write it: one coupling law, registered by hook.
GOOD_PLUGIN = """
    import torch
    from flowkit import CouplingTransform, hookimpl

    class ShiftedScaleCoupling(CouplingTransform):
        name = "pt_good"
        params_per_dim = 2
        contract_examples = [{"hidden": 8, "depth": 1}]

        def _transform(self, x2, params):
            u, t = self._split_params(params)
            s = torch.tanh(u)
            return x2 * torch.exp(s) + t, s.sum(dim=1)

        def _inverse_transform(self, y2, params):
            u, t = self._split_params(params)
            s = torch.tanh(u)
            return (y2 - t) * torch.exp(-s), -s.sum(dim=1)

    @hookimpl
    def flowkit_register_couplings():
        return [ShiftedScaleCoupling]
"""

# The same law with a classic bug: the log-det forgets the scale.
BROKEN_PLUGIN = GOOD_PLUGIN.replace('"pt_good"', '"pt_broken"').replace(
    "return x2 * torch.exp(s) + t, s.sum(dim=1)", "return x2 * torch.exp(s) + t, 0 * s.sum(dim=1)"
)

ONE_LINE_TEST = """
    from flowkit.testing.pytest_plugin import contract_test

    test_contracts = contract_test("{module}")
"""


def test_fixtures_come_from_the_entry_point(
    flowkit_registry, flowkit_plugin_manager, flowkit_check
):
    assert ("law", "additive") in flowkit_registry
    assert flowkit_plugin_manager.has_plugin("flowkit.couplings")
    assert flowkit_registry.plugin_manager is flowkit_plugin_manager
    flowkit_check("law", flowkit_registry.get("law", "additive"))  # passes: no raise
    flowkit_check("coupling", flowkit_registry.get("coupling", "additive"))  # the flat layer


def test_one_line_checks_every_component_of_the_plugin_and_only_those(pytester):
    pytester.makepyfile(goodplugin=textwrap.dedent(GOOD_PLUGIN))
    pytester.makepyfile(test_good=textwrap.dedent(ONE_LINE_TEST.format(module="goodplugin")))
    result = pytester.runpytest_inprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)  # 7 transform checks + extreme inputs, 1 example
    result.stdout.fnmatch_lines(["*coupling:pt_good?hidden=8,depth=1?:logabsdet? PASSED*"])
    assert "additive" not in result.stdout.str()


def test_a_broken_log_det_fails_the_logabsdet_check_by_name(pytester):
    pytester.makepyfile(brokenplugin=textwrap.dedent(BROKEN_PLUGIN))
    pytester.makepyfile(test_broken=textwrap.dedent(ONE_LINE_TEST.format(module="brokenplugin")))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(["*logabsdet 0 differs from the autograd Jacobian*"])
    # The summary line may or may not carry the error message (it depends on the terminal
    # width), so take the check name from the test id only.
    failed = sorted(
        match.group(1)
        for line in result.stdout.lines
        if line.startswith("FAILED")
        and (match := re.search(r"pt_broken\[hidden=8,depth=1\]:(\w+)\]", line))
    )
    # the wrong log-det is caught by the Jacobian check and by the inverse's log-det check
    assert failed == ["invertibility", "logabsdet"]


def test_parametrize_helper_with_own_body_and_kind_filter(pytester):
    pytester.makepyfile(goodplugin=textwrap.dedent(GOOD_PLUGIN))
    pytester.makepyfile(
        test_own=textwrap.dedent(
            """
            from flowkit.testing.pytest_plugin import parametrize_contract_checks

            @parametrize_contract_checks("goodplugin", kinds=["coupling"], argname="c")
            def test_each(c):
                assert c.kind == "coupling" and c.name == "pt_good"
                c()
            """
        )
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=8)


def test_a_plugin_without_components_is_a_collection_error(pytester):
    pytester.makepyfile(emptyplugin="x = 1\n")
    pytester.makepyfile(test_empty=textwrap.dedent(ONE_LINE_TEST.format(module="emptyplugin")))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*registers no components*"])


def test_without_the_plugin_the_fixtures_are_missing(pytester):
    pytester.makepyfile(test_fix="def test_it(flowkit_registry):\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:flowkit", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*fixture 'flowkit_registry' not found*"])


def test_installed_plugin_by_entry_point_name_or_module():
    by_name = {(c.kind, c.name) for c in plugin_checks("flowkit.couplings")}
    assert {(kind, name) for kind, name in by_name if kind == "law"} == {
        ("law", "additive"),
        ("law", "multiplicative"),
        ("law", "affine"),
    }
    # and each law in every layer type, with every conditioner that fits
    assert ("layer", "affine+glow@conv_coupling") in by_name
    by_module = {(c.kind, c.name) for c in plugin_checks("flowkit_builtins.couplings")}
    assert by_module == by_name


def test_unknown_plugin_is_a_clear_error():
    with pytest.raises(LookupError, match="neither the name of an installed flowkit plugin"):
        plugin_checks("no_such_flowkit_plugin_xyz")
