"""Contract checks for datasets: non-empty finite splits, quantisation, seeded determinism."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import numpy as np

from flowkit.testing.transform_checks import ContractError

#: A callable that builds the dataset under test from keyword options (``seed=`` ...).
Factory = Callable[..., Any]


def check_dataset_splits(make: Factory) -> None:
    """Three non-empty, finite splits of one event shape; quantised values lie in [0, levels)."""
    dataset = make(seed=0)
    splits = dataset.load()
    shapes = {tuple(part.shape[1:]) for part in splits}
    if len(shapes) != 1:
        raise ContractError(f"splits have different event shapes: {sorted(shapes)}")
    for part, what in zip(splits, ("train", "validation", "test")):
        if len(part) == 0:
            raise ContractError(f"the {what} split is empty")
        if not np.isfinite(part.numpy()).all():
            raise ContractError(f"the {what} split has non-finite values")
        if dataset.levels is not None:
            values = part.numpy()
            if (
                values.min() < 0
                or values.max() > dataset.levels - 1
                or (values != np.round(values)).any()
            ):
                raise ContractError(
                    f"the {what} split of quantised data is not integers in [0, {dataset.levels})"
                )
    if dataset.features != int(np.prod(dataset.event_shape)):
        raise ContractError("features is not the product of event_shape")


def check_dataset_determinism(make: Factory) -> None:
    """The same seed gives the same splits and checksum."""
    a, b = make(seed=3), make(seed=3)
    for part_a, part_b in zip(a.load(), b.load()):
        if part_a.shape != part_b.shape or not (part_a == part_b).all():
            raise ContractError("two loads with the same seed give different splits")
    if a.info().checksum != b.info().checksum:
        raise ContractError("two loads with the same seed give different checksums")


DATASET_CHECKS: dict[str, Callable[..., None]] = {
    "splits": check_dataset_splits,
    "determinism": check_dataset_determinism,
}


def iter_dataset_checks(make: Factory) -> Iterator[tuple[str, Callable[[], None]]]:
    for name, check in DATASET_CHECKS.items():
        yield name, partial(check, make)


def check_dataset(make: Factory) -> None:
    for name, check in iter_dataset_checks(make):
        try:
            check()
        except ContractError as err:
            raise ContractError(f"[{name}] {err}") from None
