"""How a run ends: its final status and the writes of its run file (signals while finishing:
:func:`flowkit.run.signals.hold_signals`).

Every moment of a run has one outcome (docs/run-file.md, "Endings"):

- start-up (arguments, data, model), before the run file is first written: Ctrl-C or SIGTERM
  ends the command with one line and exit status 130; no file is written or changed;
- training: the signal stops training at the next step; the file is finished as
  ``interrupted`` (exit 130) and can be resumed;
- final evaluation and samples: skipped; the file is ``interrupted`` with its checkpoint;
- the final write and after it: the signal is held until the file is complete, then said in
  one line; the file keeps the status it was written with.

A run is ``failed`` (exit status 1) when it diverged: its loss went non-finite, or no epoch
improved on the initial model and validation ended far worse than it started (more than
:data:`DIVERGED_NATS_PER_DIMENSION`, e.g. ``--lr 10``). A run that never improved on a finite
initial score without diverging is ``completed`` with a warning: its initial model may already
be the best fit (a Gaussian prior with ZCA whitening on Gaussian data is the exact fit).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowkit.errors import FlowkitError
from flowkit.io.space import NoSpaceError, remove_stale_temporaries
from flowkit.train.state import TrainState
from flowkit.train.trainer import Callback, EpochEnd, FitStart, TrainResult


class DiskFullError(FlowkitError):
    """The run file could not be written for lack of space; the previous version is intact."""


#: Validation this many nats per dimension worse than the initial model's, in a run that never
#: improved on it, is divergence (a failed run), not an initial model that was already good.
DIVERGED_NATS_PER_DIMENSION = 0.5


def final_status(result: TrainResult, dimensions: int = 1) -> tuple[str, str, str]:
    """``(status, message, warning)`` of a run whose training has ended (``warning``: a line to
    show besides, or empty); ``dimensions``: of one example, to judge divergence."""
    if result.stop_reason == "interrupted":
        return "interrupted", result.message, ""
    if result.stop_reason == "non-finite":
        return "failed", result.message, ""
    if result.epochs_completed == 0 or result.best_epoch != 0:
        return "completed", result.message, ""
    initial, epochs = result.initial_valid_log_likelihood, result.epochs_completed
    never = f"training never improved on the initial validation score in {epochs} epoch(s)"
    if not math.isfinite(initial):
        return "failed", f"{never} (it is not finite); try a lower --lr", ""
    last = result.history["valid_nll_nats"][-1]
    if not last <= -initial + DIVERGED_NATS_PER_DIMENSION * max(dimensions, 1):
        diverged = f"validation NLL {-initial:.6g} -> {last:.6g} nats"
        return "failed", f"{never} and diverged ({diverged}); try a lower --lr", ""
    warning = (
        f"{never} (NLL {-initial:.6g} nats): the stored model is the initial one, which may "
        "already be the best fit; if not, try a lower --lr"
    )
    return "completed", result.message, warning


class RunWriter:
    """Writes the run file (rank 0 only): removes temporary files a killed writer left behind,
    and turns a full disk into one :class:`DiskFullError` naming the last intact checkpoint."""

    def __init__(
        self, path: Path, write: Callable[[Path, Any], None], main: bool, epoch: int | None
    ) -> None:
        self.path, self._write, self.main = path, write, main
        #: Epoch of the checkpoint the file on disk holds (None: no file written yet).
        self.epoch_on_disk = epoch
        self.full = False
        self._cleaned = False

    def __call__(self, record: Any) -> None:
        if not self.main or self.full:
            return  # after a full disk, never overwrite the intact file with a "failed" one
        if not self._cleaned:
            remove_stale_temporaries(self.path)
            self._cleaned = True
        try:
            self._write(self.path, record)
        except NoSpaceError as err:
            self.full = True
            intact = (
                f"the last checkpoint (epoch {self.epoch_on_disk}) is intact"
                if self.epoch_on_disk is not None
                else "no run file was written"
            )
            raise DiskFullError(f"{err}; {intact}") from None
        if record.checkpoint is not None:
            self.epoch_on_disk = record.checkpoint.epoch


class Checkpointer(Callback):
    """Writes the run file at the start, then at most every ``every`` seconds (0: each epoch)."""

    def __init__(self, write: Callable[[TrainState], None], every: float) -> None:
        self.write, self.every = write, every
        self.latest: TrainState | None = None
        self.last_write = -math.inf

    def _save(self, state: TrainState) -> None:
        self.write(state)
        self.last_write = time.monotonic()

    def on_train_start(self, start: FitStart) -> None:
        self.latest = start.state
        self._save(start.state)

    def on_epoch_end(self, end: EpochEnd) -> None:
        if time.monotonic() - self.last_write >= self.every:
            self.latest = end.snapshot()
            self._save(self.latest)


def results_of(result: TrainResult, parameters: int, device: Any) -> dict[str, Any]:
    return {
        "best_epoch": result.best_epoch,
        "best_valid_log_likelihood_nats": result.best_valid_log_likelihood,
        "initial_valid_log_likelihood_nats": result.initial_valid_log_likelihood,
        "epochs_completed": result.epochs_completed,
        "stop_reason": result.stop_reason,
        "message": result.message,
        "train_seconds": result.elapsed_seconds,
        "parameters": parameters,
        "optimizer": result.optimizer,
        "device": str(device),
    }


__all__ = [
    "DIVERGED_NATS_PER_DIMENSION",
    "Checkpointer",
    "DiskFullError",
    "RunWriter",
    "final_status",
    "results_of",
]
