"""Reading IDX files, the format MNIST is distributed in, with plain numpy.

An IDX file is a 4-byte magic number ``00 00 TT NN`` (``TT`` the element type, ``NN`` the number
of dimensions), then ``NN`` big-endian uint32 sizes, then the elements in C order, big-endian.
Files may be gzipped; that is recognised by content, not by name.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from flowkit import DataError

#: Element type codes of the IDX format and the numpy dtypes they stand for (big-endian).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | Path) -> bytes:
    """The file's content, decompressed when it is gzipped."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(
            f"{path} is a corrupt or truncated gzip file ({err}); download it again"
        ) from None


def parse_idx(content: bytes, source: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an IDX file into an array of native byte order."""
    if len(content) < 4:
        raise DataError(
            f"{source} is not an IDX file: {len(content)} bytes, too short for a header"
        )
    zero, type_code, ndim = content[:2], content[2], content[3]
    if zero != b"\x00\x00" or type_code not in IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{source} is not an IDX file: magic number {content[:4].hex()} "
            "(expected 0000 then a type code 08/09/0b/0c/0d/0e and a dimension count)"
        )
    header = 4 + 4 * ndim
    if len(content) < header:
        raise DataError(
            f"{source} is truncated: the header needs {header} bytes, the file has {len(content)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(content) != expected:
        problem = "is truncated" if len(content) < expected else "has trailing bytes"
        raise DataError(
            f"{source} {problem}: its header announces shape {shape} of {dtype.name} "
            f"({expected} bytes with the header), the file has {len(content)} bytes"
        )
    array = np.frombuffer(content, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or not); :class:`~flowkit.DataError` if it is corrupt."""
    return parse_idx(read_bytes(path), source=str(path))
