"""``flowkit plugins``: list every registered component and where it comes from."""

from __future__ import annotations

import json

import click

from flowkit.cli import get_registry


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def command(as_json: bool) -> None:
    """List components: kind, name, providing plugin and its version."""
    registry = get_registry()
    rows = [entry.as_dict() for entry in registry]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    headers = ("kind", "name", "plugin", "version")
    table = [headers] + [tuple(str(r[h] or "-") for h in headers) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
