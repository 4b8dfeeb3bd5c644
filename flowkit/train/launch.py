"""``flowkit run --nproc N``: start N local processes of a command, like ``torchrun --standalone``.

The parent hosts the rendezvous store (a ``TCPStore`` on a free port, as torchrun's agent does,
so no port can be taken between choosing and using it) and starts ``python -m flowkit ...`` once
per rank with the variables torchrun sets (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``...). Then it waits:

- all exit 0: status 0;
- one fails (a status other than 0 and 130, interrupted): the others normally notice their
  lost peer and fail at once; any still running after :data:`TERMINATE_AFTER` seconds (e.g.
  waiting to join) get SIGTERM, and SIGKILL after ``grace`` seconds. The status is the first
  failure's;
- Ctrl-C / SIGTERM to the parent: passed on to every process, which stop together at their next
  training step and finish the run file; a second Ctrl-C kills them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta

#: Seconds between the first failure and SIGKILL of processes still running: torchrun's
#: variable if set, else torchrun's default.
GRACE_ENV = "TORCH_ELASTIC_SHUTDOWN_TIMEOUT"
DEFAULT_GRACE = 30.0
#: Seconds between the first failure and SIGTERM of processes still running.
TERMINATE_AFTER = 5.0
#: Exit status of a process that stopped on Ctrl-C / SIGTERM (its run file says interrupted).
INTERRUPTED = 130
_POLL_SECONDS = 0.05


def worker_environment(
    rank: int, nproc: int, port: int, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of local process ``rank`` of ``nproc`` (torchrun's variables)."""
    env = dict(os.environ if base is None else base)
    env.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        GROUP_RANK="0",
        ROLE_RANK=str(rank),
        WORLD_SIZE=str(nproc),
        LOCAL_WORLD_SIZE=str(nproc),
        ROLE_WORLD_SIZE=str(nproc),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        # The store lives in this (parent) process: every worker connects as a client.
        TORCHELASTIC_USE_AGENT_STORE="True",
    )
    # Do not let N processes each start one thread per core (torchrun sets 1; sharing the
    # cores evenly is as safe and faster when there are more cores than processes).
    env.setdefault("OMP_NUM_THREADS", str(max(1, _usable_cores() // nproc)))
    return env


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def exit_status(returncode: int) -> int:
    """A child's return code as a shell exit status (killed by signal N: 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def launch(nproc: int, args: Sequence[str], *, grace: float | None = None, echo=None) -> int:
    """Run ``python -m flowkit ARGS`` in ``nproc`` processes; return the exit status."""
    from torch.distributed import TCPStore

    if grace is None:
        grace = float(os.environ.get(GRACE_ENV) or DEFAULT_GRACE)
    echo = echo or (lambda text: print(text, file=sys.stderr, flush=True))
    store = TCPStore(
        "127.0.0.1",
        0,
        world_size=nproc + 1,
        is_master=True,
        wait_for_workers=False,
        timeout=timedelta(seconds=60),
    )
    # -P: the working directory is not put on sys.path, so a pluggy.py or torch.py there is
    # never imported by a worker (plain `flowkit` behaves the same); plugins come from
    # installed distributions or PYTHONPATH.
    command = [sys.executable, "-P", "-m", "flowkit", *args]
    processes: list[subprocess.Popen] = []
    signals = {"count": 0}

    def on_signal(signum, frame):
        signals["count"] += 1
        _signal_running(processes, signal.SIGKILL if signals["count"] > 1 else signal.SIGINT)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for rank in range(nproc):
            processes.append(
                subprocess.Popen(command, env=worker_environment(rank, nproc, store.port))
            )
        return _wait(processes, grace, echo)
    finally:
        for process in processes:  # only after an exception here: never leave orphans
            if process.poll() is None:
                process.kill()
                process.wait()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        del store


def _wait(processes: list[subprocess.Popen], grace: float, echo) -> int:
    failed: tuple[int, int] | None = None  # (rank, status) of the first failure
    failed_at = 0.0
    sent: set[str] = set()
    while True:
        codes = [p.poll() for p in processes]
        if all(code is not None for code in codes):
            break
        if failed is None:
            for rank, code in enumerate(codes):
                if code is not None and exit_status(code) not in (0, INTERRUPTED):
                    failed, failed_at = (rank, exit_status(code)), time.monotonic()
                    break
        else:
            waited = time.monotonic() - failed_at
            if waited >= TERMINATE_AFTER and "term" not in sent:
                sent.add("term")
                _signal_running(processes, signal.SIGTERM)
            if waited >= grace and "kill" not in sent:
                sent.add("kill")
                _signal_running(processes, signal.SIGKILL)
        time.sleep(_POLL_SECONDS)
    statuses = [exit_status(p.returncode) for p in processes]
    if failed is None:
        return max(statuses)  # 0, or 130 when the run was interrupted
    rank, status = failed
    if sent or len(set(statuses)) > 1:  # otherwise every process has said why it stopped
        echo(
            f"Error: process {rank} of {len(processes)} failed first (exit status {status}); "
            f"every process has ended (exit statuses: {', '.join(map(str, statuses))})"
        )
    return status


def _signal_running(processes: list[subprocess.Popen], signum: int) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signum)


__all__ = [
    "DEFAULT_GRACE",
    "GRACE_ENV",
    "INTERRUPTED",
    "TERMINATE_AFTER",
    "exit_status",
    "launch",
    "worker_environment",
]
