"""Finding and loading plugins: the pluggy plugin-manager factory.

Nothing is loaded at import time. :func:`get_plugin_manager` builds a fresh manager, loads every
module of the ``flowkit`` entry-point group (flowkit's own built-ins included), and records which
distribution provides each plugin. A plugin that fails to import is skipped with a warning.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points

import pluggy

from flowkit import hookspecs
from flowkit.errors import FlowkitWarning

ENTRY_POINT_GROUP = "flowkit"
#: Comma-separated plugin names that are not loaded (like pytest's ``-p no:NAME``).
DISABLE_ENV = "FLOWKIT_DISABLE_PLUGINS"
#: Comma-separated importable module names registered as extra plugins (like ``PYTEST_PLUGINS``).
EXTRA_ENV = "FLOWKIT_PLUGINS"
#: Set to 1 to skip entry-point discovery entirely (only explicit plugins are loaded).
NO_AUTOLOAD_ENV = "FLOWKIT_DISABLE_PLUGIN_AUTOLOAD"


class PluginWarning(FlowkitWarning):
    """A plugin failed to import or one of its hooks raised; flowkit carries on without it."""


@dataclass(frozen=True)
class PluginInfo:
    """Where a loaded plugin comes from."""

    name: str
    module: str
    distribution: str | None
    version: str | None


class FlowkitPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers each plugin's distribution and version."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.plugin_info: dict[str, PluginInfo] = {}

    def register_plugin(
        self,
        plugin: object,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
    ) -> None:
        """Register ``plugin`` under ``name`` unless that name is blocked or it is already in.

        An installed plugin also named with ``-p MODULE`` or ``FLOWKIT_PLUGINS`` is loaded once,
        under its entry-point name (pluggy refuses one object under two names).
        """
        if self.is_blocked(name) or self.has_plugin(name) or self.is_registered(plugin):
            return
        try:
            self.register(plugin, name=name)
        except pluggy.PluginValidationError as err:
            _warn_invalid(name, err)
            return
        module = getattr(plugin, "__name__", type(plugin).__name__)
        self.plugin_info[name] = PluginInfo(name, module, distribution, version)


def _split_names(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def get_plugin_manager(
    *,
    autoload: bool | None = None,
    blocked: Iterable[str] = (),
    plugins: Iterable[object | str] = (),
) -> FlowkitPluginManager:
    """Build a plugin manager with every installed ``flowkit`` plugin loaded.

    :param autoload: load entry points (default: yes, unless ``FLOWKIT_DISABLE_PLUGIN_AUTOLOAD``
        is set).
    :param blocked: plugin names not to load; ``FLOWKIT_DISABLE_PLUGINS`` adds more.
    :param plugins: extra plugins, as objects or importable module names; ``FLOWKIT_PLUGINS`` adds
        more. Useful in tests and for plugins that are not installed.
    """
    pm = FlowkitPluginManager()
    for name in [*blocked, *_split_names(os.environ.get(DISABLE_ENV))]:
        pm.set_blocked(name)
    if autoload is None:
        autoload = not os.environ.get(NO_AUTOLOAD_ENV)
    if autoload:
        _load_entry_points(pm)
    for plugin in [*plugins, *_split_names(os.environ.get(EXTRA_ENV))]:
        _register_explicit(pm, plugin)
    _drop_plugins_with_unknown_hooks(pm)
    return pm


def _warn_invalid(name: str, err: Exception) -> None:
    warnings.warn(
        f"flowkit plugin {name!r} is invalid and is skipped: {err}", PluginWarning, stacklevel=4
    )


def _drop_plugins_with_unknown_hooks(pm: FlowkitPluginManager) -> None:
    """Like ``check_pending``, but a misspelled hook skips that plugin with a warning."""
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as err:
            name = pm.get_name(err.plugin) or repr(err.plugin)
            _warn_invalid(name, err)
            pm.unregister(err.plugin)
            pm.plugin_info.pop(name, None)


def _load_entry_points(pm: FlowkitPluginManager) -> None:
    seen: set[str] = set()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        # The same distribution can be visible twice (an editable install plus a build dir).
        if ep.name in seen or pm.is_blocked(ep.name):
            continue
        seen.add(ep.name)
        dist = ep.dist
        try:
            plugin = ep.load()
        except Exception as err:  # any import failure of a third-party module
            warnings.warn(
                f"flowkit plugin {ep.name!r} ({ep.value}) failed to load and is skipped: "
                f"{type(err).__name__}: {err}",
                PluginWarning,
                stacklevel=3,
            )
            continue
        pm.register_plugin(
            plugin,
            ep.name,
            dist.metadata["Name"] if dist else None,
            dist.version if dist else None,
        )


def _register_explicit(pm: FlowkitPluginManager, plugin: object | str) -> None:
    if isinstance(plugin, str):
        name = plugin
        if pm.is_blocked(name):
            return
        try:
            plugin = importlib.import_module(name)
        except Exception as err:
            warnings.warn(
                f"flowkit plugin {name!r} failed to import and is skipped: "
                f"{type(err).__name__}: {err}",
                PluginWarning,
                stacklevel=3,
            )
            return
    else:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
    pm.register_plugin(plugin, name)


__all__ = [
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "EXTRA_ENV",
    "NO_AUTOLOAD_ENV",
    "FlowkitPluginManager",
    "PluginInfo",
    "PluginWarning",
    "get_plugin_manager",
]
