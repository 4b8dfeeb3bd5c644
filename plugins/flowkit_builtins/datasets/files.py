"""A user's own data from a file: ``.npy``, ``.npz``, ``.csv``, ``.h5`` / ``.hdf5``.

One example per row: an array of shape ``[examples, ...]``, its event shape the rest.

Quantisation follows the stored type. Integer (and boolean) data is quantised: ``levels`` is
inferred as ``max + 1`` (at least 2) unless given, and values must lie in ``[0, levels)``.
Floating-point data is continuous and is not dequantised, unless ``levels`` is given, in which
case it must hold whole numbers in ``[0, levels)``. A CSV has no stored type: it is integer data
when every field is written as an integer (``3``, not ``3.0``).

The CLI maps ``--dataset VALUE`` that is not a registered dataset name to this dataset when
:func:`looks_like_path` says the value names a file (an existing path, a known suffix, or a
``/``): ``cls = registry.get("dataset", "file")``, ``cls.looks_like_path(VALUE)``, then
``cls(path=VALUE, ...)`` (reached through the registry, so the core imports no built-in).
The path may carry the array's name: ``data.h5:images``, ``data.h5:group/images``,
``arrays.npz:x`` (or give ``key=``).

Before reading, the declared size is checked against :data:`MAX_DATA_BYTES` (a header can declare
any shape), and an HDF5 file is refused when it holds links or datasets that read outside it
(:func:`flowkit.hdf5_hazard`: external links, virtual datasets, external storage).
"""

from __future__ import annotations

import math
import os
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np

from flowkit import ConfigurationError, DataError, Dataset, hdf5_hazard

from .common import claim_options, positive_int

#: Known suffixes and the format each one is read as.
FORMATS: dict[str, str] = {
    ".npy": "npy",
    ".npz": "npz",
    ".csv": "csv",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
}
#: Most bytes of data a file may declare, counted as float32 (what flowkit trains on) or as stored
#: when wider: a header declaring 10**12 rows is one line before anything is allocated.
MAX_DATA_BYTES = 16 * 2**30
_KEYED_SPEC = re.compile(r"^(.+?\.(?:h5|hdf5|npz)):(.+)$", re.IGNORECASE)
_MAX_LISTED = 20


def split_spec(spec: str | os.PathLike) -> tuple[Path, str | None]:
    """``"data.h5:images"`` -> ``(Path("data.h5"), "images")``; an existing path is never split."""
    text = os.fspath(spec)
    if not Path(text).exists():
        match = _KEYED_SPEC.match(text)
        if match:
            return Path(match.group(1)), match.group(2)
    return Path(text), None


def looks_like_path(spec: str) -> bool:
    """Whether a ``--dataset`` value names a file rather than a registered dataset."""
    path, _ = split_spec(spec)
    return path.exists() or path.suffix.lower() in FORMATS or "/" in spec or os.sep in spec


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    more = f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
    return (shown + more) if names else "none"


class FileDataset(Dataset):
    """Examples read from a ``.npy``, ``.npz``, ``.csv`` or ``.h5``/``.hdf5`` file.

    Options: ``path`` (required; may end in ``:KEY`` for ``.npz``/``.h5``), ``key`` (the array
    name in a ``.npz``, the dataset path in an HDF5 file; optional when the file holds exactly
    one), ``levels`` (override the inferred quantisation), ``delimiter`` (CSV, default ``,``).
    """

    name = "file"
    description = "your own data: .npy, .npz, .csv or .h5 (path=FILE[:KEY])"
    contract_examples = None
    contract_skip_reason = (
        "needs a user's file (option path); its own tests run flowkit.testing.check_dataset "
        "on temporary .npy, .npz, .csv and .h5 files"
    )
    looks_like_path = staticmethod(looks_like_path)

    def __init__(
        self,
        *,
        path: str | os.PathLike | None = None,
        key: str | None = None,
        levels: int | None = None,
        delimiter: str = ",",
        **common,
    ) -> None:
        super().__init__(**common)
        if path is None or os.fspath(path) == "":
            raise ConfigurationError("the file dataset needs a path: --dataset FILE or path=FILE")
        file_path, spec_key = split_spec(path)
        if spec_key is not None and key is not None and spec_key != key:
            raise ConfigurationError(f"two keys given: {spec_key!r} in the path and key={key!r}")
        key = key if key is not None else spec_key
        if levels is not None:
            levels = positive_int(levels, "levels", minimum=2)
        if not delimiter:
            raise ConfigurationError("delimiter must be a character such as ',', got ''")
        self.path, self.key = file_path, key
        self.format = FORMATS.get(file_path.suffix.lower())
        if key is not None and self.format not in (None, "npz", "hdf5"):
            raise ConfigurationError(
                f"key={key!r} applies to .npz and .h5 files, not {file_path.name}"
            )
        claim_options(self, path=str(file_path), key=key, levels=levels, delimiter=delimiter)

    # ---- loading ------------------------------------------------------------------------------
    def _load(self) -> np.ndarray:
        path = self.path
        if not path.exists():
            raise DataError(f"{path}: no such file")
        if not path.is_file():
            raise DataError(f"{path} is not a file")
        if self.format is None:
            raise DataError(
                f"{path}: unknown file type {path.suffix or '(no suffix)'}; "
                f"flowkit reads {', '.join(FORMATS)}"
            )
        readers = {
            "npy": self._read_npy,
            "npz": self._read_npz,
            "csv": self._read_csv,
            "hdf5": self._read_hdf5,
        }
        array = readers[self.format]()
        where = f"{path}:{self.key}" if self.key else str(path)
        self.variant = where
        array = self._validated(array, where)
        self.levels = self._quantisation(array, where)
        self.extra = {
            "path": str(path.resolve()),
            "format": self.format,
            "key": self.key or "",
            "dtype": array.dtype.name,
        }
        return array

    def _starts_with(self, magic: bytes, what: str) -> None:
        # np.load takes any other content for a pickle and would misreport it as objects.
        with open(self.path, "rb") as handle:
            if handle.read(len(magic)) != magic:
                raise DataError(f"{self.path} is not a valid {what} file (wrong magic number)")

    def _check_size(self, shape: tuple[int, ...], dtype: np.dtype, where: str) -> None:
        """The declared size within :data:`MAX_DATA_BYTES` (before anything is read)."""
        size = math.prod(shape) * max(dtype.itemsize, 4)
        if size > MAX_DATA_BYTES:
            rows = f"{shape[0]:,} examples of shape {tuple(shape[1:])}" if shape else "a value"
            raise DataError(
                f"{where} declares {rows} ({size / 2**30:,.0f} GiB); flowkit loads at most "
                f"{MAX_DATA_BYTES // 2**30} GiB of data"
            )

    def _check_npy_header(self, stream, where: str) -> None:
        try:
            version = np.lib.format.read_magic(stream)
            read = np.lib.format.read_array_header_1_0
            if version != (1, 0):
                read = np.lib.format.read_array_header_2_0
            shape, _, dtype = read(stream)
        except ValueError as err:
            raise DataError(f"{where} is not a valid .npy array ({err})") from None
        self._check_size(shape, dtype, where)

    def _read_npy(self) -> np.ndarray:
        self._starts_with(b"\x93NUMPY", ".npy")
        with open(self.path, "rb") as stream:
            self._check_npy_header(stream, str(self.path))
        try:
            return np.load(self.path, allow_pickle=False)
        except ValueError as err:
            if "allow_pickle" in str(err):
                raise DataError(
                    f"{self.path} holds Python objects; flowkit reads plain numeric arrays only"
                ) from None
            raise DataError(f"{self.path} is not a valid .npy file ({err})") from None
        except (OSError, EOFError) as err:
            raise DataError(f"{self.path} is not a valid .npy file ({err})") from None

    def _read_npz(self) -> np.ndarray:
        self._starts_with(b"PK", ".npz")
        try:
            with np.load(self.path, allow_pickle=False) as archive:
                names = list(archive.files)
                key = self._choose_key(names, "array")
                self.key = key
                member = f"{key}.npy"
                if member in archive.zip.namelist():
                    with archive.zip.open(member) as stream:
                        self._check_npy_header(stream, f"{self.path}:{key}")
                return archive[key]
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise DataError(f"{self.path} is not a valid .npz file ({err})") from None
        except DataError:
            raise
        except ValueError as err:
            raise DataError(f"{self.path}: cannot read array {self.key!r} ({err})") from None

    def _choose_key(self, names: list[str], what: str) -> str:
        if self.key is not None:
            if self.key not in names:
                raise DataError(
                    f"{self.path} has no {what} {self.key!r}; it has: {_listing(names)}"
                )
            return self.key
        if len(names) == 1:
            return names[0]
        if not names:
            raise DataError(f"{self.path} holds no {what}s")
        raise DataError(
            f"{self.path} holds several {what}s ({_listing(names)}); choose one with "
            f"key=NAME or --dataset {self.path}:NAME"
        )

    def _read_csv(self) -> np.ndarray:
        delimiter = self.options["delimiter"]
        try:
            lines = self.path.read_text().splitlines()
        except UnicodeDecodeError:
            raise DataError(f"{self.path} is not a text CSV file") from None
        content = [
            (i, line)
            for i, line in enumerate(lines)
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not content:
            raise DataError(f"{self.path} has no rows")
        first_index, first = content[0]
        header = not all(_is_number(field) for field in first.split(delimiter))
        if header and len(content) == 1:
            raise DataError(f"{self.path} has a header but no rows")
        skip = first_index + 1 if header else 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for dtype in (np.int64, np.float64):
                try:
                    return np.loadtxt(
                        self.path, delimiter=delimiter, skiprows=skip, dtype=dtype, ndmin=2
                    )
                except ValueError as err:
                    problem = err
        raise DataError(f"{self.path} is not a numeric CSV file ({problem})")

    def _read_hdf5(self) -> np.ndarray:
        import h5py

        try:
            handle = h5py.File(self.path, "r")
        except OSError as err:
            raise DataError(f"{self.path} is not a readable HDF5 file ({err})") from None
        with handle:
            hazard = hdf5_hazard(handle)  # before anything is read
            if hazard:
                raise DataError(f"{self.path}: {hazard}")
            names: list[str] = []
            handle.visititems(
                lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None
            )
            if self.key is not None and self.key in handle:
                key = self.key
            else:
                key = self._choose_key(names, "dataset")
            node = handle[key]
            if not isinstance(node, h5py.Dataset):
                raise DataError(
                    f"{self.path}:{key} is a group, not a dataset; "
                    f"datasets in the file: {_listing(names)}"
                )
            self.key = key
            self._check_size(node.shape or (), node.dtype, f"{self.path}:{key}")
            try:
                return node[()]
            except (OSError, TypeError, ValueError) as err:
                raise DataError(f"{self.path}:{key} cannot be read ({err})") from None

    # ---- checks -------------------------------------------------------------------------------
    def _validated(self, array: np.ndarray, where: str) -> np.ndarray:
        array = np.asarray(array)
        if array.dtype == np.bool_:
            array = array.astype(np.uint8)
        if array.dtype.kind not in "iuf":
            raise DataError(f"{where} is not numeric data (dtype {array.dtype})")
        if array.ndim == 0:
            raise DataError(f"{where} holds a single value, not examples")
        if array.ndim == 1:
            raise DataError(
                f"{where} is 1-D (shape {array.shape}); flowkit needs one example per row, "
                f"[examples, features, ...]: for one feature reshape it to ({len(array)}, 1)"
            )
        if len(array) == 0 or array.size == 0:
            raise DataError(f"{where} has no rows (shape {array.shape})")
        if array.dtype.kind == "f":
            bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
            if bad.any():
                rows = np.flatnonzero(bad)
                raise DataError(
                    f"{where} contains NaN or infinite values in {len(rows)} example(s), "
                    f"the first at row {rows[0]}"
                )
        return array

    def _quantisation(self, array: np.ndarray, where: str) -> int | None:
        levels = self.options["levels"]
        if array.dtype.kind == "f" and levels is None:
            return None
        if array.dtype.kind == "f" and (array != np.round(array)).any():
            raise DataError(f"{where}: levels={levels} given but the data are not whole numbers")
        low, high = array.min(), array.max()
        if low < 0:
            raise DataError(
                f"{where}: quantised data must be integers in [0, levels), the minimum is {low}; "
                "store continuous data as floating point"
            )
        if levels is None:
            return max(int(high) + 1, 2)
        if high >= levels:
            raise DataError(f"{where}: levels={levels} but the data reach {high}")
        return levels


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True
