"""Layering rules: the core never imports a built-in; built-ins use only flowkit's public API."""

from __future__ import annotations

import ast
from pathlib import Path

import flowkit

ROOT = Path(__file__).resolve().parents[1]
#: Public flowkit modules a plugin may import from besides the top-level package.
PUBLIC_SUBMODULES = {"flowkit.testing", "flowkit.hookspecs"}


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def _python_files(folder: str):
    return [p for p in (ROOT / folder).rglob("*.py") if "flowkit-" not in str(p.relative_to(ROOT))]


def test_core_never_imports_builtins():
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _python_files("flowkit")
        for line, module, _ in _imports(path)
        if module.split(".")[0] in {"flowkit_builtins", "plugins"}
    ]
    assert not offenders, offenders


def test_builtins_use_only_the_public_api():
    public = set(flowkit.__all__)
    offenders = []
    for path in _python_files("plugins"):
        for line, module, name in _imports(path):
            if module == "flowkit":
                if name is not None and name not in public:
                    offenders.append(
                        f"{path.relative_to(ROOT)}:{line} uses private flowkit.{name}"
                    )
            elif module.startswith("flowkit.") and module not in PUBLIC_SUBMODULES:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not offenders, offenders


def test_no_assert_outside_tests():
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for folder in ("flowkit", "plugins")
        for path in _python_files(folder)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assert) and "/tests/" not in str(path)
    ]
    assert not offenders, offenders


def test_public_api_names_exist():
    for name in flowkit.__all__:
        assert hasattr(flowkit, name), name
