"""Where files go: writable folders, full disks, and temporary files left by a killed process.

The rule for missing folders, the same for every command: an output's folder must exist (flowkit
creates no folder a user names, as ``cp`` does not); the only folder flowkit creates is its own
default, ``runs/`` of ``flowkit run`` without ``--out``. ``report -o DIR`` creates ``DIR`` itself
(it is the output), not its parents. Whether a folder can be written is found out by creating a
file in it, before any data is loaded or model built.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from flowkit.errors import ConfigurationError, FlowkitError
from flowkit.io.atomic import stale_temporaries

#: ``errno`` values that mean "the file system is full" (quota included).
NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class NoSpaceError(FlowkitError):
    """The file system filled up while writing ``path`` (nothing was replaced)."""

    def __init__(self, device: str, path: str | Path, detail: str = "") -> None:
        self.device, self.path = device, Path(path)
        super().__init__(f"no space left on {device} writing {path}{detail}")


def mount_point(path: str | Path) -> str:
    """The mount point of the file system holding ``path`` (what ``df`` calls it)."""
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return str(current)


def is_no_space(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in NO_SPACE


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Remove the temporary files of ``target`` whose writing process is gone (``kill -9``
    during a write); returns what was removed. Files of live processes are left alone."""
    removed = []
    for entry in stale_temporaries(target):
        try:
            entry.unlink()
            removed.append(entry)
        except OSError:
            pass
    return removed


def check_writable_folder(folder: str | Path, what: str = "output") -> Path:
    """``folder`` exists, is a folder and a file can be created in it; else one line."""
    folder = Path(folder)
    if not folder.exists():
        raise ConfigurationError(f"cannot write the {what}: folder {folder} does not exist")
    if not folder.is_dir():
        raise ConfigurationError(f"cannot write the {what}: {folder} is not a folder")
    probe = folder / f".flowkit-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as err:
        reason = "it is read-only" if err.errno in (errno.EACCES, errno.EROFS, errno.EPERM) else ""
        reason = reason or (os.strerror(err.errno) if err.errno else str(err))
        raise ConfigurationError(f"cannot write the {what} in folder {folder}: {reason}") from None
    probe.unlink(missing_ok=True)
    return folder


__all__ = [
    "NO_SPACE",
    "NoSpaceError",
    "check_writable_folder",
    "is_no_space",
    "mount_point",
    "remove_stale_temporaries",
]
