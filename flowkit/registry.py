"""The component registry: every coupling law, permutation, prior, dataset ... by kind and name.

Filled from the registration hooks of :mod:`flowkit.hookspecs`. Each hook implementation is
called on its own, so one plugin's failure is a warning that names it and the rest still load.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from flowkit.errors import PluginConflictError, UnknownComponentError
from flowkit.hookspecs import REGISTRATION_HOOKS
from flowkit.plugins import FlowkitPluginManager, PluginWarning, get_plugin_manager

KINDS: tuple[str, ...] = tuple(REGISTRATION_HOOKS.values())


@dataclass(frozen=True)
class Entry:
    """One registered component."""

    kind: str
    name: str
    component: type
    plugin: str
    distribution: str | None
    version: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "name": self.name,
            "class": f"{self.component.__module__}.{self.component.__qualname__}",
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
        }


class Registry:
    """Components keyed by ``(kind, name)``."""

    def __init__(self, plugin_manager: FlowkitPluginManager | None = None) -> None:
        self.plugin_manager = plugin_manager
        self._entries: dict[tuple[str, str], Entry] = {}

    @classmethod
    def from_plugin_manager(cls, pm: FlowkitPluginManager) -> Registry:
        """Call every registration hook of every plugin and collect the classes."""
        registry = cls(pm)
        for hook_name, kind in REGISTRATION_HOOKS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                try:
                    components = impl.function() or []
                    for component in components:
                        registry.add(kind, component, impl.plugin_name)
                except PluginConflictError:
                    raise
                except Exception as err:
                    warnings.warn(
                        f"flowkit plugin {impl.plugin_name!r} failed in {hook_name} and its "
                        f"{kind} components are skipped: {type(err).__name__}: {err}",
                        PluginWarning,
                        stacklevel=2,
                    )
        return registry

    def add(self, kind: str, component: type, plugin: str = "<direct>") -> None:
        """Register ``component`` (a class with a ``name`` attribute) under ``kind``."""
        if kind not in KINDS:
            raise ValueError(f"unknown component kind {kind!r}; kinds are {', '.join(KINDS)}")
        name = getattr(component, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{component!r} registered as a {kind} has no string `name` attribute")
        existing = self._entries.get((kind, name))
        if existing is not None and existing.component is not component:
            raise PluginConflictError(kind, name, existing.plugin, plugin)
        info = self.plugin_manager.plugin_info.get(plugin) if self.plugin_manager else None
        self._entries[(kind, name)] = Entry(
            kind,
            name,
            component,
            plugin,
            info.distribution if info else None,
            info.version if info else None,
        )

    def get(self, kind: str, name: str) -> type:
        """The class registered as ``name``; an :class:`UnknownComponentError` suggests others."""
        return self.entry(kind, name).component

    def entry(self, kind: str, name: str) -> Entry:
        try:
            return self._entries[(kind, name)]
        except KeyError:
            known = self.names(kind)
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            raise UnknownComponentError(kind, name, known, close) from None

    def names(self, kind: str) -> list[str]:
        return sorted(name for (k, name) in self._entries if k == kind)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda e: (KINDS.index(e.kind), e.name)))

    def __len__(self) -> int:
        return len(self._entries)


def load_registry(
    *, autoload: bool | None = None, blocked: Iterable[str] = (), plugins: Iterable[object] = ()
) -> Registry:
    """Load every installed plugin and return the filled registry (see ``get_plugin_manager``)."""
    pm = get_plugin_manager(autoload=autoload, blocked=blocked, plugins=plugins)
    return Registry.from_plugin_manager(pm)


__all__ = ["KINDS", "Entry", "Registry", "load_registry"]
