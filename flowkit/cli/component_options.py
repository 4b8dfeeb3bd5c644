"""``--coupling-option``, ``--prior-option`` ...: constructor options of each component kind.

One repeatable ``KEY=VALUE`` flag per kind the ``nice`` pipeline composes; VALUE is read as JSON
when it parses (``3``, ``true``, ``"exp"``) and as text otherwise. Each becomes the pipeline
option ``<kind>_options`` (merged over a ``--set <kind>_options={...}`` or a config file's), is
checked against the component's constructor before any data is loaded, and is recorded in the
run file, so ``eval``, ``sample``, ``inpaint`` and ``--resume`` build the same component.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from flowkit.run.config import parse_assignment

#: Kinds with a ``--KIND-option`` flag, in the order the flags are listed.
OPTION_KINDS = ("coupling", "permutation", "scaling", "whitening", "prior")
_EXAMPLES = {
    "coupling": "scale_bound=exp",
    "permutation": "bias=false",
    "scaling": "min_std=1e-4",
    "whitening": "eps=1e-3",
    "prior": "scale=2",
}


def option_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add one plain, repeatable ``--KIND-option KEY=VALUE`` Click option per kind."""
    for kind in reversed(OPTION_KINDS):
        command = click.option(
            f"--{kind}-option",
            f"{kind}_option",
            multiple=True,
            metavar="KEY=VALUE",
            help=f"An option of the {kind}'s constructor, e.g. {_EXAMPLES[kind]} (repeatable; "
            "unknown names are an error that lists the known ones).",
        )(command)
    return command


def apply_component_options(overrides: dict[str, Any], options: dict[str, Any]) -> None:
    """Merge the ``--KIND-option`` values of ``options`` into ``overrides[KIND_options]``."""
    for kind in OPTION_KINDS:
        given = options.get(f"{kind}_option") or ()
        if not given:
            continue
        merged = dict(overrides.get(f"{kind}_options") or {})
        for text in given:
            key, value = parse_assignment(text)
            merged[key] = value
        overrides[f"{kind}_options"] = merged


__all__ = ["OPTION_KINDS", "apply_component_options", "option_flags"]
