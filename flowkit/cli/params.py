"""Click parameter types shared by flowkit's commands and by plugin commands."""

from __future__ import annotations

import click

from flowkit.io.schema import MAX_SEED

#: Seeds: numpy and torch generators take 0 .. 2**32 - 1.
SEED = click.IntRange(0, MAX_SEED)
#: Iterative procedures (inpainting's gradient steps; 0 keeps the initial guess), with a bound
#: that keeps a typo such as three extra zeros from running for days.
STEPS = click.IntRange(0, 100_000)

__all__ = ["SEED", "STEPS"]
