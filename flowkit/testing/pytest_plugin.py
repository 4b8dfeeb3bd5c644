"""flowkit's pytest plugin: the contract kit for a plugin's own test suite.

Installed with flowkit through the ``pytest11`` entry point, so every pytest session in an
environment with flowkit has it (disable with ``pytest -p no:flowkit``). It provides:

- fixtures: ``flowkit_plugin_manager`` and ``flowkit_registry`` (every installed plugin loaded
  once per session) and ``flowkit_check``, which runs every contract check on one class;
- :func:`contract_test`: one line that checks every component a plugin registers::

      from flowkit.testing.pytest_plugin import contract_test

      test_contracts = contract_test("my_package.plugin")

  It is one test per (component, constructor example, check), with ids such as
  ``coupling:rqspline[hidden=16,depth=1,bins=4]:logabsdet``. The plugin may be installed (give
  its module or its entry-point name) or not (give its importable module: it is registered for
  the checks only). :func:`parametrize_contract_checks` is the same as a decorator, for a test
  body of your own.

Everything flowkit is imported lazily: pytest loads this module at start-up in every session.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from flowkit.plugins import FlowkitPluginManager
    from flowkit.registry import Registry
    from flowkit.testing import ComponentCheck


# ---- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def flowkit_plugin_manager() -> FlowkitPluginManager:
    """A plugin manager with every installed ``flowkit`` plugin loaded (honours FLOWKIT_* env)."""
    from flowkit.plugins import get_plugin_manager

    return get_plugin_manager()


@pytest.fixture(scope="session")
def flowkit_registry(flowkit_plugin_manager: FlowkitPluginManager) -> Registry:
    """The registry filled by every installed plugin."""
    from flowkit.registry import Registry

    return Registry.from_plugin_manager(flowkit_plugin_manager)


@pytest.fixture
def flowkit_check(flowkit_registry: Registry) -> Callable[[str, type], None]:
    """``flowkit_check(kind, cls)`` runs every contract check on ``cls``, registered or not."""
    from flowkit.testing import check_component

    def run(kind: str, component: type) -> None:
        check_component(kind, component, flowkit_registry)

    return run


# ---- finding one plugin's components -----------------------------------------------------------


def _resolve(plugin: ModuleType | object | str) -> tuple[Registry, str]:
    """The registry that holds ``plugin``, and the name the plugin is registered under."""
    from flowkit.plugins import BUILTIN_PREFIX, get_plugin_manager
    from flowkit.registry import Registry

    pm = get_plugin_manager()
    if isinstance(plugin, str):
        if pm.has_plugin(plugin):  # an entry-point name (or a FLOWKIT_PLUGINS module name)
            return Registry.from_plugin_manager(pm), plugin
        if pm.has_plugin(BUILTIN_PREFIX + plugin):  # a built-in's name before the prefix
            return Registry.from_plugin_manager(pm), BUILTIN_PREFIX + plugin
        failure = next(
            (f for f in pm.load_failures.values() if plugin in (f.name, f.target)), None
        )
        if failure is not None:
            source = (
                f" from {failure.distribution} {failure.version}" if failure.distribution else ""
            )
            raise LookupError(
                f"flowkit plugin {failure.name!r}{source} is installed but failed to load "
                f"({failure.target}): {failure.error}"
            )
        try:
            plugin = importlib.import_module(plugin)
        except ImportError as err:
            raise LookupError(
                f"{plugin!r} is neither the name of an installed flowkit plugin nor an importable "
                f"module ({err}); installed plugins: {', '.join(sorted(pm.plugin_info)) or 'none'}"
            ) from None
    if not pm.is_registered(plugin):
        # Not installed (or blocked): register it on its own for the checks.
        pm = get_plugin_manager(plugins=[plugin])
    name = pm.get_name(plugin)
    if name is None:
        raise LookupError(f"plugin {plugin!r} could not be registered (is it blocked?)")
    return Registry.from_plugin_manager(pm), name


def plugin_registry(plugin: ModuleType | object | str) -> Registry:
    """A registry of every installed plugin plus ``plugin`` (registered if it is not installed)."""
    return _resolve(plugin)[0]


def plugin_checks(
    plugin: ModuleType | object | str, kinds: Iterable[str] | None = None
) -> list[ComponentCheck]:
    """Every contract check of every component that ``plugin`` registers (and only those).

    :param plugin: a plugin module or object, its importable module name, or the name it is
        installed under (its entry-point name, as ``flowkit plugins`` shows).
    :param kinds: restrict to these component kinds (``coupling``, ``prior``, ...).
    :raises LookupError: the plugin cannot be found, or registers no component.
    """
    from flowkit.testing import checks_for

    registry, name = _resolve(plugin)
    wanted = set(kinds) if kinds is not None else None
    entries = [
        entry
        for entry in registry
        if entry.plugin == name and (wanted is None or entry.kind in wanted)
    ]
    if not entries:
        raise LookupError(
            f"flowkit plugin {name!r} registers no components"
            + (f" of kind {', '.join(sorted(wanted))}" if wanted else "")
            + "; does it implement a flowkit_register_* hook marked with @flowkit.hookimpl?"
        )
    checks: list[ComponentCheck] = []
    for entry in entries:
        checks.extend(checks_for(entry.kind, entry.component, registry))
    return checks


def parametrize_contract_checks(
    plugin: ModuleType | object | str, kinds: Iterable[str] | None = None, argname: str = "check"
) -> Any:
    """``pytest.mark.parametrize`` over :func:`plugin_checks`; each value is a callable check."""
    checks = plugin_checks(plugin, kinds)
    return pytest.mark.parametrize(argname, checks, ids=[check.id for check in checks])


def contract_test(
    plugin: ModuleType | object | str, kinds: Iterable[str] | None = None
) -> Callable[..., None]:
    """A ready-made test function: assign it to a ``test_*`` name in a test module."""

    @parametrize_contract_checks(plugin, kinds)
    def test_contract(check: ComponentCheck) -> None:
        import torch

        with torch.random.fork_rng():  # the checks seed the global RNG; keep the caller's state
            check()

    return test_contract


__all__ = [
    "contract_test",
    "flowkit_check",
    "flowkit_plugin_manager",
    "flowkit_registry",
    "parametrize_contract_checks",
    "plugin_checks",
    "plugin_registry",
]
