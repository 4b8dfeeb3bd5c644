"""flowkit's built-in commands beyond the core: ``sample``, ``inpaint``, ``report``, ``bench``,
``new-plugin``, ``config``, ``recipes``, ``show``, ``compare``.

They come in through ``flowkit_register_commands`` exactly as a third-party command would, and
each module is imported only when its command runs (``flowkit --help`` stays fast).
"""

from __future__ import annotations

import click

from flowkit import hookimpl
from flowkit.cli import LazyCommand

#: name -> (module with a Click command named ``command``, one-line help for listings)
COMMANDS: dict[str, tuple[str, str]] = {
    "sample": (
        "flowkit_builtins.commands.sample",
        "Draw samples from a run's model (a figure or arrays).",
    ),
    "inpaint": (
        "flowkit_builtins.commands.inpaint",
        "Inpaint test images under a mask (NICE section 5.2).",
    ),
    "report": (
        "flowkit_builtins.commands.report",
        "Write learning curves, samples and the scaling spectrum as PNG files.",
    ),
    "bench": (
        "flowkit_builtins.commands.bench",
        "Train the same NICE once per coupling law and compare them.",
    ),
    "new-plugin": (
        "flowkit_builtins.commands.new_plugin",
        "Write a plugin package that installs and passes its tests at once.",
    ),
    "config": (
        "flowkit_builtins.commands.config",
        "Print a run's resolved configuration as TOML for `run --config`.",
    ),
    "recipes": (
        "flowkit_builtins.commands.recipes",
        "List the shipped run configurations; `recipes show NAME` prints one.",
    ),
    "show": (
        "flowkit_builtins.commands.show",
        "Summarise a run file: status, configuration, data, results, timings.",
    ),
    "compare": (
        "flowkit_builtins.commands.compare",
        "Tabulate runs: the options that differ and the results, sortable.",
    ),
}


@hookimpl
def flowkit_register_commands(cli: click.Group) -> None:
    for name, (module, short_help) in COMMANDS.items():
        cli.add_command(LazyCommand(name, f"{module}:command", short_help))
