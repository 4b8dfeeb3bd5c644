"""One writer per output: an exclusive lock taken before a run starts, held until its last write.

Two ``flowkit run`` processes on the same ``--out`` (or a ``--force`` run over a file another
process is resuming) would otherwise both train, both say ``completed`` and leave one of them:
each file write is atomic, but the "already exists" check and the final rename are far apart.
So the writer claims the output first: it takes :func:`fcntl.flock` on a lock file next to it,
``.NAME.lock``, and holds it until the file is finished. A second writer gets one line
(:class:`OutputBusyError`) before it loads any data.

The lock belongs to the open file, not to the file's existence: the operating system releases
it when its holder ends in any way, ``kill -9`` included, so a lock file left by a dead process
never blocks the next run. The holder removes the lock file when it lets go (normal end, error,
Ctrl-C, SIGTERM). Where :mod:`fcntl` does not exist (Windows) there is no lock: the check that
the output does not exist yet is all there is.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from flowkit.errors import ConfigurationError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_SUFFIX = ".lock"


class OutputBusyError(ConfigurationError):
    """Another live process holds the output's lock."""


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file of ``path``: ``.NAME.lock`` in the same folder."""
    target = Path(path)
    return target.with_name(f".{target.name}{LOCK_SUFFIX}")


@contextlib.contextmanager
def claim_output(path: str | os.PathLike[str], *, enabled: bool = True) -> Iterator[None]:
    """Hold the exclusive lock of ``path`` inside the block (``enabled=False``: no-op, for the
    processes of a distributed run that do not write). Raises :class:`OutputBusyError` when a
    live process holds it."""
    if not enabled or fcntl is None:
        yield
        return
    lock = lock_path(path)
    fd = _acquire(lock, Path(path))
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)  # while still holding it: a waiting process then opens a new one
        os.close(fd)


def _acquire(lock: Path, path: Path) -> int:
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise ConfigurationError(
                f"cannot create the lock file {lock} of {path}: {err.strerror or err}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise OutputBusyError(
                f"{path} is being written by another flowkit process{holder}; wait for it to "
                "end, or write elsewhere"
            ) from None
        # The previous holder removes the lock file as it lets go: if it did so after this
        # process opened it, the lock is on a file nobody else sees. Open the new one.
        try:
            current = os.stat(lock)
        except FileNotFoundError:
            current = None
        mine = os.fstat(fd)
        if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode("ascii").strip()
        if text.isdigit():
            return f" (pid {int(text)})"
    return ""


__all__ = ["LOCK_SUFFIX", "OutputBusyError", "claim_output", "lock_path"]
