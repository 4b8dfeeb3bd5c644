"""Finding and loading plugins: the pluggy plugin-manager factory.

Nothing is loaded at import time. :func:`get_plugin_manager` builds a fresh manager, loads every
module of the ``flowkit`` entry-point group (flowkit's own built-ins included), and records which
distribution provides each plugin. A plugin is identified by its distribution and its
entry-point name: two distributions may use the same entry-point name and both load (each then
under ``DISTRIBUTION:NAME``); nothing is ever silently replaced. A plugin that fails to import is
skipped with a warning, and so is one that implements a hook that does not exist.
"""

from __future__ import annotations

import difflib
import importlib
import os
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

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
#: The distribution of flowkit's built-in plugins; their entry-point names start with
#: :data:`BUILTIN_PREFIX`, which third-party plugins must not use, so the two cannot collide.
BUILTIN_DISTRIBUTION = "flowkit"
BUILTIN_PREFIX = "flowkit."


class PluginWarning(FlowkitWarning):
    """A plugin failed to import or one of its hooks raised; flowkit carries on without it."""


@dataclass(frozen=True)
class PluginInfo:
    """Where a loaded plugin comes from."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    #: The entry-point name as its distribution declares it (``name`` adds the distribution
    #: when two distributions declare the same one); None for explicit plugins.
    entry_point: str | None = None


@dataclass(frozen=True)
class LoadFailure:
    """An installed plugin that could not be imported, and why."""

    name: str
    target: str
    distribution: str | None
    version: str | None
    error: str


class FlowkitPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers each plugin's distribution and version."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.plugin_info: dict[str, PluginInfo] = {}
        #: Installed plugins that failed to import, by plugin name.
        self.load_failures: dict[str, LoadFailure] = {}

    def register_plugin(
        self,
        plugin: object,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
        entry_point: str | None = None,
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
            _warn(f"flowkit plugin {name!r} is invalid and is skipped: {_one_line(err)}")
            return
        module = getattr(plugin, "__name__", type(plugin).__name__)
        self.plugin_info[name] = PluginInfo(name, module, distribution, version, entry_point)


def block_hint(name: str) -> str:
    """How a user blocks plugin ``name``: ``-p no:NAME or FLOWKIT_DISABLE_PLUGINS=NAME``."""
    return f"`flowkit -p no:{name}` (or {DISABLE_ENV}={name})"


def _split_names(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _one_line(err: BaseException | str) -> str:
    return " ".join(str(err).split())


def _warn(message: str) -> None:
    warnings.warn(message, PluginWarning, stacklevel=3)


def get_plugin_manager(
    *,
    autoload: bool | None = None,
    blocked: Iterable[str] = (),
    plugins: Iterable[object | str] = (),
) -> FlowkitPluginManager:
    """Build a plugin manager with every installed ``flowkit`` plugin loaded.

    :param autoload: load entry points (default: yes, unless ``FLOWKIT_DISABLE_PLUGIN_AUTOLOAD``
        is set).
    :param blocked: plugin names not to load; ``FLOWKIT_DISABLE_PLUGINS`` adds more. A name
        blocks the plugin of that name, ``DISTRIBUTION:NAME`` the one of that distribution, and
        a built-in's short name (``whitenings`` for ``flowkit.whitenings``) works too.
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


def call_each(
    pm: pluggy.PluginManager, hook_name: str, *, only: str | None = None, **kwargs: Any
) -> list[tuple[str, Any]]:
    """Call every implementation of ``hook_name`` one plugin at a time.

    One that raises is a :class:`PluginWarning` naming that plugin and the hook, and the others
    are still called (pluggy's own ``pm.hook.NAME(...)`` stops at the first exception). Returns
    ``(plugin name, result)`` for the implementations that returned, in pluggy's call order.
    flowkit calls every hook this way; ``only`` restricts the call to one plugin.
    """
    results: list[tuple[str, Any]] = []
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
        if impl.hookwrapper or getattr(impl, "wrapper", False):
            continue
        if only is not None and impl.plugin_name != only:
            continue
        try:
            result = impl.function(*(kwargs[arg] for arg in impl.argnames))
        except Exception as err:  # a plugin's bug must not stop the others
            _warn(
                f"flowkit plugin {impl.plugin_name!r} failed in {hook_name} and is skipped: "
                f"{type(err).__name__}: {_one_line(err)}"
            )
            continue
        results.append((impl.plugin_name, result))
    return results


def _drop_plugins_with_unknown_hooks(pm: FlowkitPluginManager) -> None:
    """Like ``check_pending``, but a misspelled hook skips that plugin with a warning."""
    known = sorted(name for name, caller in vars(pm.hook).items() if caller.has_spec())
    for hook_name, caller in list(vars(pm.hook).items()):
        if hook_name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook or pm.get_plugin(impl.plugin_name) is None:
                continue
            close = difflib.get_close_matches(hook_name, known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else " (see docs/plugins.md)"
            _warn(
                f"flowkit plugin {impl.plugin_name!r} is skipped: it implements "
                f"{hook_name!r}, which is not a flowkit hook{hint}"
            )
            pm.plugin_info.pop(impl.plugin_name, None)
            pm.unregister(name=impl.plugin_name)


def _is_blocked(pm: FlowkitPluginManager, name: str, distribution: str | None, ep: str) -> bool:
    if pm.is_blocked(name) or pm.is_blocked(ep) or pm.is_blocked(f"{distribution}:{ep}"):
        return True
    # The built-ins' names before they had the prefix (`-p no:whitenings`) still work.
    return (
        distribution == BUILTIN_DISTRIBUTION
        and ep.startswith(BUILTIN_PREFIX)
        and pm.is_blocked(ep[len(BUILTIN_PREFIX) :])
    )


def _load_entry_points(pm: FlowkitPluginManager) -> None:
    # One entry per (distribution, entry-point name): the same distribution can be visible
    # twice (an editable install plus a build dir), two distributions are two plugins.
    found: dict[tuple[str, str], tuple[Any, str | None, str | None]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        dist_name = dist.metadata["Name"] if dist else None
        key = ((dist_name or "").lower().replace("_", "-"), ep.name)
        found.setdefault(key, (ep, dist_name, dist.version if dist else None))
    uses = Counter(ep_name for _, ep_name in found)
    for (_, ep_name), (ep, dist_name, version) in sorted(found.items(), key=lambda i: i[0][::-1]):
        name = ep_name if uses[ep_name] == 1 else f"{dist_name}:{ep_name}"
        if _is_blocked(pm, name, dist_name, ep_name):
            continue
        try:
            plugin = ep.load()
        except Exception as err:  # any import failure of a third-party module
            error = f"{type(err).__name__}: {_one_line(err)}"
            pm.load_failures[name] = LoadFailure(name, ep.value, dist_name, version, error)
            source = f"{dist_name} {version}, " if dist_name else ""
            _warn(
                f"flowkit plugin {name!r} ({source}{ep.value}) failed to load and is skipped: "
                f"{error}"
            )
            continue
        pm.register_plugin(plugin, name, dist_name, version, ep_name)


def _register_explicit(pm: FlowkitPluginManager, plugin: object | str) -> None:
    if isinstance(plugin, str):
        name = plugin
        if pm.is_blocked(name):
            return
        try:
            plugin = importlib.import_module(name)
        except Exception as err:
            _warn(
                f"flowkit plugin {name!r} failed to import and is skipped: "
                f"{type(err).__name__}: {_one_line(err)}"
            )
            return
    else:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
    pm.register_plugin(plugin, name)


__all__ = [
    "BUILTIN_DISTRIBUTION",
    "BUILTIN_PREFIX",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "EXTRA_ENV",
    "NO_AUTOLOAD_ENV",
    "FlowkitPluginManager",
    "LoadFailure",
    "PluginInfo",
    "PluginWarning",
    "block_hint",
    "call_each",
    "get_plugin_manager",
]
