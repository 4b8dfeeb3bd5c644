"""Training progress on the terminal: a tqdm bar on a TTY, one line per epoch otherwise.

Both modes print the same lines: the initial validation score, then per epoch the validation
and training bits/dim first (lower is better), the log-likelihoods in nats per example, the
training speed, a ``*`` for an epoch that is the best so far on validation (the model that will
be kept), the training time so far and an estimate for the whole run (:class:`RunClock`). The
bar shows the estimate as it fills, too.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from tqdm import tqdm as _tqdm

from flowkit.metrics import bits_per_dim
from flowkit.train.state import EpochRecord
from flowkit.train.trainer import Callback, EpochEnd, FitStart, TrainResult

PROGRESS_MODES = ("auto", "bar", "lines", "none")


def format_duration(seconds: float) -> str:
    """``75`` -> ``01:15``, ``3725`` -> ``1:02:05`` (tqdm's clock format)."""
    return _tqdm.format_interval(max(0.0, seconds))


def epoch_summary(record: EpochRecord) -> str:
    return (
        f"valid {record.valid_bits_per_dim:.3f} bits/dim, train {record.train_bits_per_dim:.3f} "
        f"bits/dim (log-likelihood valid {-record.valid_nll_nats:+.1f}, train "
        f"{-record.train_nll_nats:+.1f} nats), {record.samples_per_second:,.0f} samples/s"
    )


def results_summary(results: Mapping[str, Any]) -> str:
    """The final line of a run: test bits/dim and log-likelihood, each with its standard error
    over the test examples."""
    bpd_error = results.get("test_bits_per_dim_stderr", math.nan)
    ll_error = results.get("test_log_likelihood_stderr_nats", math.nan)
    bpd = f"{results['test_bits_per_dim']:.4f}"
    ll = f"{results['test_log_likelihood_nats']:+.2f}"
    if math.isfinite(bpd_error):
        bpd += f" ± {bpd_error:.4f}"
    if math.isfinite(ll_error):
        ll += f" ± {ll_error:.2f}"
    return (
        f"test {bpd} bits/dim, test log-likelihood {ll} nats per example (± one standard error "
        f"over {results['test_examples']} test examples; model of epoch {results['best_epoch']})"
    )


class RunClock:
    """Training time so far and an estimate for the rest of the run.

    The estimate is the epochs left times the mean epoch time of this session, or what is left
    of the time budget (``max_seconds``, checked before each epoch, so rounded up to whole
    epochs) when that ends the run sooner. With early stopping on, the run may end before.
    """

    def __init__(self, start: FitStart) -> None:
        self.options = start.options
        self.elapsed = start.state.elapsed_seconds if start.start_epoch else 0.0
        self.epoch = start.start_epoch
        self.session_seconds, self.session_epochs = 0.0, 0

    def update(self, record: EpochRecord) -> None:
        self.elapsed += record.seconds
        self.session_seconds += record.seconds
        self.session_epochs += 1
        self.epoch = record.epoch

    def remaining(self) -> tuple[float, str] | None:
        """``(seconds left, why)``, or None before the first epoch of this session."""
        if not self.session_epochs:
            return None
        per_epoch = self.session_seconds / self.session_epochs
        epochs_left = max(self.options.epochs - self.epoch, 0)
        left, why = (
            epochs_left * per_epoch,
            f"{epochs_left} epoch{'' if epochs_left == 1 else 's'}",
        )
        budget = self.options.max_seconds
        if budget is not None and epochs_left:
            budget_epochs = math.ceil(max(budget - self.elapsed, 0.0) / max(per_epoch, 1e-9))
            if budget_epochs < epochs_left:
                left, why = budget_epochs * per_epoch, f"time budget {format_duration(budget)}"
        return left, why

    def text(self) -> str:
        elapsed = f"{format_duration(self.elapsed)} elapsed"
        remaining = self.remaining()
        if remaining is None:
            return f"{elapsed}, estimate after the first epoch"
        left, why = remaining
        if left <= 0:
            return f"{elapsed}, last epoch done"
        bound = "at most " if self.options.patience else ""
        return f"{elapsed}, {bound}~{format_duration(left)} left ({why})"


def start_line(start: FitStart) -> str:
    if start.start_epoch:
        state = start.state
        best = bits_per_dim(state.best_valid_ll, start.features, start.levels)
        return (
            f"resuming after epoch {start.start_epoch} (best so far: validation {best:.3f} "
            f"bits/dim, log-likelihood {state.best_valid_ll:+.1f} nats, at epoch "
            f"{state.best_epoch})"
        )
    ll = start.initial_valid_log_likelihood
    bpd = bits_per_dim(ll, start.features, start.levels)
    return f"initial validation {bpd:.3f} bits/dim (log-likelihood {ll:+.1f} nats)"


class EpochLines(Callback):
    """One plain line per epoch (logs, pipes, CI)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.total = 0
        self.clock: RunClock | None = None

    def _write(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)

    def on_train_start(self, start: FitStart) -> None:
        self.total = start.options.epochs
        self.clock = RunClock(start)
        self._write(start_line(start))

    def epoch_line(self, end: EpochEnd) -> str:
        marker = " *" if end.is_best else ""
        clock = ""
        if self.clock is not None:
            self.clock.update(end.record)
            clock = f"; {self.clock.text()}"
        return f"epoch {end.epoch}/{self.total}: {epoch_summary(end.record)}{marker}{clock}"

    def on_epoch_end(self, end: EpochEnd) -> None:
        self._write(self.epoch_line(end))


class ProgressBar(EpochLines):
    """A tqdm bar over the batches of each epoch, above it the same lines as :class:`EpochLines`
    (written through tqdm so that the bar stays whole); the bar shows the run's clock."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self.bar: Any = None
        self.start: FitStart | None = None
        self.epoch = 0

    def _write(self, text: str) -> None:
        _tqdm.write(text, file=self.stream or sys.stderr)

    def on_train_start(self, start: FitStart) -> None:
        super().on_train_start(start)
        self.start, self.epoch = start, start.start_epoch
        self._open()

    def _open(self) -> None:
        from tqdm.auto import tqdm

        if self.start is None or self.epoch >= self.total:
            return
        self.bar = tqdm(
            total=self.start.train_examples,
            desc=f"epoch {self.epoch + 1}/{self.total}",
            unit="ex",
            unit_scale=True,
            leave=False,
            file=self.stream or sys.stderr,
            dynamic_ncols=True,
        )
        if self.clock is not None:
            self.bar.set_postfix_str(self.clock.text(), refresh=False)

    def on_batch_end(self, examples: int) -> None:
        if self.bar is not None:
            self.bar.update(examples)

    def on_epoch_end(self, end: EpochEnd) -> None:
        self._close()
        super().on_epoch_end(end)
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


__all__ = [
    "PROGRESS_MODES",
    "EpochLines",
    "ProgressBar",
    "RunClock",
    "epoch_summary",
    "format_duration",
    "progress_callbacks",
    "results_summary",
    "start_line",
]
