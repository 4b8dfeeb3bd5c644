"""Files of the commands that read a run file (``sample``, ``inpaint``, ``report``).

Two rules from the run-pipeline issue: an existing file is never overwritten without
``--force``, and no half-written file is ever left behind (everything is written to a
temporary file in the same folder, then moved into place with ``os.replace``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from flowkit.errors import ConfigurationError, RunFileError
from flowkit.io.atomic import atomic_path
from flowkit.io.space import check_writable_folder

#: Suffixes written as arrays rather than as figures.
ARRAY_SUFFIXES = (".npy", ".npz", ".h5", ".hdf5")
#: Suffixes written as figures (formats of matplotlib's Agg canvas).
FIGURE_SUFFIXES = (
    ".png",
    ".pdf",
    ".svg",
    ".jpg",
    ".jpeg",
    ".eps",
    ".ps",
    ".tif",
    ".tiff",
    ".webp",
)


def check_run_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`Path` if it is an existing file (its content is checked by
    :func:`flowkit.io.runfile.load_run`), else a one-line :class:`RunFileError`."""
    path = Path(path)
    if path.is_dir():
        raise RunFileError(f"{path} is a folder, not a run file")
    if not path.is_file():
        raise RunFileError(f"{path}: no such run file")
    return path


def check_new_output(path: str | os.PathLike[str], force: bool) -> Path:
    """``path`` as a :class:`Path`, after checking it may be written.

    Raises :class:`ConfigurationError` when it exists (and ``force`` is off), names a folder,
    or lies in a folder that does not exist.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigurationError(f"output {path} is a folder; give a file name")
    if path.exists() and not force:
        raise ConfigurationError(f"output {path} already exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        raise ConfigurationError(f"cannot write {path}: folder {path.parent} does not exist")
    check_writable_folder(path.parent)  # read-only: found before anything is loaded
    return path


def check_suffix(path: Path, allowed: tuple[str, ...], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise ConfigurationError(
            f"cannot tell how to write {what} {path.name!r}: use one of {', '.join(allowed)}"
        )
    return suffix


#: Kept for callers of flowkit 0.1: the one atomic-write helper is flowkit.io.atomic.atomic_path.
atomic_output = atomic_path


def save_arrays(
    path: str | os.PathLike[str],
    arrays: Mapping[str, np.ndarray],
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``arrays`` atomically by the suffix of ``path``.

    ``.npy`` holds a single array; ``.npz`` holds them all (``attrs`` become 0-d arrays);
    ``.h5``/``.hdf5`` holds one dataset per array and ``attrs`` as root attributes. Nothing is
    pickled, so every file loads with ``allow_pickle=False``.
    """
    path = Path(path)
    suffix = check_suffix(path, ARRAY_SUFFIXES, "arrays")
    attrs = {key: value for key, value in (attrs or {}).items() if value is not None}
    with atomic_output(path) as temporary:
        if suffix == ".npy":
            if len(arrays) != 1:
                raise ConfigurationError(
                    f"{path.name}: a .npy file holds one array; use .npz or .h5"
                )
            with open(temporary, "wb") as stream:
                np.save(stream, next(iter(arrays.values())), allow_pickle=False)
        elif suffix == ".npz":
            extra = {key: np.asarray(value) for key, value in attrs.items() if key not in arrays}
            payload: dict[str, Any] = {**arrays, **extra}
            with open(temporary, "wb") as stream:
                np.savez_compressed(stream, **payload)
        else:
            import h5py

            with h5py.File(temporary, "w") as file:
                for name, array in arrays.items():
                    file.create_dataset(name, data=np.asarray(array), compression="gzip")
                for key, value in attrs.items():
                    file.attrs[key] = value
    return path


__all__ = [
    "ARRAY_SUFFIXES",
    "FIGURE_SUFFIXES",
    "atomic_output",
    "check_new_output",
    "check_run_file",
    "check_suffix",
    "save_arrays",
]
