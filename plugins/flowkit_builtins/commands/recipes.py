"""``flowkit recipes [show NAME]``: the run configurations shipped with flowkit."""

from __future__ import annotations

import click

from flowkit.run.recipes import recipe_description, recipe_names, recipe_text


@click.group("recipes", invoke_without_command=True)
@click.pass_context
def command(ctx: click.Context) -> None:
    """List the recipes: named configurations for `flowkit run --config NAME`.

    Copy one out to edit it: `flowkit recipes show NAME > mine.toml`.
    """
    if ctx.invoked_subcommand is None:
        names = recipe_names()
        width = max((len(name) for name in names), default=0)
        for name in names:
            click.echo(f"{name:<{width}}  {recipe_description(name)}")


@command.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print recipe NAME as TOML (a config file to edit)."""
    click.echo(recipe_text(name), nl=False)
