"""A plugin that contributes a coupling, a command and a run listener."""

import click

from flowkit import CouplingTransform, hookimpl


class ShiftCoupling(CouplingTransform):
    name = "contrib_shift"

    def _transform(self, x2, params):
        return x2 + params, x2.new_zeros(x2.shape[0])

    def _inverse_transform(self, y2, params):
        return y2 - params, y2.new_zeros(y2.shape[0])


@hookimpl
def flowkit_register_couplings():
    return [ShiftCoupling]


@hookimpl
def flowkit_register_commands(cli):
    @cli.command("contrib-hello")
    def hello():
        """Say hello."""
        click.echo("hello")


@hookimpl
def flowkit_run_finished(run_file, status, results):
    pass
