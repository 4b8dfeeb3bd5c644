"""Constructor options of components: what a class accepts, checked before it is built.

Every component is built as ``cls(<arguments its pipeline passes>, **options)``; the options
come from the command line (``--prior-option scale=2``, ``--dataset-option size=500``), from a
config file or from Python, and are recorded in the run file so that ``eval``, ``sample``,
``inpaint`` and ``--resume`` build the same component again. :func:`constructor_options` reads
what a class accepts from its ``__init__`` signature, following ``**kwargs`` into its base
classes; :func:`check_options` rejects unknown names in one line that lists the known ones, and
:func:`resolve_options` adds the defaults of the ones not given, for the record.
"""

from __future__ import annotations

import difflib
import inspect
import json
from collections.abc import Iterable, Mapping
from typing import Any

from flowkit.errors import ConfigurationError

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def constructor_options(
    cls: type, *, reserved: Iterable[str] = (), last: type | None = None
) -> dict[str, Any] | None:
    """``{name: default}`` of every keyword argument ``cls(...)`` accepts (``inspect.Parameter
    .empty`` for required ones), minus ``reserved`` (what the caller passes itself).

    A constructor that takes ``**kwargs`` is followed into the next ``__init__`` of the MRO (the
    base class it passes them to), up to torch's ``Module`` and ``object``, which take none,
    or up to ``last`` included, whose own ``**kwargs`` are not followed. None when a signature
    cannot be read (then nothing can be checked).
    """
    skip = set(reserved)
    found: dict[str, Any] = {}
    for klass in cls.__mro__:
        if (
            klass is object
            or f"{klass.__module__}.{klass.__qualname__}" == "torch.nn.modules.module.Module"
        ):
            break
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            parameters = list(inspect.signature(init).parameters.values())[1:]  # minus self
        except (TypeError, ValueError):
            return None
        for parameter in parameters:
            if parameter.kind in _NAMED and parameter.name not in skip:
                found.setdefault(parameter.name, parameter.default)
        if klass is last or not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            break
    return found


def accepted_options(
    cls: type, offered: Mapping[str, Any], given: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The keyword options to build ``cls`` with: those of ``offered`` (what a pipeline sets
    for any component of a kind, e.g. its ``hidden`` width for every conditioner, or its
    ``scale_bound`` for every law) that ``cls`` accepts, updated with ``given`` (the user's
    options, passed on as they are, so that an unknown one is still an error)."""
    known = constructor_options(cls)  # follows **kwargs into the base classes
    accepted = {k: v for k, v in offered.items() if known is None or k in known}
    return {**accepted, **dict(given or {})}


def check_options(
    cls: type,
    options: Mapping[str, Any],
    *,
    what: str,
    reserved: Mapping[str, str] | Iterable[str] = (),
    last: type | None = None,
) -> None:
    """Raise :class:`ConfigurationError` for an option ``cls`` does not take.

    :param what: how the component is named in the message, e.g. ``"prior 'laplace'"``.
    :param reserved: arguments the caller passes itself; a mapping may say how the user sets
        each instead (``{"hidden": "--hidden"}``).
    """
    _checked(cls, options, what, _hints(reserved), last)


def _hints(reserved: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    return dict(reserved) if isinstance(reserved, Mapping) else dict.fromkeys(reserved, "")


def _checked(
    cls: type, options: Mapping[str, Any], what: str, hints: dict[str, str], last: type | None
) -> dict[str, Any] | None:
    """:func:`check_options`; returns the constructor options it checked against."""
    known = constructor_options(cls, reserved=hints, last=last)
    for name in options:
        if name in hints:
            how = f" (use {hints[name]})" if hints[name] else ""
            raise ConfigurationError(f"the {what} gets {name!r} from the pipeline{how}")
    if known is None:
        return None
    unknown = [name for name in options if name not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(known), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(_describe(n, d) for n, d in known.items()) or (
            "none besides those the pipeline sets" if hints else "none"
        )
        raise ConfigurationError(
            f"the {what} has no option {', '.join(map(repr, unknown))}{hint} "
            f"(its options: {listed})"
        )
    return known


def resolve_options(
    cls: type,
    options: Mapping[str, Any],
    *,
    what: str,
    reserved: Mapping[str, str] | Iterable[str] = (),
    last: type | None = None,
    defaults_from: Iterable[type] = (),
) -> dict[str, Any]:
    """``options`` checked (:func:`check_options`) plus the default of every option not given,
    where the default is plain JSON (so that a record of them builds the same component).

    :param defaults_from: base classes whose own constructor arguments are not recorded
        unless given (e.g. :class:`flowkit.Dataset`'s split fractions).
    """
    known = _checked(cls, options, what, _hints(reserved), last) or {}
    skip = set()
    for base in defaults_from:
        skip |= set(constructor_options(base, last=base) or {})
    resolved = {
        name: default
        for name, default in known.items()
        if name not in skip and default is not inspect.Parameter.empty and _is_json(default)
    }
    resolved.update(options)
    return resolved


def _describe(name: str, default: Any) -> str:
    return name if default is inspect.Parameter.empty else f"{name}={default!r}"


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


__all__ = ["check_options", "constructor_options", "resolve_options"]
