"""``flowkit plugins``: every plugin with what it contributes, or every component.

Like datasette's ``plugins`` command: one row per plugin (its distribution and version, the
components it registers by kind, the commands it adds, the events it listens to and any other
hook it implements), plus the installed plugins that failed to load. ``--components`` lists
components instead: kind, name, providing plugin and its version.
"""

from __future__ import annotations

import json
from typing import Any

import click

from flowkit.cli import commands_by_plugin, get_plugin_manager_for, get_registry
from flowkit.hookspecs import REGISTRATION_HOOKS

#: The hook that adds commands; every hook that is neither this nor a registration hook is a
#: listener (called when something happens: ``flowkit_run_finished``, ...).
COMMANDS_HOOK = "flowkit_register_commands"


def plugin_rows() -> list[dict[str, Any]]:
    """One dict per plugin (loaded or failed), as ``flowkit plugins --json`` prints them."""
    pm = get_plugin_manager_for()
    registry = get_registry()
    commands = commands_by_plugin(pm)
    contested = {(e.plugin, e.kind, e.name) for e in registry.contested()}
    rows = []
    for name, info in sorted(pm.plugin_info.items()):
        plugin = pm.get_plugin(name)
        if plugin is None:
            continue
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        components: dict[str, list[str]] = {}
        for entry in [*registry, *registry.contested()]:
            if entry.plugin == name:
                components.setdefault(entry.kind, []).append(entry.name)
        rows.append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "module": info.module,
                "status": "loaded",
                "components": {kind: sorted(names) for kind, names in components.items()},
                "contested": sorted(f"{k}:{n}" for p, k, n in contested if p == name),
                "commands": sorted(commands.get(name, {})),
                "listeners": [
                    h for h in hooks if h not in REGISTRATION_HOOKS and h != COMMANDS_HOOK
                ],
                "hooks": hooks,
            }
        )
    for name, failure in sorted(pm.load_failures.items()):
        rows.append(
            {
                "name": name,
                "distribution": failure.distribution,
                "version": failure.version,
                "module": failure.target,
                "status": "failed",
                "error": failure.error,
                "components": {},
                "contested": [],
                "commands": [],
                "listeners": [],
                "hooks": [],
            }
        )
    return rows


def _contributes(row: dict[str, Any]) -> str:
    if row["status"] == "failed":
        return f"failed to load: {row['error']}"
    contested = set(row["contested"])
    parts = [
        f"{kind}: "
        + ", ".join(n + (" (contested)" if f"{kind}:{n}" in contested else "") for n in names)
        for kind, names in row["components"].items()
    ]
    if row["commands"]:
        parts.append("commands: " + ", ".join(row["commands"]))
    if row["listeners"]:
        parts.append("listens: " + ", ".join(row["listeners"]))
    return "; ".join(parts) or "nothing"


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = [headers, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    for row in table:
        cells = [cell.ljust(w) for cell, w in zip(row, widths)] + [row[-1]]
        click.echo("  ".join(cells).rstrip())


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--components", is_flag=True, help="List components (kind, name, plugin, version) instead."
)
def command(as_json: bool, components: bool) -> None:
    """List plugins and what each contributes (components, commands, listeners).

    A component name that two plugins register is shown as contested, with a warning naming
    both; only using that name is an error.
    """
    registry = get_registry()
    if components:
        entries = [entry.as_dict() for entry in [*registry, *registry.contested()]]
        if as_json:
            click.echo(json.dumps(entries, indent=2))
            return
        headers = ("kind", "name", "plugin", "version")
        _table(headers, [tuple(str(r[h] or "-") for h in headers) for r in entries])
        return
    rows = plugin_rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    _table(
        ("plugin", "distribution", "version", "contributes"),
        [
            (r["name"], r["distribution"] or "-", r["version"] or "-", _contributes(r))
            for r in rows
        ],
    )
