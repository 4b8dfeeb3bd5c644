"""How a run answers SIGINT and SIGTERM: stop at the next training step, finish the file.

One process handles the signals here; several processes install their own handlers so they stop
together (:mod:`flowkit.train.distributed`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flowkit.train.topology import Topology

#: SIGINT (Ctrl-C) and SIGTERM (``kill``, job schedulers).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _handled(
    topology: Topology, signums: Iterable[int], handler: Callable[[int, Any], None]
) -> Iterator[None]:
    """``handler`` answers ``signums`` inside the block; the previous handlers come back after.

    Only the main thread of a single process installs handlers (several processes install their
    own, to stop together: flowkit.train.distributed).
    """
    if threading.current_thread() is not threading.main_thread() or topology.world_size > 1:
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def stop_signals_request_stop(topology: Topology) -> Iterator[None]:
    """While training, SIGINT and SIGTERM ask ``topology`` to stop at the next step, so the run
    file is finished from a safe point."""
    with _handled(topology, STOP_SIGNALS, topology.request_stop):
        yield


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt(topology: Topology) -> Iterator[None]:
    """SIGTERM (``kill``, job schedulers) stops training like Ctrl-C: the file is finished."""
    with _handled(topology, (signal.SIGTERM,), _interrupt):
        yield


class HeldSignals:
    """Which signals arrived while held (see :func:`hold_signals`)."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def describe(self) -> str:
        names = sorted({signal.Signals(s).name for s in self.received})
        return " and ".join(names)

    def __call__(self, signum: int, frame: Any) -> None:
        self.received.append(signum)


@contextlib.contextmanager
def hold_signals(topology: Topology) -> Iterator[HeldSignals]:
    """SIGINT and SIGTERM are recorded, not acted on, while the file is finished (a write that
    is cut short leaves the previous version, whose status is ``running``)."""
    held = HeldSignals()
    with _handled(topology, STOP_SIGNALS, held):
        yield held


__all__ = [
    "STOP_SIGNALS",
    "HeldSignals",
    "hold_signals",
    "sigterm_as_interrupt",
    "stop_signals_request_stop",
]
