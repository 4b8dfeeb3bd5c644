"""Small HDF5 helpers: tensors as plain datasets, attributes from Python values, atomic files.

Nothing here pickles: tensors become numpy arrays, structured values become JSON strings.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor

#: Attribute recording a tensor's torch dtype where numpy has no equivalent (bfloat16).
TORCH_DTYPE_ATTR = "torch_dtype"
#: Prefix of attribute values stored as JSON (lists of mixed types, dicts, None).
JSON_PREFIX = "json:"


def write_tensors(group: h5py.Group, tensors: Mapping[str, Tensor]) -> None:
    """One dataset per entry (state_dict keys contain dots, never slashes)."""
    for key, tensor in tensors.items():
        if "/" in key:
            raise ValueError(f"tensor name {key!r} contains '/'")
        value = tensor.detach().cpu()
        attrs = {}
        if value.dtype == torch.bfloat16:
            value, attrs[TORCH_DTYPE_ATTR] = value.float(), "bfloat16"
        dataset = group.create_dataset(key, data=value.numpy())
        dataset.attrs.update(attrs)


def read_tensors(group: h5py.Group) -> dict[str, Tensor]:
    tensors = {}
    for key, dataset in group.items():
        if not isinstance(dataset, h5py.Dataset):
            raise ValueError(f"{group.name}/{key} is not a dataset")
        tensor = torch.from_numpy(np.array(dataset[()]))
        if dataset.attrs.get(TORCH_DTYPE_ATTR) == "bfloat16":
            tensor = tensor.to(torch.bfloat16)
        tensors[key] = tensor
    return tensors


def to_attr(value: Any) -> Any:
    """A value h5py stores as a readable attribute; anything structured becomes JSON text."""
    if isinstance(value, str):
        return str(value)  # str subclasses (torch's version string) confuse h5py
    if isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
        return value
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        return np.asarray(value)
    return JSON_PREFIX + json.dumps(value, sort_keys=True, default=str)


def from_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value.startswith(JSON_PREFIX):
        return json.loads(value[len(JSON_PREFIX) :])
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_attrs(target: h5py.Group | h5py.Dataset, values: Mapping[str, Any]) -> None:
    """Each value as an attribute; ``None`` values are left out (read them back with ``.get``)."""
    for key, value in values.items():
        if value is not None:
            target.attrs[key] = to_attr(value)


def read_attrs(target: h5py.Group | h5py.Dataset) -> dict[str, Any]:
    return {key: from_attr(value) for key, value in target.attrs.items()}


@contextmanager
def atomic_h5(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Write an HDF5 file at ``path`` all or nothing.

    The file is written under a temporary name in the same directory, flushed to disk, then
    renamed over ``path`` with :func:`os.replace` (atomic on POSIX and Windows): a crash or
    ``kill -9`` at any moment leaves either the previous complete file or the new one.
    """
    target = Path(path)
    # A fresh name next to the target (same file system, so the rename is atomic); created by
    # h5py itself so that the file gets the usual permissions (mkstemp would make it 0600).
    temporary = str(target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with h5py.File(temporary, "w-") as handle:
            yield handle
        _fsync_file(temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; directories cannot be opened this way on Windows.
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
    "atomic_h5",
    "from_attr",
    "read_attrs",
    "read_tensors",
    "to_attr",
    "write_attrs",
    "write_tensors",
]
