"""Click parameter types shared by flowkit's commands and by plugin commands."""

from __future__ import annotations

from typing import Any

import click

from flowkit.options import check_count
from flowkit.run.config import MAX_SAMPLES
from flowkit.train.options import MAX_SEED

#: Seeds: numpy and torch generators take 0 .. 2**32 - 1.
SEED = click.IntRange(0, MAX_SEED)
#: Iterative procedures (inpainting's gradient steps; 0 keeps the initial guess), with a bound
#: that keeps a typo such as three extra zeros from running for days.
STEPS = click.IntRange(0, 100_000)


class Count(click.IntRange):
    """A count of at least ``minimum`` and at most ``limit``, refused beyond it with the rule of
    every count flowkit takes (:func:`flowkit.options.check_count`, as for ``--layers``)."""

    name = "integer"

    def __init__(self, limit: int, minimum: int = 1) -> None:
        super().__init__(min=minimum)
        self.limit = limit

    def _describe_range(self) -> str:
        return f"{self.min}<=x<={self.limit}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        count = super().convert(value, param, ctx)
        flag = param.opts[0] if param is not None and param.opts else "value"
        check_count(flag, count, self.limit, flag=True)
        return count


#: Samples stored per temperature in a run file (``run --num-samples``).
SAMPLES = Count(MAX_SAMPLES, minimum=0)

__all__ = ["SAMPLES", "SEED", "STEPS", "Count"]
