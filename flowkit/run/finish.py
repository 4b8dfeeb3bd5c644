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

A run is ``failed`` (exit status 1) when its loss went non-finite, or when no epoch improved
on the validation log-likelihood of the initial model: then the "best" model is the untrained
one, and saying ``completed`` would hide that (e.g. ``--lr 10``).
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


def final_status(result: TrainResult) -> tuple[str, str]:
    """``(status, message)`` of a run whose training has ended."""
    if result.stop_reason == "interrupted":
        return "interrupted", result.message
    if result.stop_reason == "non-finite":
        return "failed", result.message
    if result.epochs_completed > 0 and result.best_epoch == 0:
        initial = result.initial_valid_log_likelihood
        shown = f"{-initial:.6g} nats" if math.isfinite(initial) else "not finite"
        return "failed", (
            f"training never improved on the initial validation score (NLL {shown}) in "
            f"{result.epochs_completed} epoch(s): the stored model is the untrained one; "
            "try a lower --lr"
        )
    return "completed", result.message


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
    "Checkpointer",
    "DiskFullError",
    "RunWriter",
    "final_status",
    "results_of",
]
