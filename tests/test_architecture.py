"""The layout rules of docs/architecture.md, enforced on the source tree.

- flowkit's layers import only downwards (the table ``ALLOWED``), every import counted:
  module level, inside functions and under ``TYPE_CHECKING``;
- no import cycle between modules;
- no module over 400 lines;
- the core never imports a built-in plugin; built-in components (and the example third-party
  plugin) use only flowkit's public API; built-in commands may also use the application layers.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

import flowkit

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400

#: Layer of each flowkit module, by its dotted name's first two parts.
LAYERS = {
    "flowkit.testing": "testing",
    "flowkit.train": "train",
    "flowkit.io": "io",
    "flowkit.run": "run",
    "flowkit.bench": "bench",
    "flowkit.apps": "apps",
    "flowkit.cli": "cli",
    "flowkit.__main__": "cli",
}
#: Which layers each layer may import ("core" is flowkit's top-level modules).
ALLOWED = {
    "core": {"core"},
    "testing": {"core", "testing"},
    "train": {"core", "train"},
    "io": {"core", "train", "io"},
    "run": {"core", "train", "io", "run"},
    "apps": {"core", "train", "io", "run", "apps"},
    "bench": {"core", "train", "io", "run", "apps", "bench"},
    "cli": {"core", "train", "io", "run", "cli", "testing"},
}
#: The one sanctioned edge against the layering: a run file stores (and rebuilds from) a run's
#: configuration, so io may import ``flowkit.run.config``, a leaf module of plain data.
CONFIG_MODULE = "flowkit.run.config"
#: What built-in components and third-party plugins may import from flowkit.
COMPONENT_API = {
    "flowkit",
    "flowkit.testing",
    "flowkit.testing.pytest_plugin",
    "flowkit.hookspecs",
}
#: Built-in commands are applications on top of flowkit: they may use these layers too.
COMMAND_API = COMPONENT_API | {
    "flowkit.cli",
    "flowkit.cli.outputs",
    "flowkit.io",
    "flowkit.run",
    "flowkit.train",
    "flowkit.bench",
    "flowkit.apps",
}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import in ``path``, relative ones resolved."""
    package = _module_name(path, path.parents[len(_package_parts(path)) - 1])
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append((node.lineno, base))
            # ``from package import module`` imports that module too
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _package_parts(path: Path) -> list[str]:
    parts = []
    folder = path.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    return parts


def _modules(folder: Path) -> dict[str, Path]:
    modules = {}
    for path in sorted(folder.rglob("*.py")):
        parts = _package_parts(path)
        if parts:
            modules[_module_name(path, path.parents[len(parts)])] = path
    return modules


FLOWKIT = _modules(ROOT / "flowkit")
BUILTINS = _modules(ROOT / "plugins" / "flowkit_builtins")
SPLINE = _modules(ROOT / "plugins" / "flowkit-spline" / "flowkit_spline")


def _layer(module: str) -> str:
    return LAYERS.get(".".join(module.split(".")[:2]), "core")


def _known(module: str, modules: dict[str, Path]) -> str | None:
    """The module of ``modules`` that an import of ``module`` loads (itself or a parent)."""
    while module and module not in modules:
        module = module.rpartition(".")[0]
    return module or None


def test_flowkit_layers_import_only_downwards():
    offenders = []
    for name, path in FLOWKIT.items():
        for line, imported in _imports(path):
            target = _known(imported, FLOWKIT)
            if target is None or target == "flowkit":
                continue
            if target == CONFIG_MODULE and _layer(name) == "io":
                continue
            if _layer(target) not in ALLOWED[_layer(name)]:
                offenders.append(f"{path.relative_to(ROOT)}:{line} ({_layer(name)}) -> {target}")
    assert not offenders, "\n".join(offenders)


def test_the_top_level_package_imports_only_the_core():
    for line, imported in _imports(FLOWKIT["flowkit"]):
        target = _known(imported, FLOWKIT)
        assert target is None or _layer(target) == "core", f"flowkit/__init__.py:{line} {target}"


@pytest.mark.parametrize(
    "modules", [FLOWKIT, BUILTINS, SPLINE], ids=["flowkit", "builtins", "flowkit-spline"]
)
def test_no_import_cycles(modules):
    graph = {
        name: {
            target
            for _, imported in _imports(path)
            if (target := _known(imported, modules)) not in (None, name)
            # a package's __init__ importing its own submodules is not a cycle through it
            and not (path.name == "__init__.py" and target.startswith(name + "."))
            and not name.startswith(target + ".")
        }
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            pytest.fail("import cycle: " + " -> ".join([*stack[stack.index(node) :], node]))
        if node in done:
            return
        for target in sorted(graph[node]):
            visit(target, [*stack, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])


@pytest.mark.parametrize(
    "path",
    sorted(set(FLOWKIT.values()) | set(BUILTINS.values()) | set(SPLINE.values())),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_module_over_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


def test_core_never_imports_builtins():
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in FLOWKIT.values()
        for line, module in _imports(path)
        if module.split(".")[0] in {"flowkit_builtins", "flowkit_spline", "plugins"}
    ]
    assert not offenders, offenders


def _private_uses(modules: dict[str, Path], is_command) -> list[str]:
    public = set(flowkit.__all__)
    offenders = []
    for name, path in modules.items():
        allowed = COMMAND_API if is_command(name) else COMPONENT_API
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [alias.name for alias in node.names]
                module = node.module
            elif isinstance(node, ast.Import):
                names, module = [], None
                for alias in node.names:
                    if alias.name.startswith("flowkit.") and alias.name not in allowed:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}")
                continue
            else:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if module == "flowkit":
                offenders += [f"{where} private flowkit.{n}" for n in names if n not in public]
            elif module.split(".")[0] == "flowkit":
                top = ".".join(module.split(".")[:2])
                if module not in allowed and top not in allowed:
                    offenders.append(f"{where} imports {module}")
    return offenders


def test_builtin_components_use_only_the_public_api():
    offenders = _private_uses(BUILTINS, lambda name: name.startswith("flowkit_builtins.commands"))
    assert not offenders, "\n".join(offenders)


def test_the_example_third_party_plugin_uses_only_the_public_api():
    offenders = _private_uses(SPLINE, lambda name: False)
    assert not offenders, "\n".join(offenders)


def test_the_config_module_stays_a_leaf():
    # What makes the io -> run.config exception safe: run.config imports no io or run module.
    for line, imported in _imports(FLOWKIT[CONFIG_MODULE]):
        target = _known(imported, FLOWKIT)
        assert target is None or _layer(target) in {"core", "train"}, f"line {line}: {target}"


def test_no_assert_outside_tests():
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in [*FLOWKIT.values(), *BUILTINS.values(), *SPLINE.values()]
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assert)
    ]
    assert not offenders, offenders


def test_public_api_names_exist():
    for name in flowkit.__all__:
        assert hasattr(flowkit, name), name


def test_every_package_folder_is_in_the_wheel_by_construction():
    # setuptools finds packages under "." and "plugins"; a folder with .py files but no
    # __init__.py would silently be left out of the wheel.
    for root in (ROOT / "flowkit", ROOT / "plugins" / "flowkit_builtins"):
        for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
            if folder.name == "__pycache__" or not any(folder.glob("*.py")):
                continue
            assert (folder / "__init__.py").exists(), f"{folder.relative_to(ROOT)} has no __init__"
