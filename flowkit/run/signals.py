"""How a run answers SIGINT and SIGTERM: one handler over its whole life, acting by phase.

One handler (:class:`RunSignals`) is installed for the whole run (by ``flowkit run`` for the
whole command, else by :func:`flowkit.run.runner.start_run` itself), and what a signal does
depends on where the run is (docs/run-file.md, "Endings"):

- ``starting`` (arguments, data, model): ``KeyboardInterrupt`` at once; nothing is written;
- ``training``: a request to stop at the next step (:meth:`Topology.request_stop`); a stop asked
  after the last step interrupts the final evaluation instead of being lost;
- ``finishing`` (final evaluation, samples): ``KeyboardInterrupt`` at once: evaluation skipped;
- ``held`` (the final write and after it, up to the end of the command): recorded only, said
  in one line once the file is complete.

A signal that interrupts moves the run to ``held``, so a second Ctrl-C never interrupts the
clean-up of the first. Having one handler, installed once, leaves no moment between two phases
where Python's default handler would raise in the middle of a write.

Several processes install their own handlers so they stop together
(:mod:`flowkit.train.distributed`); there this handler is not installed.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import warnings
from collections.abc import Iterator
from typing import Any

from flowkit.errors import FlowkitWarning
from flowkit.train.topology import Topology

#: SIGINT (Ctrl-C) and SIGTERM (``kill``, job schedulers).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STARTING, TRAINING, FINISHING, HELD = "starting", "training", "finishing", "held"


class RunSignals:
    """The SIGINT and SIGTERM handler of one run (see the module documentation)."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.phase = STARTING
        self.installed = False
        #: Signals that arrived while held (not yet reported).
        self.received: list[int] = []
        #: The signal whose KeyboardInterrupt is on its way (until :meth:`interrupted`).
        self.interrupting: int | None = None

    def __call__(self, signum: int, frame: Any) -> None:
        if self.phase == TRAINING:
            self.topology.request_stop(signum, frame)
        elif self.phase == HELD:
            self.received.append(signum)
        else:  # starting or finishing: stop now, once; what comes later waits
            self.phase, self.interrupting = HELD, signum
            raise KeyboardInterrupt

    def train(self) -> None:
        self.phase = TRAINING

    def finish(self) -> None:
        """Training is over: a stop asked for after its last step interrupts now."""
        self.phase = FINISHING
        if self.installed and self.topology.stop_requested:
            self.topology.stop_requested = False
            self.phase = HELD
            raise KeyboardInterrupt

    def hold(self) -> None:
        self.phase = HELD
        if self.installed:  # training is over: a stop asked for now is only reported
            self.topology.stop_requested = False

    def interrupted(self) -> None:
        """The KeyboardInterrupt was acted on (one raised inside a ``__del__`` is lost: then
        its signal is reported with the held ones)."""
        self.hold()
        self.interrupting = None

    def report(self, path: object, status: str) -> None:
        """One warning line for the signals held so far (then forgotten), if any."""
        held = self.take_received()
        if held:
            message = f"{held} arrived while finishing: {path} is complete ({status})"
            warnings.warn(message, FlowkitWarning, stacklevel=3)

    def take_received(self) -> str:
        """The signals held so far, in words (``SIGINT and SIGTERM``; empty: none), forgotten."""
        if self.interrupting is not None:
            self.received.append(self.interrupting)
            self.interrupting = None
        names = sorted({signal.Signals(s).name for s in self.received})
        self.received.clear()
        return " and ".join(names)


@contextlib.contextmanager
def run_signals(topology: Topology) -> Iterator[RunSignals]:
    """Install a :class:`RunSignals` for the block, or join the one already installed (by
    ``flowkit run`` around a whole command); the previous handlers come back after.

    Only the main thread of a single process installs handlers (several processes install their
    own, to stop together: flowkit.train.distributed).
    """
    if threading.current_thread() is not threading.main_thread() or topology.world_size > 1:
        yield RunSignals(topology)  # not installed: its phases change nothing
        return
    current = signal.getsignal(signal.SIGINT)
    if isinstance(current, RunSignals):
        current.topology = topology
        yield current
        return
    handler = RunSignals(topology)
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    handler.installed = True
    try:
        yield handler
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


__all__ = ["STOP_SIGNALS", "RunSignals", "run_signals"]
