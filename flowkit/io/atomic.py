"""All-or-nothing file writes: the one helper behind every file flowkit writes.

A file is written under a temporary name in the same directory (so the final rename stays on one
file system and is atomic), flushed to disk, then renamed over the target with :func:`os.replace`
(atomic on POSIX and Windows). A crash, Ctrl-C or ``kill -9`` at any moment leaves either the
previous complete file or the new one, never a half-written file; an exception removes the
temporary file. Temporary names are ``.<name>.<pid>-<hex>.tmp``, so :func:`stale_temporaries`
can find the ones a killed process left behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


def temporary_sibling(path: str | os.PathLike[str]) -> Path:
    """A fresh hidden name next to ``path`` for writing it."""
    target = Path(path)
    return target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Temporary files of ``path`` left by writers that no longer run (killed mid-write)."""
    target = Path(path)
    stale = []
    for candidate in target.parent.glob(f".{target.name}.*-*{TEMPORARY_SUFFIX}"):
        pid = candidate.name[len(target.name) + 2 :].split("-", 1)[0]
        if not pid.isdigit() or not _process_alive(int(pid)):
            stale.append(candidate)
    return stale


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or we cannot tell: keep it)
    return True


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` durably.

    Not :func:`tempfile.mkstemp`: its files are private (0600), and a result file should get the
    usual umask permissions (a replaced file keeps its own). On any error (Ctrl-C included) the
    temporary file is removed.
    """
    target = Path(path)
    temporary = temporary_sibling(target)
    try:
        yield temporary
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, target.stat().st_mode & 0o7777)
        _fsync_file(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as temporary, open(temporary, "xb") as stream:
        stream.write(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = [
    "atomic_path",
    "fsync_directory",
    "stale_temporaries",
    "temporary_sibling",
    "write_bytes",
    "write_text",
]
