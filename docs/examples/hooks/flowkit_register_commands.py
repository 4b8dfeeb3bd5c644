"""A command: print the parameter count of one layer of a coupling law."""

import click

from flowkit import hookimpl


@hookimpl
def flowkit_register_commands(cli):
    @cli.command("count-params")
    @click.argument("coupling")
    @click.option("--features", type=int, default=784, show_default=True)
    def count_params(coupling, features):
        """Print the parameter count of one COUPLING layer."""
        from flowkit.cli import get_registry

        layer = get_registry().get("coupling", coupling)(features, hidden=64, depth=2)
        click.echo(sum(p.numel() for p in layer.parameters()))
