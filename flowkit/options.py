"""Constructor options of components: what a class accepts, checked before it is built.

Every component is built as ``cls(<arguments its pipeline passes>, **options)``; the options
come from the command line (``--prior-option scale=2``, ``--dataset-option size=500``), from a
config file or from Python, and are recorded in the run file so that ``eval``, ``sample``,
``inpaint`` and ``--resume`` build the same component again. :func:`constructor_options` reads
what a class accepts from its ``__init__`` signature, following ``**kwargs`` into its base
classes; :func:`check_options` rejects unknown names in one line that lists the known ones, and
values of another type than the option's (:func:`option_types`: its annotation, else its
default's type; a boolean also takes yes/no and 1/0, made ``True``/``False`` by
:func:`coerce_options`), and :func:`resolve_options` adds the defaults of the ones not given,
for the record.
:func:`check_count` is the one rule that bounds every count (``--layers``, glow's ``steps``,
``eval --draws``, ``bench --repeats``...).
"""

from __future__ import annotations

import difflib
import inspect
import json
import numbers
import os
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from flowkit.errors import ConfigurationError

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
#: Deepest nesting of an option value (a JSON or TOML list or table) flowkit reads.
MAX_VALUE_DEPTH = 32
#: How a boolean option may be spelled in text (``--set actnorm=no``, TOML ``"yes"``).
BOOLEAN_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
#: Annotation names the option types are read from (anything else: the value is not checked).
_ANNOTATED = {
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
    "None": type(None),
    "os.PathLike": os.PathLike,
    "PathLike": os.PathLike,
    "Path": os.PathLike,
    "pathlib.Path": os.PathLike,
}
_WANTED = {bool: "true or false", int: "an integer", float: "a number", str: "text"}


def check_count(name: str, value: int, limit: int, *, flag: bool = False) -> int:
    """``value`` if it is at most ``limit``: the one rule for every count flowkit takes (layers,
    steps, draws, repeats...), so that a typo of three extra zeros is one line, not a hang."""
    if value > limit:
        shown = f"{name} {value:,}" if flag else f"{name}={value:,}"
        raise ConfigurationError(f"{shown} is more than flowkit takes (at most {limit:,})")
    return value


def check_plain_value(value: Any, where: str, limit: int = MAX_VALUE_DEPTH) -> Any:
    """``value`` if its lists and mappings nest at most ``limit`` levels (checked without
    recursion, so that a hostile value cannot overflow the stack) and its integers fit in 64
    bits (what a run file's attributes hold)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            raise ConfigurationError(f"{where} is nested more than {limit} levels deep")
        if isinstance(item, int) and not -(2**63) <= item < 2**63:
            raise ConfigurationError(f"{where}: {item:,} does not fit in 64 bits")
        if isinstance(item, Mapping):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, level + 1) for v in item)
    return value


def option_types(default: Any, annotation: Any = inspect.Parameter.empty) -> tuple[type, ...]:
    """The types an option takes, read off its annotation (``float``, ``str | None``...) or
    else its default's type; ``()`` when they cannot be told (then nothing is checked)."""
    names = _annotation_names(annotation)
    if names is not None:
        kinds = tuple(_ANNOTATED[name] for name in names if name in _ANNOTATED)
        return kinds if len(kinds) == len(names) else ()
    if isinstance(default, bool):
        return (bool,)
    for kind in (int, float, str):
        if type(default) is kind:
            return (kind,)
    return ()


def _annotation_names(annotation: Any) -> list[str] | None:
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        if any(c in annotation for c in "[]'\""):
            return ["?"]
        return [part.strip() for part in annotation.split("|")]
    if annotation is None or annotation is type(None):
        return ["None"]
    if isinstance(annotation, type):
        return [annotation.__name__ if annotation is not os.PathLike else "PathLike"]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return [n for arg in typing.get_args(annotation) for n in _annotation_names(arg) or ["?"]]
    return ["?"]


def option_value(value: Any, kinds: tuple[type, ...], what: str, *, words: bool = True) -> Any:
    """``value`` as an option of ``kinds`` (:func:`option_types`): with ``words``, a boolean
    spelled as text or as 1/0 (:data:`BOOLEAN_WORDS`) becomes ``True``/``False``; a value of
    another type is one :class:`ConfigurationError` line, ``WHAT must be ..., got VALUE``."""
    if not kinds or _has_type(value, kinds):
        return value
    if bool in kinds and words:
        word = value.strip().lower() if isinstance(value, str) else value
        if isinstance(word, str) and word in BOOLEAN_WORDS:
            return BOOLEAN_WORDS[word]
        if type(word) is int and word in (0, 1):
            return bool(word)
    wanted = [_WANTED[k] for k in kinds if k in _WANTED] + (
        ["null"] if type(None) in kinds else []
    )
    hint = " (or yes/no, 1/0)" if bool in kinds and words else ""
    raise ConfigurationError(f"{what} must be {' or '.join(wanted)}{hint}, got {value!r:.60}")


def _has_type(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, numbers.Integral) and (int in kinds or float in kinds):
        return True
    if isinstance(value, numbers.Real) and float in kinds:
        return True
    return any(k not in (bool, int, float) and isinstance(value, k) for k in kinds)


def constructor_parameters(
    cls: type, *, reserved: Iterable[str] = (), last: type | None = None
) -> dict[str, inspect.Parameter] | None:
    """:func:`constructor_options` with each option's :class:`inspect.Parameter` (its default
    and its annotation)."""
    skip = set(reserved)
    found: dict[str, inspect.Parameter] = {}
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
                found.setdefault(parameter.name, parameter)
        if klass is last or not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            break
    return found


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
    found = constructor_parameters(cls, reserved=reserved, last=last)
    return None if found is None else {name: p.default for name, p in found.items()}


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
    """Raise :class:`ConfigurationError` for an option ``cls`` does not take, or one whose value
    has not the option's type (:func:`option_types`: its annotation, else its default's type).

    :param what: how the component is named in the message, e.g. ``"prior 'laplace'"``.
    :param reserved: arguments the caller passes itself; a mapping may say how the user sets
        each instead (``{"hidden": "--hidden"}``).
    """
    _checked(cls, options, what, _hints(reserved), last, words=False)


def coerce_options(
    cls: type,
    options: Mapping[str, Any],
    *,
    what: str,
    reserved: Mapping[str, str] | Iterable[str] = (),
    last: type | None = None,
) -> dict[str, Any]:
    """``options`` checked as :func:`check_options` does, where a boolean option may also be
    spelled as text or 1/0 (``bias=no``): returned as ``True``/``False``."""
    return _checked(cls, options, what, _hints(reserved), last, words=True)[1]


def _hints(reserved: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    return dict(reserved) if isinstance(reserved, Mapping) else dict.fromkeys(reserved, "")


def _checked(
    cls: type,
    options: Mapping[str, Any],
    what: str,
    hints: dict[str, str],
    last: type | None,
    words: bool,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """:func:`check_options`; returns the constructor options it checked against (None: not
    readable) and ``options`` with booleans spelled as text made ``True``/``False``."""
    parameters = constructor_parameters(cls, reserved=hints, last=last)
    for name in options:
        if name in hints:
            how = f" (use {hints[name]})" if hints[name] else ""
            raise ConfigurationError(f"the {what} gets {name!r} from the pipeline{how}")
    if parameters is None:
        return None, dict(options)
    known = {name: p.default for name, p in parameters.items()}
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
    values = {}
    for name, value in options.items():
        kinds = option_types(parameters[name].default, parameters[name].annotation)
        values[name] = option_value(value, kinds, f"the {what} option {name!r}", words=words)
    return known, values


def resolve_options(
    cls: type,
    options: Mapping[str, Any],
    *,
    what: str,
    reserved: Mapping[str, str] | Iterable[str] = (),
    last: type | None = None,
    defaults_from: Iterable[type] = (),
) -> dict[str, Any]:
    """``options`` checked (:func:`coerce_options`) plus the default of every option not given,
    where the default is plain JSON (so that a record of them builds the same component).

    :param defaults_from: base classes whose own constructor arguments are not recorded
        unless given (e.g. :class:`flowkit.Dataset`'s split fractions).
    """
    known, values = _checked(cls, options, what, _hints(reserved), last, words=True)
    skip = set()
    for base in defaults_from:
        skip |= set(constructor_options(base, last=base) or {})
    resolved = {
        name: default
        for name, default in (known or {}).items()
        if name not in skip and default is not inspect.Parameter.empty and _is_json(default)
    }
    resolved.update(values)
    return resolved


def _describe(name: str, default: Any) -> str:
    return name if default is inspect.Parameter.empty else f"{name}={default!r}"


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


__all__ = [
    "BOOLEAN_WORDS",
    "MAX_VALUE_DEPTH",
    "check_count",
    "check_options",
    "check_plain_value",
    "coerce_options",
    "constructor_options",
    "constructor_parameters",
    "option_types",
    "option_value",
    "resolve_options",
]
