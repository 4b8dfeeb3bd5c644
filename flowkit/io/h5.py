"""Small HDF5 helpers: tensors as plain datasets, attributes from Python values, atomic files.

Nothing here pickles: tensors become numpy arrays, structured values become JSON strings. Every
dataset written here carries the SHA-256 of its values (:data:`CHECKSUM_ATTR`), verified by
:func:`read_array` on every read; files written before checksums read unverified. Readers call
:func:`refuse_hazards` on a file before reading it: the rule of :func:`flowkit.hdf5.hdf5_hazard`
(no virtual datasets, external storage, external or user-defined links).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor

from flowkit.hdf5 import display_name, hdf5_hazard
from flowkit.io.atomic import write_bytes
from flowkit.io.schema import DamagedRunFile
from flowkit.io.space import NoSpaceError, is_no_space, mount_point

#: Attribute recording a tensor's torch dtype where numpy has no equivalent (bfloat16).
TORCH_DTYPE_ATTR = "torch_dtype"
#: Prefix of attribute values stored as JSON (lists of mixed types, dicts, None).
JSON_PREFIX = "json:"
#: Attribute of every dataset flowkit writes: ``sha256:`` and the hex SHA-256 of its values'
#: bytes (C order, the stored dtype).
CHECKSUM_ATTR = "checksum"


def checksum(values: np.ndarray) -> str:
    """``sha256:HEX`` of an array's bytes in C order (hashed in place when contiguous)."""
    data = np.ascontiguousarray(values).reshape(-1)
    return "sha256:" + hashlib.sha256(data.view(np.uint8).data).hexdigest()


def write_array(
    group: h5py.Group, name: str, values: Any, attrs: Mapping[str, Any] | None = None
) -> h5py.Dataset:
    """``values`` as dataset ``name`` of ``group``, with its checksum and ``attrs``."""
    array = np.asarray(values)
    dataset = group.create_dataset(name, data=array)
    dataset.attrs[CHECKSUM_ATTR] = checksum(array)
    dataset.attrs.update(attrs or {})
    return dataset


def write_tensors(group: h5py.Group, tensors: Mapping[str, Tensor]) -> None:
    """One dataset per entry (state_dict keys contain dots, never slashes)."""
    for key, tensor in tensors.items():
        if "/" in key:
            raise ValueError(f"tensor name {key!r} contains '/'")
        value = tensor.detach().cpu()
        attrs = {}
        if value.dtype == torch.bfloat16:
            value, attrs[TORCH_DTYPE_ATTR] = value.float(), "bfloat16"
        write_array(group, key, value.numpy(), attrs)


def refuse_hazards(node: h5py.Group | h5py.Dataset) -> None:
    """:class:`DamagedRunFile` if ``node`` holds anything :func:`hdf5_hazard` refuses (call it
    before reading from a file)."""
    hazard = hdf5_hazard(node)
    if hazard:
        raise DamagedRunFile(hazard)


#: Most bytes a dataset may expand to per byte stored (uncompressed datasets: 1; a compressed or
#: unallocated one declaring terabytes would otherwise be read into memory whole).
MAX_EXPANSION = 1024


def read_array(dataset: h5py.Dataset, kinds: str = "fiub") -> np.ndarray:
    """A dataset as a numpy array, refusing non-numeric dtypes, sizes its file cannot hold and
    values that do not match their checksum."""
    if not isinstance(dataset, h5py.Dataset):
        raise ValueError(f"{dataset.name} is not a dataset")
    refuse_hazards(dataset)
    if dataset.dtype.kind not in kinds:
        raise ValueError(f"{dataset.name} has dtype {dataset.dtype}, expected numbers")
    stored = dataset.id.get_storage_size()
    if dataset.nbytes > max(stored * MAX_EXPANSION, 2**20):
        raise ValueError(f"{dataset.name} declares {dataset.nbytes:,} bytes but stores {stored:,}")
    array = np.array(dataset[()])
    if CHECKSUM_ATTR in dataset.attrs:  # absent in files written before checksums
        expected, where = from_attr(dataset.attrs[CHECKSUM_ATTR]), display_name(dataset.name)
        if not isinstance(expected, str) or not expected.startswith("sha256:"):
            raise DamagedRunFile(f"{where}: its checksum attribute is not sha256:HEX")
        if checksum(array) != expected:
            raise DamagedRunFile(
                f"{where} does not match its checksum: its values changed after flowkit wrote them"
            )
    return array


def read_tensors(group: h5py.Group) -> dict[str, Tensor]:
    tensors = {}
    for key, dataset in group.items():
        if not isinstance(dataset, h5py.Dataset):
            raise ValueError(f"{group.name}/{key} is not a dataset")
        tensor = torch.from_numpy(read_array(dataset))
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

    The file is built in memory (h5py's ``core`` driver), then written under a temporary name in
    the same directory, flushed to disk and renamed over ``path`` with :func:`os.replace`
    (atomic on POSIX and Windows): a crash or ``kill -9`` at any moment leaves either the
    previous complete file or the new one. Building in memory keeps HDF5's own writes away from
    the disk: a full disk is then one :class:`flowkit.io.space.NoSpaceError` from a plain
    ``write`` (HDF5 itself crashed in ``close`` when its writes failed), with the temporary file
    removed and ``path`` untouched.
    """
    handle = h5py.File(f"flowkit-{id(path)}.h5", "w", driver="core", backing_store=False)
    try:
        yield handle
        handle.flush()
        image = handle.id.get_file_image()
    finally:
        handle.close()
    try:
        write_bytes(path, image)  # flowkit.io.atomic: temporary file, fsync, rename
    except OSError as err:
        if is_no_space(err):
            raise NoSpaceError(
                mount_point(os.path.dirname(os.path.abspath(path))), Path(path)
            ) from None
        raise


__all__ = [
    "CHECKSUM_ATTR",
    "atomic_h5",
    "checksum",
    "from_attr",
    "read_array",
    "read_attrs",
    "read_tensors",
    "refuse_hazards",
    "to_attr",
    "write_array",
    "write_attrs",
    "write_tensors",
]
