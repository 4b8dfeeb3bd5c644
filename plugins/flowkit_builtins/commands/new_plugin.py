"""``flowkit new-plugin NAME``: write a plugin package that installs and passes its tests at once.

The skeleton is the layout ``docs/plugins.md`` describes: a ``pyproject.toml`` with the
``flowkit`` entry point, a package ``NAME`` with one coupling law (registered as ``NAME``) and a
``plugin`` module holding the hook implementations, and tests that run flowkit's contract kit
over every component the plugin registers plus a short training run of the NICE pipeline.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import sys
from pathlib import Path

import click

from flowkit import ConfigurationError, __version__
from flowkit.io.atomic import temporary_sibling, write_text

# Names that would shadow a module the plugin (or flowkit) imports.
RESERVED = {
    "flowkit", "flowkit_builtins", "torch", "nflows", "pluggy", "click", "numpy", "scipy",
    "h5py", "pytest", "test", "tests", "plugins", "setuptools",
}  # fmt: skip

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "A flowkit plugin: the {name} coupling law"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["flowkit>={flowkit_version}"]

[project.optional-dependencies]
test = ["pytest>=7.4"]

# This entry point makes the package a flowkit plugin: flowkit imports {name}.plugin and calls
# its hook implementations. The name on the left is the plugin's name (`-p no:{name}` blocks it).
[project.entry-points.flowkit]
{name} = "{name}.plugin"

[tool.setuptools]
packages = ["{name}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """\
# {dist}

A [flowkit](https://pypi.org/project/flowkit/) plugin contributing the coupling law `{name}`:
`y2 = x2 * a(x1) + t(x1)` with the scale `a = softplus(u(x1) + c) + min_scale`, which is
positive, never below `min_scale`, and exactly 1 when the conditioner outputs 0.

```bash
pip install -e .                     # installs the plugin: the `flowkit` entry point
flowkit plugins                      # lists: {name}  flowkit-{name}  0.1.0  coupling: {name}
flowkit run nice --coupling {name}
python -m pytest                     # flowkit's contract kit over every component, and more
```

Add components in `{name}/` and return them from the hooks in `{name}/plugin.py`; the contract
tests pick them up automatically. Writing plugins: flowkit's `docs/plugins.md`.
"""

INIT = '''\
"""{dist}: a flowkit plugin."""

__version__ = "0.1.0"
'''

COUPLING = '''\
"""The ``{name}`` coupling law.

A law for NICE's general coupling layer (Dinh et al. 2014, section 3.2):
``y2 = x2 * a + t`` with ``(u, t) = m(x1)`` and ``a = softplus(u + c) + min_scale``: the scale is
positive by construction (so the layer is invertible), at least ``min_scale``, and equal to 1
for ``u = 0``, so a zero-initialised conditioner starts as the identity. ``log|det| = sum log a``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from flowkit import ConfigurationError, CouplingTransform
from torch import Tensor


class {cls}(CouplingTransform):
    """Softplus-scaled affine coupling law (its registry name is ``name`` below).

    :param min_scale: smallest scale, in (0, 1).
    :param kwargs: flowkit's coupling options (``hidden``, ``depth``, ``partition``, ...).
    """

    name = "{name}"
    params_per_dim = 2  # a scale and a shift per transformed dimension
    # Constructor options the contract kit checks (small, so the checks run fast).
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {{"hidden": 16, "depth": 1}},
        {{"hidden": 16, "depth": 2, "partition": "halves", "parity": 1, "min_scale": 0.1}},
    ]

    def __init__(self, features: int, *, min_scale: float = 1e-3, **kwargs: Any) -> None:
        if not 0.0 < min_scale < 1.0:
            raise ConfigurationError(f"min_scale must lie in (0, 1), got {{min_scale!r}}")
        super().__init__(features, **kwargs)
        self.min_scale = float(min_scale)
        self.offset = math.log(math.expm1(1.0 - self.min_scale))  # softplus(offset) + min = 1

    def _scale(self, u: Tensor) -> Tensor:
        return F.softplus(u + self.offset) + self.min_scale

    def _transform(self, x2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        u, shift = self._split_params(params)
        scale = self._scale(u)
        return x2 * scale + shift, torch.log(scale).sum(dim=1)

    def _inverse_transform(self, y2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        u, shift = self._split_params(params)
        scale = self._scale(u)
        return (y2 - shift) / scale, -torch.log(scale).sum(dim=1)
'''

PLUGIN = '''\
"""Hook implementations: the module the ``flowkit`` entry point in pyproject.toml names.

Other hooks (permutations, scalings, whitenings, transforms, priors, datasets, pipelines,
commands, run events) are listed in flowkit's ``flowkit/hookspecs.py`` and ``docs/plugins.md``.
"""

from __future__ import annotations

from flowkit import hookimpl

from {name}.coupling import {cls}


@hookimpl
def flowkit_register_couplings() -> list[type]:
    return [{cls}]
'''

TESTS = '''\
"""The plugin's tests: flowkit's contract kit over every component, and a training run."""

from __future__ import annotations

import torch
from flowkit.testing.pytest_plugin import contract_test, plugin_registry

PLUGIN = "{name}.plugin"
COUPLING = "{name}"

# One test per (component, constructor example, check): invertibility, log-det against the
# autograd Jacobian, batch independence, device/dtype, state_dict round trip, gradients.
test_contracts = contract_test(PLUGIN)


def test_nice_pipeline_with_{name}_learns():
    registry = plugin_registry(PLUGIN)  # installed or not, the plugin is in this registry
    pipeline = registry.get("pipeline", "nice")()
    config = pipeline.resolve(coupling=COUPLING, layers=4, hidden=16, depth=1, prior="gaussian")
    flow = pipeline.build(registry, 4, config)
    torch.manual_seed(0)
    base = torch.randn(256, 4)
    data = torch.cat([base[:, :2], base[:, 2:] + base[:, :2] ** 2], dim=1)  # curved, not Gaussian
    flow.transform.initialize(data)
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-2)
    with torch.no_grad():
        before = flow.log_prob(data).mean().item()
    for _ in range(30):
        optimizer.zero_grad()
        (-flow.log_prob(data).mean()).backward()
        optimizer.step()
    with torch.no_grad():
        after = flow.log_prob(data).mean().item()
    assert after > before
'''

GITIGNORE = "__pycache__/\n*.egg-info/\nbuild/\ndist/\n.pytest_cache/\n"


def check_name(name: str) -> None:
    """Raise a one-line ConfigurationError unless ``name`` can be a plugin package name."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        hint = re.sub(r"\W", "_", name)
        raise ConfigurationError(
            f"plugin name {name!r} is not a Python identifier (letters, digits and underscores, "
            f"not starting with a digit); try {hint!r}"
        )
    if name != name.lower():
        raise ConfigurationError(f"plugin name {name!r} must be lower case; try {name.lower()!r}")
    if keyword.iskeyword(name):
        raise ConfigurationError(f"plugin name {name!r} is a Python keyword")
    if name in RESERVED or name in sys.stdlib_module_names:
        raise ConfigurationError(
            f"plugin name {name!r} would shadow the module {name!r}; choose another name"
        )


def _check_no_clash(name: str) -> None:
    """The coupling and the plugin name must not be taken by another installed plugin."""
    from flowkit.cli import get_registry

    registry = get_registry()
    pm = registry.plugin_manager
    if ("coupling", name) in registry:
        entry = registry.entry("coupling", name)
        if entry.component.__module__.split(".")[0] != name:
            raise ConfigurationError(
                f"a coupling named {name!r} is already registered by plugin {entry.plugin!r}; "
                "choose another name"
            )
    elif pm is not None and pm.has_plugin(name):
        raise ConfigurationError(f"a flowkit plugin named {name!r} is already installed")


def distribution_name(name: str) -> str:
    """``my_law`` -> ``flowkit-my-law`` (the PyPI name, and the project directory's)."""
    dist = name.replace("_", "-").strip("-")
    return dist if dist.startswith("flowkit") else f"flowkit-{dist}"


def render(name: str) -> dict[str, str]:
    """Relative path -> content of every file of the skeleton."""
    dist = distribution_name(name)
    cls = "".join(part.capitalize() for part in name.split("_")) + "Coupling"
    fields = {"name": name, "dist": dist, "cls": cls, "flowkit_version": __version__}
    return {
        "pyproject.toml": PYPROJECT.format(**fields),
        "README.md": README.format(**fields),
        ".gitignore": GITIGNORE,
        f"{name}/__init__.py": INIT.format(**fields),
        f"{name}/coupling.py": COUPLING.format(**fields),
        f"{name}/plugin.py": PLUGIN.format(**fields),
        f"tests/test_{name}.py": TESTS.format(**fields),
    }


def write_project(target: Path, files: dict[str, str], force: bool) -> None:
    """Write ``files`` under ``target`` with no half-written state left behind on failure.

    A new project is written into a temporary sibling directory that is renamed into place; with
    ``force`` each file of an existing project is replaced atomically (other files are kept).
    """
    if target.exists() and not target.is_dir():
        raise ConfigurationError(f"{target} exists and is not a directory")
    if target.exists():
        if not force:
            raise ConfigurationError(
                f"{target} already exists; pass --force to overwrite its generated files"
            )
        for relative, content in files.items():
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text(path, content)  # atomic; keeps the file's permissions
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    # A hidden sibling (same file system, so the rename is atomic); mkdir honours the umask.
    staging = temporary_sibling(target)
    staging.mkdir()
    try:
        for relative, content in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Parent directory; the project is written to DIR/flowkit-NAME.",
)
@click.option("--force", is_flag=True, help="Overwrite the generated files of a project.")
def command(name: str, directory: Path, force: bool) -> None:
    """Write a plugin package NAME: pyproject entry point, one coupling law, its tests."""
    check_name(name)
    _check_no_clash(name)
    files = render(name)
    target = directory / distribution_name(name)
    write_project(target, files, force)
    click.echo(f"Created {target}/ (plugin {name!r}, coupling law {name!r}):")
    for relative in files:
        click.echo(f"  {target / relative}")
    click.echo("Next:")
    click.echo(f"  pip install -e {target}")
    click.echo(f"  flowkit plugins                 # lists the coupling {name!r}")
    click.echo(f"  python -m pytest {target / 'tests'}")


__all__ = ["check_name", "command", "distribution_name", "render", "write_project"]
