"""Meta-tests over the extension surface: every hook is documented and has a test.

As datasette's test_plugin_hooks_are_documented / test_plugin_hooks_have_tests: a new hook in
flowkit/hookspecs.py fails here until docs/plugins.md describes it and tests/test_hooks.py
exercises it (a test named ``test_hook_<hook name>``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from flowkit import hookspecs

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
HOOK_TESTS = ROOT / "tests" / "test_hooks.py"


def hook_names() -> list[str]:
    """Every function of the hookspec module marked as a flowkit hook specification."""
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return sorted(
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, marker)
    )


HOOKS = hook_names()


def test_hookspec_module_has_the_hooks_we_expect():
    # a guard against the marker lookup silently finding nothing
    assert "flowkit_register_couplings" in HOOKS and "flowkit_run_finished" in HOOKS
    assert set(hookspecs.REGISTRATION_HOOKS) <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    guide = GUIDE.read_text(encoding="utf-8")
    assert re.search(rf"^### `{hook}`$", guide, re.MULTILINE), (
        f"docs/plugins.md has no section '### `{hook}`'"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    tree = ast.parse(HOOK_TESTS.read_text(encoding="utf-8"))
    tests = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert f"test_hook_{hook}" in tests, f"tests/test_hooks.py has no test_hook_{hook}"


def test_python_examples_in_the_guide_are_valid_python():
    guide = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", guide, re.DOTALL)
    assert len(blocks) >= 8
    for block in blocks:
        compile(block, "docs/plugins.md", "exec")  # raises SyntaxError with the line
