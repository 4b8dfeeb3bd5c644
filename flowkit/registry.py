"""The component registry: every coupling law, permutation, prior, dataset ... by kind and name.

Filled from the registration hooks of :mod:`flowkit.hookspecs`. Each hook implementation is
called on its own, so one plugin's failure is a warning that names it and the rest still load.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, overload

import torch

from flowkit.conditioners import Conditioner
from flowkit.coupling import law_coupling_class
from flowkit.datasets import Dataset
from flowkit.errors import PluginConflictError, UnknownComponentError
from flowkit.hookspecs import REGISTRATION_HOOKS
from flowkit.laws import CouplingLaw
from flowkit.plugins import (
    BUILTIN_DISTRIBUTION,
    FlowkitPluginManager,
    PluginWarning,
    block_hint,
    call_each,
    get_plugin_manager,
)
from flowkit.priors import Prior
from flowkit.transforms import Transform

KINDS: tuple[str, ...] = tuple(REGISTRATION_HOOKS.values())


#: Kinds whose classes are torch modules (nflows' transforms and distributions fit too).
MODULE_KINDS = ("coupling", "permutation", "scaling", "whitening", "transform", "prior")


def required_base(kind: str) -> type | None:
    """What a class registered as ``kind`` must subclass: a torch module for transforms and
    priors, :class:`flowkit.Dataset` for datasets; None for the other kinds (a pipeline is
    checked by its ``resolve`` and ``build`` methods: ``flowkit.pipelines`` imports this
    module)."""
    if kind == "law":
        return CouplingLaw
    if kind == "conditioner":
        return Conditioner
    if kind in MODULE_KINDS:
        return torch.nn.Module
    return Dataset if kind == "dataset" else None


def _describe(value: object) -> str:
    if callable(value) and not isinstance(value, type) and hasattr(value, "__qualname__"):
        return f"the function {value.__qualname__}"
    if not isinstance(value, type):
        return f"an instance of {type(value).__qualname__} (return the class, not an instance)"
    return value.__qualname__


def invalid_components(kind: str, value: object) -> str | None:
    """Why a registration hook's return value is not a list of ``kind`` classes (None: it is)."""
    if value is None:
        return None
    if isinstance(value, type) or not isinstance(value, (list, tuple)):
        return f"returned {_describe(value)}, not a list of classes"
    base = required_base(kind)
    for item in value:
        if not isinstance(item, type):
            return f"returned {_describe(item)}, which is not a class"
        if kind == "pipeline" and not all(
            callable(getattr(item, m, None)) for m in ("resolve", "build")
        ):
            return f"returned {item.__qualname__}, which is not a flowkit.Pipeline subclass"
        if base is not None and not issubclass(item, base):
            return f"returned {item.__qualname__}, which is not a {base.__qualname__} subclass"
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            return f"returned {item.__qualname__}, which has no `name` class attribute (a string)"
    return None


#: Kinds that share the names of another: ``--coupling NAME`` names a law or a whole coupling
#: layer, so a law and a coupling of the same name contest it (under the kind ``coupling``).
_SHARED_NAMES = {"law": "coupling"}


def _name_key(kind: str, name: str) -> tuple[str, str]:
    """The key under which a name is contested (shared between ``law`` and ``coupling``)."""
    return (_SHARED_NAMES.get(kind, kind), name)


def _sharing(kind: str, name: str) -> list[tuple[str, str]]:
    """The entry keys that claim the same name as ``(kind, name)``, itself first."""
    shared = _name_key(kind, name)[0]
    others = sorted(k for k in KINDS if k != kind and _name_key(k, name)[0] == shared)
    return [(kind, name), *((k, name) for k in others)]


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
    """Components keyed by ``(kind, name)``.

    A name that two plugins register is *contested*: a warning names both when it happens,
    every other component keeps working, and only looking the contested name up is an error.
    """

    def __init__(self, plugin_manager: FlowkitPluginManager | None = None) -> None:
        self.plugin_manager = plugin_manager
        self._entries: dict[tuple[str, str], Entry] = {}
        self._conflicts: dict[tuple[str, str], list[Entry]] = {}

    @classmethod
    def from_plugin_manager(cls, pm: FlowkitPluginManager) -> Registry:
        """Call every registration hook of every plugin, one at a time, and collect the classes.

        A hook that raises or returns something other than a list of classes of its kind is a
        :class:`PluginWarning` naming the plugin and the hook; that hook's classes are skipped.
        """
        registry = cls(pm)
        for hook_name, kind in REGISTRATION_HOOKS.items():
            for plugin, components in call_each(pm, hook_name):
                problem = invalid_components(kind, components)
                if problem is not None:
                    warnings.warn(
                        f"flowkit plugin {plugin!r}: {hook_name} {problem}; its {kind} "
                        "components are skipped",
                        PluginWarning,
                        stacklevel=2,
                    )
                    continue
                for component in components or []:
                    registry.add(kind, component, plugin)
        return registry

    def add(self, kind: str, component: type, plugin: str = "<direct>") -> None:
        """Register ``component`` (a class with a ``name`` attribute) under ``kind``.

        A second, different class under the same kind and name makes the name contested (a
        :class:`PluginWarning` now, a :class:`PluginConflictError` when it is looked up).
        """
        if kind not in KINDS:
            raise ValueError(f"unknown component kind {kind!r}; kinds are {', '.join(KINDS)}")
        name = getattr(component, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{component!r} registered as a {kind} has no string `name` attribute")
        info = self.plugin_manager.plugin_info.get(plugin) if self.plugin_manager else None
        entry = Entry(
            kind,
            name,
            component,
            plugin,
            info.distribution if info else None,
            info.version if info else None,
        )
        key = _name_key(kind, name)
        contested = self._conflicts.get(key)
        rival = next((k for k in _sharing(kind, name) if k in self._entries), None)
        if contested is not None:
            if all(e.component is not component for e in contested):
                contested.append(entry)
                warnings.warn(str(self._conflict_error(key)), PluginWarning, stacklevel=2)
        elif rival is not None and self._entries[rival].component is not component:
            self._conflicts[key] = [self._entries.pop(rival), entry]
            warnings.warn(str(self._conflict_error(key)), PluginWarning, stacklevel=2)
        else:
            self._entries[(kind, name)] = entry

    def contested(self) -> list[Entry]:
        """Every entry of every contested name (each plugin's claim)."""
        return [entry for key in sorted(self._conflicts) for entry in self._conflicts[key]]

    def _conflict_error(self, key: tuple[str, str]) -> PluginConflictError:
        kind, name = key
        # Built-ins first: they are never the ones to block.
        entries = sorted(
            self._conflicts[key], key=lambda e: e.distribution != BUILTIN_DISTRIBUTION
        )
        third_party = [e.plugin for e in entries if e.distribution != BUILTIN_DISTRIBUTION]
        target = third_party[-1] if third_party else entries[-1].plugin
        who = "the third-party plugin" if len(third_party) < len(entries) else "one of them, e.g."
        advice = (
            f"everything else works, but the {kind} {name!r} cannot be used until you block "
            f"{who} {target!r} with {block_hint(target)} or {target!r} renames its {kind}"
        )
        first, *others = (e.plugin for e in entries)
        return PluginConflictError(kind, name, first, ", ".join(others), advice)

    @overload
    def get(
        self,
        kind: Literal["coupling", "permutation", "scaling", "whitening", "transform"],
        name: str,
    ) -> type[Transform]: ...
    @overload
    def get(self, kind: Literal["prior"], name: str) -> type[Prior]: ...
    @overload
    def get(self, kind: Literal["dataset"], name: str) -> type[Dataset]: ...
    @overload
    def get(self, kind: str, name: str) -> type[Any]: ...

    def get(self, kind: str, name: str) -> type[Any]:
        """The class registered as ``name`` (typed as the kind's base class: a
        :class:`flowkit.Transform`, :class:`flowkit.Prior` or :class:`flowkit.Dataset`
        subclass); an :class:`UnknownComponentError` suggests others.

        ``get("coupling", NAME)`` of a coupling law is a whole flat coupling-layer class for
        it (:func:`flowkit.coupling.law_coupling_class`), as before laws were parts."""
        if kind == "coupling" and ("law", name) in self._entries:
            return law_coupling_class(self._entries[("law", name)].component)
        return self.entry(kind, name).component

    def coupling_kind(self, name: str) -> str:
        """``law`` when ``--coupling NAME`` names a registered coupling law, ``coupling`` when
        it names a whole coupling layer of a plugin written before laws; an unknown name is an
        :class:`UnknownComponentError` that suggests from both."""
        if ("coupling", name) in self._conflicts:
            return "coupling"  # contested: looking it up raises PluginConflictError
        for kind in ("law", "coupling"):
            if (kind, name) in self._entries:
                return kind
        known = sorted({*self.names("law"), *self.names("coupling")})
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        raise UnknownComponentError("coupling", name, known, close)

    def coupling(self, name: str) -> type[Any]:
        """The class ``--coupling NAME`` means: a :class:`flowkit.CouplingLaw` subclass, or a
        whole :class:`flowkit.CouplingTransform` subclass (see :meth:`coupling_kind`)."""
        return self.get(self.coupling_kind(name), name)

    def coupling_names(self) -> list[str]:
        """Every name ``--coupling`` accepts: registered laws and whole coupling layers."""
        return sorted({*self.names("law"), *self.names("coupling")})

    def entry(self, kind: str, name: str) -> Entry:
        """The entry of ``name``; unknown names suggest close ones, contested ones name both
        plugins (:class:`PluginConflictError`)."""
        if _name_key(kind, name) in self._conflicts:
            raise self._conflict_error(_name_key(kind, name))
        try:
            return self._entries[(kind, name)]
        except KeyError:
            # --coupling NAME names a law or a whole coupling layer: suggest from both.
            known = self.coupling_names() if kind == "coupling" else self.names(kind)
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            raise UnknownComponentError(kind, name, known, close) from None

    def names(self, kind: str) -> list[str]:
        """Registered names of ``kind``, contested ones included."""
        keys = [*self._entries, *self._conflicts]
        return sorted(name for (k, name) in keys if k == kind)

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


__all__ = ["KINDS", "Entry", "Registry", "invalid_components", "load_registry", "required_base"]
