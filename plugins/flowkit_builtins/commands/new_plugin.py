"""``flowkit new-plugin NAME``: write a plugin package that installs and passes its tests at once.

The skeleton is the layout ``docs/plugins.md`` describes: a ``pyproject.toml`` with the
``flowkit`` entry point, a package ``NAME`` with one coupling law (a :class:`flowkit.CouplingLaw`
registered as ``NAME`` with ``flowkit_register_coupling_laws``, so it drives every pipeline) and
a ``plugin`` module holding the hook implementations, and tests that run flowkit's contract kit
over every component the plugin registers (the law alone and in every layer type), build every
built-in pipeline with the law and train a NICE model for a few steps.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import sys
from pathlib import Path

import click

from flowkit import ConfigurationError, PluginConflictError, __version__
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
`y = x * a + t` for every transformed value, with the scale `a = softplus(u + c) + min_scale`
and `(u, t)` computed by the layer's conditioner. The scale is positive, never below
`min_scale` (option, default 0.001), and exactly 1 when the conditioner outputs 0.

A coupling law is only the map `g`: every layer type of flowkit drives it, so it works in every
pipeline, with every conditioner of the layer's type.

```bash
pip install -e .                     # installs the plugin: the `flowkit` entry point
flowkit plugins                      # lists: {name}  flowkit-{name}  0.1.0  law: {name}
flowkit run nice --coupling {name} --coupling-option min_scale=0.01
flowkit run maf --coupling {name}
flowkit run glow --coupling {name} --dataset digits
flowkit run realnvp --coupling {name} --dataset digits --set conditioner=glow
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

A law ``g`` for NICE's general coupling layer ``y2 = g(x2; m(x1))`` (Dinh et al. 2014,
section 3.2): ``y = x * a + t`` for every transformed value, with ``(u, t)`` its two parameters
from the conditioner ``m`` and ``a = softplus(u + c) + min_scale``. The scale is positive by
construction (so ``g`` is invertible), at least ``min_scale``, and equal to 1 for ``u = 0``, so a
zero-initialised conditioner starts the layer as the identity. ``log|dy/dx| = log a``.

flowkit's layer types (flat couplings, image couplings, autoregressive layers) split the input,
run the conditioner and hand this law the parameters of each value: the law only maps values.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from flowkit import ConfigurationError, CouplingLaw
from torch import Tensor


class {cls}(CouplingLaw):
    """Softplus-scaled affine coupling law (its registry name is ``name`` below).

    :param min_scale: smallest scale, in (0, 1).
    """

    name = "{name}"
    params_per_value = 2  # params[..., 0] is u (the scale), params[..., 1] the shift t
    # Constructor options the contract kit checks; the first is also checked in every layer.
    contract_examples: ClassVar[list[dict[str, Any]]] = [{{}}, {{"min_scale": 0.1}}]

    def __init__(self, *, min_scale: float = 1e-3) -> None:
        if isinstance(min_scale, bool) or not isinstance(min_scale, (int, float)):
            raise ConfigurationError(f"min_scale must be a number, got {{min_scale!r}}")
        if not 0.0 < min_scale < 1.0:
            raise ConfigurationError(f"min_scale must lie in (0, 1), got {{min_scale!r}}")
        super().__init__()
        self.min_scale = float(min_scale)
        self.offset = math.log(math.expm1(1.0 - self.min_scale))  # softplus(offset) + min = 1

    def _scale(self, u: Tensor) -> Tensor:
        return F.softplus(u + self.offset) + self.min_scale

    def forward(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        scale = self._scale(params[..., 0])
        return inputs * scale + params[..., 1], torch.log(scale)

    def inverse(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        scale = self._scale(params[..., 0])
        return (inputs - params[..., 1]) / scale, -torch.log(scale)

    def extra_repr(self) -> str:
        return f"{{super().extra_repr()}}, min_scale={{self.min_scale}}"
'''

PLUGIN = '''\
"""Hook implementations: the module the ``flowkit`` entry point in pyproject.toml names.

Other hooks (conditioners, permutations, scalings, whitenings, transforms, priors, datasets,
pipelines, commands, run events) are listed in flowkit's ``flowkit/hookspecs.py`` and
``docs/plugins.md``.
"""

from __future__ import annotations

from flowkit import hookimpl

from {name}.coupling import {cls}


@hookimpl
def flowkit_register_coupling_laws() -> list[type]:
    return [{cls}]
'''

TESTS = '''\
"""The plugin's tests: flowkit's contract kit over every component, every pipeline, training."""

from __future__ import annotations

import math

import pytest
import torch
from flowkit.testing.pytest_plugin import contract_test, plugin_registry

from {name}.coupling import {cls}

PLUGIN = "{name}.plugin"
COUPLING = "{name}"

# One test per (component, constructor example, check): the law alone (invertibility, its
# log-derivative against autograd, monotonicity, identity at zero, dtypes, extreme parameters),
# then the law inside every layer type (flat, image, autoregressive) with every registered
# conditioner: invertibility, log-det against the Jacobian, batch independence, device/dtype,
# state_dict round trip, gradients.
test_contracts = contract_test(PLUGIN)

# Every built-in pipeline at a tiny size, with the event shape of the data it models.
PIPELINES = {{
    "nice": ((4,), {{"layers": 4, "hidden": 8, "depth": 1}}),
    "maf": ((4,), {{"layers": 2, "hidden": 8, "depth": 1}}),
    "realnvp": ((1, 4, 4), {{"levels": 1, "steps": 1, "hidden": 4}}),
    "glow": ((1, 4, 4), {{"levels": 1, "steps": 1, "hidden": 4}}),
}}


@pytest.mark.parametrize("name", list(PIPELINES))
def test_every_pipeline_builds_with_{name}(name):
    registry = plugin_registry(PLUGIN)  # installed or not, the plugin is in this registry
    pipeline = registry.get("pipeline", name)()
    shape, options = PIPELINES[name]
    config = pipeline.resolve(coupling=COUPLING, coupling_options={{"min_scale": 0.01}}, **options)
    flow = pipeline.build_for(registry, shape, config)
    laws = [module for module in flow.modules() if isinstance(module, {cls})]
    assert laws and all(law.min_scale == 0.01 for law in laws)
    data = torch.rand(16, math.prod(shape))  # in (0, 1): image pipelines take pixels
    flow.transform.initialize(data)
    with torch.no_grad():
        log_prob, samples = flow.log_prob(data), flow.sample(4)
    assert log_prob.shape == (16,) and torch.isfinite(log_prob).all()
    assert samples.shape == (4, data.shape[1]) and torch.isfinite(samples).all()


def test_nice_pipeline_with_{name}_learns():
    registry = plugin_registry(PLUGIN)
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
    """The coupling name (``--coupling NAME``: a law, or a whole coupling layer of an older
    plugin) and the plugin name must not be taken by another installed plugin."""
    from flowkit.cli import get_registry

    registry = get_registry()
    pm = registry.plugin_manager
    if name in registry.coupling_names():
        try:
            entry = registry.entry(registry.coupling_kind(name), name)
        except PluginConflictError:
            raise ConfigurationError(
                f"a coupling named {name!r} is already registered by several plugins; "
                "choose another name"
            ) from None
        if entry.component.__module__.split(".")[0] != name:  # not this skeleton, installed
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
    cls = "".join(part.capitalize() for part in name.split("_")) + "Law"
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
    """Write a plugin package NAME: pyproject entry point, one coupling law, its tests.

    The law is a flowkit.CouplingLaw registered with flowkit_register_coupling_laws, so it
    works in every pipeline (nice, maf, realnvp, glow) with every conditioner."""
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
    click.echo(f"  flowkit plugins                 # lists the law {name!r}")
    click.echo(f"  python -m pytest {target / 'tests'}")
    click.echo(f"  flowkit run nice --coupling {name}  # or maf, realnvp, glow (image data)")


__all__ = ["check_name", "command", "distribution_name", "render", "write_project"]
