"""The ``flowkit`` command line: a Click group whose commands come from flowkit and plugins.

Every :class:`flowkit.FlowkitError` raised by a command becomes one line on stderr and exit
status 2. Plugins add commands through the ``flowkit_register_commands`` hook.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import warnings

import click

from flowkit.errors import FlowkitError, FlowkitWarning
from flowkit.plugins import FlowkitPluginManager, PluginWarning, call_each, get_plugin_manager
from flowkit.registry import Registry
from flowkit.version import __version__

#: flowkit's core commands: name -> (module defining a Click command named ``command``, one-line
#: help). Each module is imported only when its command runs. Every other command (the built-in
#: ``sample``, ``bench``, ... included) comes from a plugin's ``flowkit_register_commands`` hook.
CORE_COMMANDS: dict[str, tuple[str, str]] = {
    "plugins": ("flowkit.cli.plugins_cmd", "List plugins and their components."),
    "run": ("flowkit.cli.run_cmd", "Train PIPELINE (e.g. nice) and write its run file."),
    "eval": ("flowkit.cli.eval_cmd", "Test log-likelihood and bits/dim of a run's model."),
}


class LazyCommand(click.Command):
    """A command whose module is imported only when the command is used.

    ``flowkit --help`` lists it by its one-line help without importing its implementation, so
    the listing costs no more than the plugins' own modules. Register one with
    ``cli.add_command(LazyCommand("name", "package.module:attribute", "One-line help."))``.
    """

    def __init__(self, name: str, import_path: str, short_help: str) -> None:
        super().__init__(name, short_help=short_help)
        self.import_path = import_path

    def load(self) -> click.Command:
        module_name, _, attribute = self.import_path.partition(":")
        command = getattr(importlib.import_module(module_name), attribute or "command")
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.import_path} is not a click command")
        return command


class UserError(click.ClickException):
    """A FlowkitError shown as one line, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def _show_plugin_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, FlowkitWarning):
        click.echo(f"Warning: {message}", err=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


class FlowkitGroup(click.Group):
    """Loads core commands lazily and plugin commands on demand; maps errors to exit 2."""

    def _core_commands(self) -> dict[str, click.Command]:
        return {
            name: LazyCommand(name, f"{module}:command", short_help)
            for name, (module, short_help) in CORE_COMMANDS.items()
        }

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        # Cached per command line (context), never on the group: tests and embedders invoke the
        # same group with different plugins.
        meta = ctx.find_root().meta
        if "flowkit.plugin_commands" in meta:
            return meta["flowkit.plugin_commands"]
        commands: dict[str, click.Command] = {}
        owners: dict[str, str] = {}
        for plugin, added in commands_by_plugin(get_plugin_manager_for(ctx)).items():
            for name, command in added.items():
                if name in commands:  # never a silent replacement: the first one stays
                    warnings.warn(
                        f"flowkit plugins {owners[name]!r} and {plugin!r} both add the command "
                        f"{name!r}; the one of {plugin!r} is ignored",
                        PluginWarning,
                        stacklevel=2,
                    )
                    continue
                commands[name], owners[name] = command, plugin
        meta["flowkit.plugin_commands"] = commands
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(self._core_commands()) | set(self.commands)
        with contextlib.suppress(FlowkitError):
            names |= set(self._plugin_commands(ctx))
        return sorted(names)

    def _find_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = self.commands.get(name) or self._core_commands().get(name)
        if command is None:
            command = self._plugin_commands(ctx).get(name)
        return command

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = self._find_command(ctx, name)
        if isinstance(command, LazyCommand):
            command = command.load()
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing uses each command's one-line help; lazy commands stay unimported.
        rows = []
        for name in self.list_commands(ctx):
            command = self._find_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def main(self, *args, **kwargs):
        warnings.showwarning = _show_plugin_warning
        try:
            return super().main(*args, **kwargs)
        finally:
            warnings.showwarning = _default_showwarning

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FlowkitError as err:
            raise UserError(str(err)) from err
        except click.UsageError as err:
            # Click would print a usage block; flowkit's rule is one line and exit status 2
            # for every command (bad values, unknown options, missing arguments).
            raise UserError(" ".join(err.format_message().split())) from err


def commands_by_plugin(pm: FlowkitPluginManager) -> dict[str, dict[str, click.Command]]:
    """The commands each plugin adds through ``flowkit_register_commands``, called one plugin
    at a time (one that raises is a warning naming it; the others still add theirs)."""
    result: dict[str, dict[str, click.Command]] = {}
    for impl in reversed(pm.hook.flowkit_register_commands.get_hookimpls()):
        holder = click.Group()
        if call_each(pm, "flowkit_register_commands", only=impl.plugin_name, cli=holder):
            result[impl.plugin_name] = dict(holder.commands)
    return result


def get_plugin_manager_for(ctx: click.Context | None = None) -> FlowkitPluginManager:
    """The plugin manager for this command line (loaded once, honouring ``-p``).

    Loading it imports the plugins' modules but calls no registration hook, so listing the
    commands does not build every component.
    """
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    if "flowkit.plugin_manager" not in root.meta:
        specs = root.params.get("plugin") or ()
        blocked = [s[3:] for s in specs if s.startswith("no:")]
        extra = [s for s in specs if not s.startswith("no:")]
        root.meta["flowkit.plugin_manager"] = get_plugin_manager(blocked=blocked, plugins=extra)
    return root.meta["flowkit.plugin_manager"]


def get_registry(ctx: click.Context | None = None) -> Registry:
    """The registry for this command line (built once from its plugin manager)."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    if "flowkit.registry" not in root.meta:
        root.meta["flowkit.registry"] = Registry.from_plugin_manager(get_plugin_manager_for(ctx))
    return root.meta["flowkit.registry"]


@click.group(cls=FlowkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowkit")
@click.option(
    "-p",
    "plugin",
    multiple=True,
    metavar="NAME",
    help="Load plugin module NAME, or block plugin NAME with `-p no:NAME` "
    "(also FLOWKIT_DISABLE_PLUGINS=a,b).",
)
def cli(plugin: tuple[str, ...]) -> None:
    """flowkit: normalizing flows of the NICE family, built from plugins."""


def main() -> None:  # pragma: no cover - console-script entry
    sys.exit(cli.main(prog_name="flowkit"))


__all__ = [
    "LazyCommand",
    "UserError",
    "cli",
    "commands_by_plugin",
    "get_plugin_manager_for",
    "get_registry",
    "main",
]
