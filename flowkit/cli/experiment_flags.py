"""The ``--config`` and ``--init-from`` options of ``flowkit run`` (docs/experiments.md)."""

from __future__ import annotations

import click

from flowkit.run import config_file

#: ``--config FILE.toml|RECIPE``: eager, so that the file's values are the defaults of every
#: other option (flags given on the command line override them).
config_option = click.option(
    "--config",
    "config_file",
    metavar="FILE.toml|RECIPE",
    is_eager=True,
    expose_value=True,
    callback=config_file.option_callback,
    help="Read options from a TOML config file or a recipe (`flowkit recipes`); flags given "
    "here override it. See docs/experiments.md.",
)

#: ``--init-from RUN.h5``: a new run whose model starts from RUN's selected weights.
init_from_option = click.option(
    "--init-from",
    type=click.Path(dir_okay=False),
    metavar="RUN.h5",
    help="Start from RUN.h5's selected weights instead of a fresh initialisation (same "
    "pipeline options; data and training options may differ). See docs/experiments.md.",
)

__all__ = ["config_option", "init_from_option"]
