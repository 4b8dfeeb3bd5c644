"""``--precision`` and ``--compile`` of ``flowkit run`` (see :mod:`flowkit.train.precision`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from flowkit.train.precision import PRECISIONS

PRECISION_HELP = (
    "Training precision: bf16-mixed runs the coupling MLPs' hidden layers in bfloat16 "
    "(data, log-dets, prior and loss stay float32); tf32 (CUDA) uses TensorFloat-32 matmuls. "
    "Evaluation is always float32."
)


def precision_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--precision`` and ``--compile`` (TrainOptions fields of the same names)."""
    command = click.option(
        "--compile",
        is_flag=True,
        help="Train through torch.compile (first step compiles; see benchmarks/README.md).",
    )(command)
    return click.option(
        "--precision",
        type=click.Choice(PRECISIONS),
        default="fp32",
        show_default=True,
        help=PRECISION_HELP,
    )(command)


__all__ = ["PRECISION_HELP", "precision_options"]
