"""A Click command class whose usage errors are one line, like every other flowkit error.

Click prints a bad option value as a usage block plus the message; flowkit's rule is one line
on stderr and exit status 2 (``Error: Invalid value for '--layers': 0 is not in the range
x>=1.``). Number ranges stay declared as Click types, so ``--help`` still shows them.
"""

from __future__ import annotations

import click

from flowkit.cli import UserError


class OneLineErrorCommand(click.Command):
    """``click.Command`` that reports usage errors (bad values, unknown options) in one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as err:
            raise UserError(" ".join(err.format_message().split())) from err


__all__ = ["OneLineErrorCommand"]
