"""``flowkit config RUN.h5``: a run's resolved configuration as a config file.

``flowkit run --config`` reads the output back: on the CPU with the same data the new run
repeats the old one bit for bit (docs/experiments.md).
"""

from __future__ import annotations

import click

from flowkit.cli.run_cmd import command as run_command
from flowkit.io.runfile import read_run_record
from flowkit.run.config_file import config_to_toml


@click.command("config")
@click.argument("run_file", metavar="RUN.h5", type=click.Path(dir_okay=False))
def command(run_file: str) -> None:
    """Print RUN.h5's resolved configuration as TOML for `flowkit run --config`.

    Every option is written out, defaults included, so the file does not depend on the
    defaults of the flowkit version that reads it.
    """
    record = read_run_record(run_file)
    version = record.environment.get("versions", {}).get("flowkit", "?")
    comment = f"from {run_file} ({record.status}, flowkit {version}, created {record.created})"
    click.echo(config_to_toml(record.config, run_command, comment), nl=False)
