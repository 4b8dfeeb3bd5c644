"""Where a run's file goes: ``--out`` checked before anything else, or a new name in ``runs/``;
either is claimed (:func:`flowkit.io.lock.claim_output`) before the run writes it."""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

from flowkit.errors import ConfigurationError
from flowkit.io.lock import OutputBusyError, claim_output, lock_path
from flowkit.run.checks import check_run_output

#: Where a run without ``--out`` is written: the one folder flowkit creates.
DEFAULT_RUN_FOLDER = Path("runs")


def default_run_path(pipeline: str, directory: str | Path = DEFAULT_RUN_FOLDER) -> Path:
    """``runs/<pipeline>-<local time>.h5``, not colliding with an existing file (the folder
    is created: the one folder flowkit creates, see flowkit.io.space)."""
    check_run_output(Path(directory) / "run.h5", default_folder=True)
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigurationError(f"cannot create the folder {directory}: {err.strerror}") from None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(directory) / f"{pipeline}-{stamp}.h5"
    counter = 2
    while path.exists() or lock_path(path).exists():  # a name another run has claimed
        path = Path(directory) / f"{pipeline}-{stamp}-{counter}.h5"
        counter += 1
    return path


def check_output(path: Path, force: bool) -> None:
    """``--out PATH``: a file name, new unless ``force``, in a folder that can be written."""
    if path.is_dir():
        raise ConfigurationError(f"--out {path} is a directory; give a file name such as run.h5")
    if path.exists() and not force:
        raise ConfigurationError(
            f"{path} already exists; use --force to overwrite it or --resume {path} to continue it"
        )
    check_run_output(path)


def claim_default_path(pipeline: str, claimed: contextlib.ExitStack, main: bool) -> Path:
    """A new name in ``runs/``, claimed on ``claimed`` (another run may pick the same name at
    the same moment: then the next one)."""
    for _ in range(100):
        path = default_run_path(pipeline)
        attempt = contextlib.ExitStack()
        try:
            attempt.enter_context(claim_output(path, enabled=main))
        except OutputBusyError:
            continue
        if not path.exists():
            claimed.enter_context(attempt)  # held until the caller's stack closes
            return path
        attempt.close()  # written in the meantime: try the next name
    raise ConfigurationError(f"could not find a free run file name in {DEFAULT_RUN_FOLDER}/")


__all__ = ["DEFAULT_RUN_FOLDER", "check_output", "claim_default_path", "default_run_path"]
