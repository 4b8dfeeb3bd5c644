"""scikit-learn's 8 x 8 handwritten digits: 1,797 images with 17 grey levels (0..16).

Small enough for a NICE model to train in seconds on a CPU: the quick real-image dataset.
"""

from __future__ import annotations

import functools

import numpy as np

from flowkit import DataError, Dataset, Splits, require

from .common import claim_options, split_labelled


@functools.lru_cache(maxsize=1)
def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """``uint8 [1797, 8, 8]`` images with values 0..16 and their labels."""
    datasets = require(
        "sklearn.datasets", extra="data", feature="the digits dataset", package="scikit-learn"
    )
    bunch = datasets.load_digits()
    images = np.asarray(bunch.images)
    if (images != np.round(images)).any() or images.min() < 0 or images.max() > 16:
        raise DataError("scikit-learn's digits are not integers in 0..16 as expected")
    images = images.astype(np.uint8)
    labels = np.asarray(bunch.target, dtype=np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


class Digits(Dataset):
    """scikit-learn's 8 x 8 digits (``sklearn.datasets.load_digits``), 17 levels, seeded splits.

    After :meth:`load`, ``labels`` holds the digit classes per split.
    """

    name = "digits"
    description = "scikit-learn's 8x8 digits, 1797 images, 17 levels"

    def __init__(self, **common) -> None:
        super().__init__(**common)
        claim_options(self)
        self.labels: Splits | None = None

    def _load(self) -> Splits:
        images, labels = sklearn_digits()
        splits, self.labels = split_labelled(self, images, labels)
        self.levels = 17
        self.variant = f"sklearn-{len(images)}"
        self.extra = {"source": "sklearn.datasets.load_digits", "examples": len(images)}
        return splits
