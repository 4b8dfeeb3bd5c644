"""Training progress on the terminal: a tqdm bar on a TTY, one line per epoch otherwise.

Both show train and validation NLL (nats per example), bits/dim and training samples/s; a ``*``
marks an epoch that is the best so far on validation (the model that will be kept).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from flowkit.train.state import EpochRecord
from flowkit.train.trainer import Callback, EpochEnd, FitStart, TrainResult

PROGRESS_MODES = ("auto", "bar", "lines", "none")


def epoch_summary(record: EpochRecord) -> str:
    return (
        f"train NLL {record.train_nll_nats:.2f} nats ({record.train_bits_per_dim:.3f} b/d), "
        f"valid NLL {record.valid_nll_nats:.2f} nats ({record.valid_bits_per_dim:.3f} b/d), "
        f"{record.samples_per_second:,.0f} samples/s"
    )


class EpochLines(Callback):
    """One plain line per epoch (logs, pipes, CI)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.total = 0

    def _write(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)

    def on_train_start(self, start: FitStart) -> None:
        self.total = start.options.epochs
        if start.start_epoch:
            state = start.state
            self._write(
                f"resuming after epoch {start.start_epoch} (best so far: validation NLL "
                f"{-state.best_valid_ll:.2f} nats at epoch {state.best_epoch})"
            )
        else:
            self._write(f"initial validation NLL {-start.initial_valid_log_likelihood:.2f} nats")

    def on_epoch_end(self, end: EpochEnd) -> None:
        marker = " *" if end.is_best else ""
        self._write(f"epoch {end.epoch}/{self.total}: {epoch_summary(end.record)}{marker}")


class ProgressBar(Callback):
    """A tqdm bar over the batches of each epoch, the last epoch's metrics as its postfix."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.bar: Any = None
        self.start: FitStart | None = None
        self.postfix = ""
        self.epoch = 0

    def on_train_start(self, start: FitStart) -> None:
        self.start, self.epoch = start, start.start_epoch
        self.postfix = f"valid {-start.initial_valid_log_likelihood:.2f} nats"
        self._open()

    def _open(self) -> None:
        from tqdm.auto import tqdm

        if self.start is None:
            return
        self.bar = tqdm(
            total=self.start.train_examples,
            desc=f"epoch {self.epoch + 1}/{self.start.options.epochs}",
            unit="ex",
            unit_scale=True,
            leave=False,
            file=self.stream or sys.stderr,
            dynamic_ncols=True,
        )
        self.bar.set_postfix_str(self.postfix, refresh=False)

    def on_batch_end(self, examples: int) -> None:
        if self.bar is not None:
            self.bar.update(examples)

    def on_epoch_end(self, end: EpochEnd) -> None:
        self.postfix = epoch_summary(end.record) + (" *" if end.is_best else "")
        self._close()
        from tqdm.auto import tqdm

        tqdm.write(f"epoch {end.epoch}: {self.postfix}", file=self.stream or sys.stderr)
        self.epoch = end.epoch
        self._open()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_train_end(self, result: TrainResult) -> None:
        self._close()


def progress_callbacks(mode: str = "auto", stream: TextIO | None = None) -> list[Callback]:
    """Callbacks for ``mode``: ``auto`` (a bar on a terminal, lines otherwise), ``bar``,
    ``lines`` or ``none``."""
    if mode not in PROGRESS_MODES:
        raise ValueError(f"progress mode must be one of {PROGRESS_MODES}, got {mode!r}")
    if mode == "auto":
        target = stream or sys.stderr
        mode = "bar" if getattr(target, "isatty", lambda: False)() else "lines"
    if mode == "bar":
        return [ProgressBar(stream)]
    if mode == "lines":
        return [EpochLines(stream)]
    return []


__all__ = ["PROGRESS_MODES", "EpochLines", "ProgressBar", "epoch_summary", "progress_callbacks"]
