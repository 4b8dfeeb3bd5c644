"""How a run answers SIGINT and SIGTERM: stop at the next training step, finish the file.

One process handles the signals here; several processes install their own handlers so they stop
together (:mod:`flowkit.train.distributed`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from flowkit.train.topology import Topology


@contextlib.contextmanager
def stop_signals_request_stop(topology: Topology) -> Iterator[None]:
    """While training, SIGINT and SIGTERM ask ``topology`` to stop at the next step, so the run
    file is finished from a safe point (several processes install their own handlers)."""
    if threading.current_thread() is not threading.main_thread() or topology.world_size > 1:
        yield
        return
    previous = {
        signum: signal.signal(signum, topology.request_stop)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def sigterm_as_interrupt(topology: Topology) -> Iterator[None]:
    """SIGTERM (``kill``, job schedulers) stops training like Ctrl-C: the file is finished.

    Several processes handle both signals themselves, to stop together
    (flowkit.train.distributed)."""
    if threading.current_thread() is not threading.main_thread() or topology.world_size > 1:
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


__all__ = ["sigterm_as_interrupt", "stop_signals_request_stop"]
