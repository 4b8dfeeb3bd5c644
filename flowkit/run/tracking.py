"""Experiment trackers during a run: ``--track NAME[=DESTINATION]`` as a training callback.

:func:`tracker_callbacks` turns the ``--track`` values into one :class:`TrackingCallback`
(unknown names are an error before anything is written). The runner then calls
:func:`open_trackers` before training (each tracker's :meth:`~flowkit.Tracker.start`), the
callback forwards every epoch's metrics, and :func:`notify_finished` hands the results to the
trackers and to the ``flowkit_run_finished`` hook once the run file is complete.

A tracker that raises is switched off with one warning line naming it; the run, and its run
file, carry on as if it had not been asked for.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowkit.errors import ConfigurationError, FlowkitWarning
from flowkit.plugins import call_each
from flowkit.trackers import TrackedRun, Tracker, flatten
from flowkit.train.trainer import Callback, EpochEnd

if TYPE_CHECKING:  # pragma: no cover
    from flowkit.datasets import DatasetInfo
    from flowkit.registry import Registry
    from flowkit.run.config import RunConfig

#: The component kind of trackers in the registry.
TRACKER_KIND = "tracker"


class TrackerWarning(FlowkitWarning):
    """A tracker could not start or failed later; the run carries on without it."""


def parse_track_spec(text: str) -> tuple[str, str | None]:
    """``"mlflow=sqlite:///m.db"`` -> ``("mlflow", "sqlite:///m.db")``; ``"tensorboard"`` ->
    ``("tensorboard", None)``."""
    name, sep, destination = text.partition("=")
    name = name.strip()
    if not name or (sep and not destination.strip()):
        raise ConfigurationError(f"--track {text!r}: expected NAME or NAME=DESTINATION")
    return name, destination.strip() if sep else None


class TrackingCallback(Callback):
    """Forwards a run's events to its trackers; a failing tracker is dropped with a warning."""

    def __init__(self, trackers: Iterable[Tracker]) -> None:
        self.pending = list(trackers)
        self.active: list[Tracker] = []

    def _call(self, tracker: Tracker, what: str, *args: Any) -> bool:
        try:
            getattr(tracker, what)(*args)
            return True
        except Exception as err:  # a tracker never changes the run's outcome
            if tracker in self.active:
                self.active.remove(tracker)
            reason = str(err) or type(err).__name__
            when = "could not start" if what == "start" else f"failed in {what} and is off"
            warnings.warn(
                f"tracker {tracker.name!r} {when}: {reason}", TrackerWarning, stacklevel=3
            )
            return False

    def open(self, run: TrackedRun) -> None:
        for tracker in self.pending:
            if self._call(tracker, "start", run):
                self.active.append(tracker)
        self.pending = []

    def on_epoch_end(self, end: EpochEnd) -> None:
        record = end.record
        metrics = {
            "train/bits_per_dim": record.train_bits_per_dim,
            "valid/bits_per_dim": record.valid_bits_per_dim,
            "train/log_likelihood_nats": -record.train_nll_nats,
            "valid/log_likelihood_nats": -record.valid_nll_nats,
            "best_epoch": float(end.best_epoch),
            "epoch_seconds": record.seconds,
            "samples_per_second": record.samples_per_second,
        }
        for tracker in list(self.active):
            self._call(tracker, "log_epoch", end.epoch, metrics)

    def finish(self, status: str, results: Mapping[str, Any]) -> None:
        for tracker in list(self.active):
            self._call(tracker, "finish", status, dict(results))
        self.active = []


def tracker_callbacks(registry: Registry, specs: Iterable[str]) -> list[Callback]:
    """One :class:`TrackingCallback` for the ``--track`` values (none when there are none).

    Unknown names raise :class:`~flowkit.UnknownComponentError` (with suggestions) at once;
    whether a tracker can actually work is found out when the run starts.
    """
    trackers = []
    for spec in specs:
        name, destination = parse_track_spec(spec)
        trackers.append(registry.get(TRACKER_KIND, name)(destination))
    return [TrackingCallback(trackers)] if trackers else []


def open_trackers(
    callbacks: Iterable[Callback],
    path: Path,
    config: RunConfig,
    data: DatasetInfo,
    start_epoch: int,
    enabled: bool = True,
) -> None:
    """Start the trackers of ``callbacks`` (only in the process that writes the run file)."""
    hosts = [cb for cb in callbacks if isinstance(cb, TrackingCallback)]
    if not hosts:
        return
    if not enabled:
        for host in hosts:
            host.pending = []
        return
    nested = config.to_dict()
    info = asdict(data)
    nested["data"] = {k: info[k] for k in ("name", "variant", "levels", "sizes", "checksum")}
    run = TrackedRun(Path(path).stem, Path(path), nested, start_epoch, flatten(nested))
    for host in hosts:
        host.open(run)


def finish_trackers(callbacks: Iterable[Callback], status: str, results: dict[str, Any]) -> None:
    """End the trackers' runs (also when training raised, with status ``failed``)."""
    for callback in callbacks:
        if isinstance(callback, TrackingCallback):
            callback.finish(status, results)


def notify_finished(
    registry, callbacks: Iterable[Callback], path: Path, status: str, results: dict[str, Any]
) -> None:
    """The run file is complete: tell the trackers and the ``flowkit_run_finished`` hook."""
    finish_trackers(callbacks, status, results)
    pm = getattr(registry, "plugin_manager", None)
    if pm is None:
        return
    # One plugin at a time: one that raises is a warning naming it, the others still hear.
    call_each(pm, "flowkit_run_finished", run_file=str(path), status=status, results=dict(results))


__all__ = [
    "TRACKER_KIND",
    "TrackerWarning",
    "TrackingCallback",
    "finish_trackers",
    "notify_finished",
    "open_trackers",
    "parse_track_spec",
    "tracker_callbacks",
]
