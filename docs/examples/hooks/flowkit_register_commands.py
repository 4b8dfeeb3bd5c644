"""A command: print the parameter count of one flat coupling layer with a given law."""

import click

from flowkit import LawCoupling, hookimpl


@hookimpl
def flowkit_register_commands(cli):
    @cli.command("count-params")
    @click.argument("law")
    @click.option("--features", type=int, default=784, show_default=True)
    def count_params(law, features):
        """Print the parameter count of one coupling layer with the coupling law LAW."""
        from flowkit.cli import get_registry

        law_class = get_registry().get("law", law)  # an unknown name suggests close ones
        layer = LawCoupling(features, law=law_class(), hidden=64, depth=2)
        click.echo(sum(p.numel() for p in layer.parameters()))
