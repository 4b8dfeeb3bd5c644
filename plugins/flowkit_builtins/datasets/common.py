"""Helpers shared by the built-in datasets: strict options and labelled seeded splits."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from flowkit import ConfigurationError, Dataset, Splits, split_indices


def claim_options(dataset: Dataset, **resolved: Any) -> None:
    """Reject options the dataset does not know; record the ones it uses in ``options``.

    ``dataset.options`` then holds everything needed to build the same dataset again (with
    ``data_dir``, ``seed`` and the split fractions), e.g. from a run file's configuration.
    """
    unknown = sorted(dataset.options)
    if unknown:
        known = ", ".join(resolved) or "none"
        raise ConfigurationError(
            f"dataset {dataset.name!r} has no option {', '.join(map(repr, unknown))} "
            f"(its options: {known})"
        )
    dataset.options = resolved


def positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigurationError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def positive_float(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not number > 0 or number == float("inf"):
        raise ConfigurationError(f"{what} must be a positive number, got {value!r}")
    return number


def split_labelled(
    dataset: Dataset, examples: np.ndarray, labels: np.ndarray
) -> tuple[Splits, Splits]:
    """Split examples and their labels with the dataset's seeded shuffle (same as the base's)."""
    parts = split_indices(
        len(examples), dataset.seed, dataset.validation_fraction, dataset.test_fraction
    )
    splits = Splits(*(examples[i] for i in parts))
    label_splits = Splits(*(torch.as_tensor(labels[i], dtype=torch.int64) for i in parts))
    return splits, label_splits
