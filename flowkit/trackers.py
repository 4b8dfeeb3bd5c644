"""Experiment trackers: the base class of the ``tracker`` plugin kind (``flowkit run --track``).

A tracker mirrors a run into an experiment-tracking tool (TensorBoard, MLflow, W&B, Aim...).
It is told three things, always in this order, in the process that writes the run file:

1. :meth:`Tracker.start`, once before the first epoch: the run's name, its run file and its
   resolved configuration (:class:`TrackedRun`);
2. :meth:`Tracker.log_epoch`, after every epoch: that epoch's metrics (:data:`EPOCH_METRICS`);
3. :meth:`Tracker.finish`, once after the run file is complete on disk: the run's status and
   its results (test bits/dim, log-likelihood and its standard error, best epoch, timings).

The run file stays the record of the run: a tracker that raises (its package is missing, its
destination cannot be written) is switched off with a one-line warning and the run carries on.
Register a tracker class through the ``flowkit_register_trackers`` hook.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from flowkit.errors import ConfigurationError

#: Names of the per-epoch metrics :meth:`Tracker.log_epoch` receives (bits/dim first: lower is
#: better; log-likelihoods in nats per example: higher is better).
EPOCH_METRICS: tuple[str, ...] = (
    "train/bits_per_dim",
    "valid/bits_per_dim",
    "train/log_likelihood_nats",
    "valid/log_likelihood_nats",
    "best_epoch",
    "epoch_seconds",
    "samples_per_second",
)


@dataclass
class TrackedRun:
    """What :meth:`Tracker.start` is told about the run."""

    #: A short name: the run file's stem (``runs/nice-1.h5`` -> ``nice-1``).
    name: str
    run_file: Path
    #: The resolved configuration, nested as in the run file (``RunConfig.to_dict()``), plus
    #: ``data``: the data's identity (name, variant, sizes, checksum).
    config: dict[str, Any]
    #: The epoch training continues after (0 for a new run, N when resuming after epoch N).
    start_epoch: int = 0
    #: The configuration flattened to ``"train.lr": 0.001``-style keys, for tools with flat
    #: parameters.
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def resumed(self) -> bool:
        return self.start_epoch > 0


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1e-3}}`` -> ``{"train.lr": 1e-3}``; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def numeric(results: Mapping[str, Any]) -> dict[str, float]:
    """The finite-or-not numbers among ``results`` (booleans and text left out)."""
    return {
        k: float(v)
        for k, v in results.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def result_metrics(results: Mapping[str, Any]) -> dict[str, float]:
    """The numeric results under tracker-style names: ``test_bits_per_dim`` ->
    ``test/bits_per_dim``; the others (``best_epoch``, ``train_seconds``...) keep theirs."""
    return {
        (f"test/{key[5:]}" if key.startswith("test_") else key): value
        for key, value in numeric(results).items()
    }


class Tracker:
    """Base class of experiment trackers (kind ``tracker``).

    Built as ``cls(destination)``: the text after ``=`` in ``--track NAME=DESTINATION``, or
    ``None`` for the tracker's default (which should lie next to the run file, so that runs
    never write into the working directory unasked). Override the three methods; each may raise
    to say the tracker cannot work, and flowkit switches it off with a warning.
    """

    #: The name users type: ``--track NAME``.
    name: ClassVar[str] = ""
    #: One line for ``flowkit plugins``.
    description: ClassVar[str] = ""
    #: The contract kit has no tracker checks: a tracker is tested by running a tiny
    #: ``flowkit run --track NAME`` and reading back what its tool stored.
    contract_examples: ClassVar[list[dict[str, Any]] | None] = None
    contract_skip_reason: ClassVar[str] = "trackers are tested end to end with flowkit run --track"

    def __init__(self, destination: str | None = None) -> None:
        self.destination = destination

    def start(self, run: TrackedRun) -> None:
        """Open the tracker's record of ``run`` and store its configuration."""

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Record one epoch's metrics (keys from :data:`EPOCH_METRICS`) at step ``epoch``."""

    def finish(self, status: str, results: Mapping[str, Any]) -> None:
        """Record the results and close: ``status`` is ``completed``, ``interrupted`` or
        ``failed``; ``results`` holds the run file's results (``test_bits_per_dim``...)."""

    @staticmethod
    def require(module: str, extra: str) -> Any:
        """Import ``module`` or raise one line that says how to install it:
        ``... needs tensorboard: pip install 'flowkit[tensorboard]'``."""
        try:
            return importlib.import_module(module)
        except ImportError:
            top = module.split(".")[0]
            raise ConfigurationError(f"needs {top}: pip install 'flowkit[{extra}]'") from None


__all__ = ["EPOCH_METRICS", "TrackedRun", "Tracker", "flatten", "numeric", "result_metrics"]
