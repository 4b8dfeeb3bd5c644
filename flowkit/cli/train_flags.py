"""Optimiser, schedule and thread flags of ``flowkit run`` (``--betas``, ``--eps``,
``--weight-decay``, ``--lr-schedule``, ``--lr-min``, ``--lr-step-epochs``, ``--lr-gamma``,
``--clip-grad-norm``, ``--threads``): one decorator adds them. Each is named like the
:class:`~flowkit.train.options.TrainOptions` field it sets, so
:func:`flowkit.run.config_file.train_options` reads them back with every other training flag,
and, being Click options of ``run``, they are config-file keys too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from flowkit.cli.params import Count
from flowkit.train.options import INT_BOUNDS, LR_SCHEDULES, TrainOptions

_DEFAULTS = TrainOptions()
_positive = click.IntRange(min=1)
F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = [
    click.option(
        "--betas",
        type=(float, float),
        default=_DEFAULTS.betas,
        show_default=True,
        metavar="B1 B2",
        help="Adam's decay rates (the paper's 'beta2 = 0.01' is 0.99 in today's notation).",
    ),
    click.option(
        "--eps",
        type=click.FloatRange(min=0, min_open=True),
        default=_DEFAULTS.eps,
        show_default=True,
        help="Adam's epsilon (the paper's 1e-4).",
    ),
    click.option(
        "--weight-decay",
        type=click.FloatRange(min=0),
        default=_DEFAULTS.weight_decay,
        show_default=True,
        help="Adam's L2 penalty on the weights.",
    ),
    click.option(
        "--lr-schedule",
        type=click.Choice(LR_SCHEDULES),
        default=_DEFAULTS.lr_schedule,
        show_default=True,
        help="Learning rate over epochs: none (constant, the paper), cosine (down to --lr-min at "
        "--epochs), step (times --lr-gamma every --lr-step-epochs).",
    ),
    click.option(
        "--lr-min",
        type=click.FloatRange(min=0),
        default=_DEFAULTS.lr_min,
        show_default=True,
        help="cosine: the learning rate at the last epoch.",
    ),
    click.option(
        "--lr-step-epochs",
        type=Count(INT_BOUNDS["lr_step_epochs"][1]),
        default=_DEFAULTS.lr_step_epochs,
        show_default=True,
        help="step: epochs between two decays.",
    ),
    click.option(
        "--lr-gamma",
        type=click.FloatRange(min=0, max=1, min_open=True),
        default=_DEFAULTS.lr_gamma,
        show_default=True,
        help="step: factor of each decay.",
    ),
    click.option(
        "--clip-grad-norm",
        type=click.FloatRange(min=0, min_open=True),
        metavar="MAX",
        help="Clip the gradients' total 2-norm to MAX before each step [default: no clipping].",
    ),
    click.option(
        "--threads",
        type=Count(INT_BOUNDS["threads"][1]),
        help="CPU threads for torch [default: torch's choice, usually one per core].",
    ),
]


def training_flags(function: F) -> F:
    """Decorator adding the flags to a Click command (in the order above in ``--help``)."""
    for option in reversed(_OPTIONS):
        function = option(function)
    return function


__all__ = ["training_flags"]
