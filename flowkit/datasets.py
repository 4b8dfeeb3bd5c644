"""Datasets: named sources of examples with an event shape, a quantisation and seeded splits.

A dataset's arrays hold *raw* values: integers in ``[0, levels)`` for quantised data (pixels),
floats for continuous data. :func:`dequantize` turns quantised values into the paper's
continuous inputs, ``(x + u) / levels`` with ``u ~ U(0, 1)`` (NICE section 5.1), drawn afresh
for every example in every epoch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from flowkit.errors import ConfigurationError, DataError
from flowkit.options import check_options, resolve_options

#: Constructor arguments ``flowkit run`` passes itself, and the flags that set them.
DATASET_ARGUMENTS = {"data_dir": "--data-dir", "seed": "--split-seed"}
#: Most quantisation levels of a dataset (what a run file may record, :mod:`flowkit.io.schema`).
MAX_LEVELS = 2**24


@dataclass
class Splits:
    """Train, validation and test examples, each ``[n, *event_shape]`` float32 raw values."""

    train: Tensor
    validation: Tensor
    test: Tensor

    def __iter__(self):
        return iter((self.train, self.validation, self.test))


@dataclass
class DatasetInfo:
    """What identifies the data of a run (recorded in the run file)."""

    name: str
    variant: str
    event_shape: tuple[int, ...]
    levels: int | None
    sizes: dict[str, int]
    checksum: str
    extra: dict[str, Any] = field(default_factory=dict)


def split_indices(
    n: int, seed: int, validation_fraction: float, test_fraction: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded shuffle of ``range(n)`` cut into train, validation and test indices."""
    for value, what in ((validation_fraction, "validation"), (test_fraction, "test")):
        if not 0.0 < value < 1.0:
            raise ConfigurationError(f"{what} fraction must lie in (0, 1), got {value}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * test_fraction))
    n_valid = max(1, round(n * validation_fraction))
    if n - n_test - n_valid < 1:
        raise DataError(f"{n} examples are too few for train, validation and test splits")
    return order[n_test + n_valid :], order[n_test : n_test + n_valid], order[:n_test]


class Dataset:
    """Base class of datasets.

    Subclasses set :attr:`name` and implement :meth:`_load`, returning either one array of all
    examples (split here with a seeded shuffle) or a :class:`Splits`. They set ``levels`` (an int
    for quantised data, ``None`` for continuous) and ``variant`` (which source was used).

    Options: a dataset receives its options as keyword arguments of its constructor (with
    defaults) and passes ``**common`` on to this one. An option no constructor takes is a
    :class:`ConfigurationError` listing the known ones; :func:`dataset_options` resolves them
    (with every default), and that is what a run file records, so that ``flowkit eval``
    rebuilds the same data.
    """

    name: ClassVar[str] = ""
    contract_examples: ClassVar[list[dict[str, Any]]] = [{}]

    def __init__(
        self,
        *,
        data_dir: str | None = None,
        seed: int = 0,
        validation_fraction: float = 0.1,
        test_fraction: float = 0.2,
        **options: Any,
    ) -> None:
        if options:  # no subclass constructor took them
            check_options(
                type(self),
                options,
                what=f"dataset {self.name!r}",
                reserved=DATASET_ARGUMENTS,
                last=Dataset,
            )
        self.data_dir = data_dir
        self.seed = seed
        self.validation_fraction = validation_fraction
        self.test_fraction = test_fraction
        self.options = options
        self.levels: int | None = None
        self.variant: str = "default"
        #: Facts about the loaded data worth recording with a run (str, int or float values),
        #: e.g. where the files came from; set by ``_load`` and reported by :meth:`info`.
        self.extra: dict[str, Any] = {}
        #: The range a model needs the (dequantised) values in, and who needs it (set by
        #: :func:`flowkit.run.config.build_dataset` from the pipeline); None: any finite values.
        self.required_range: tuple[float, float] | None = None
        self.required_by: str = "the model"
        self._splits: Splits | None = None

    # ---- subclass API ---------------------------------------------------------------------------
    def _load(self) -> np.ndarray | Splits:
        raise NotImplementedError

    # ---- public API -----------------------------------------------------------------------------
    def load(self) -> Splits:
        """Load (once), validate and split the data."""
        if self._splits is None:
            loaded = self._load()
            if not isinstance(loaded, Splits):
                array = np.asarray(loaded)
                self._check_array(array, "data")
                train, valid, test = split_indices(
                    len(array), self.seed, self.validation_fraction, self.test_fraction
                )
                loaded = Splits(
                    *(torch.as_tensor(array[i], dtype=torch.float32) for i in (train, valid, test))
                )
            else:
                for part, what in zip(loaded, ("train", "validation", "test")):
                    self._check_array(part.numpy() if isinstance(part, Tensor) else part, what)
                loaded = Splits(
                    *(torch.as_tensor(np.asarray(p), dtype=torch.float32) for p in loaded)
                )
            self._check_range(loaded)
            self._splits = loaded
        return self._splits

    def _check_range(self, splits: Splits) -> None:
        """At most :data:`MAX_LEVELS` levels, and the values (dequantised: ``(x + u) / levels``)
        in :attr:`required_range`."""
        if self.levels is not None and self.levels > MAX_LEVELS:
            raise DataError(
                f"{self.name} ({self.variant}) has {self.levels:,} quantisation levels; flowkit "
                f"models at most {MAX_LEVELS:,}: store the data as floating point (continuous)"
            )
        if self.required_range is None:
            return
        low, high = self.required_range
        least = min(float(part.min()) for part in splits if part.numel())
        most = max(float(part.max()) for part in splits if part.numel())
        span = (
            (least, most)
            if self.levels is None
            else (least / self.levels, (most + 1) / self.levels)
        )
        if low <= span[0] and span[1] <= high:
            return
        hint = (
            ""
            if self.levels is not None
            else (", or give levels=N if it holds whole-number pixel values 0 .. N-1")
        )
        raise DataError(
            f"{self.required_by} models values in [{low:g}, {high:g}], but the data of "
            f"{self.name} ({self.variant}) spans [{span[0]:.4g}, {span[1]:.4g}]: scale it into "
            f"[{low:g}, {high:g}]{hint}"
        )

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.load().train.shape[1:])

    @property
    def features(self) -> int:
        return int(np.prod(self.event_shape))

    def info(self) -> DatasetInfo:
        splits = self.load()
        digest = hashlib.sha256()
        for part in splits:
            digest.update(part.numpy().tobytes())
        return DatasetInfo(
            name=self.name,
            variant=self.variant,
            event_shape=self.event_shape,
            levels=self.levels,
            sizes={k: len(v) for k, v in zip(("train", "validation", "test"), splits)},
            checksum="sha256:" + digest.hexdigest(),
            extra=dict(self.extra),
        )

    def describe(self) -> str:
        """One line saying which data is used, e.g. for the CLI to print before training."""
        info = self.info()
        total = sum(info.sizes.values())
        sizes = ", ".join(f"{n} {what}" for what, n in info.sizes.items())
        quantisation = f"{info.levels} levels" if info.levels is not None else "continuous"
        shape = "x".join(str(d) for d in info.event_shape)
        shape = f"{shape} features" if len(info.event_shape) == 1 else shape
        return f"{info.name} ({info.variant}): {total} examples ({sizes}), {shape}, {quantisation}"

    def _check_array(self, array: np.ndarray, what: str) -> None:
        source = f"{self.name} ({self.variant})"
        if array.ndim < 2:
            raise DataError(f"{source}: {what} must have shape [examples, ...], got {array.shape}")
        if len(array) == 0:
            raise DataError(f"{source}: {what} has no rows")
        if not np.issubdtype(array.dtype, np.number):
            raise DataError(f"{source}: {what} is not numeric (dtype {array.dtype})")
        if not np.all(np.isfinite(array)):
            raise DataError(f"{source}: {what} contains NaN or infinite values")


def dataset_options(cls: type[Dataset], options: Mapping[str, Any]) -> dict[str, Any]:
    """The options ``cls(**options)`` is built with: unknown names are a
    :class:`ConfigurationError` listing the known ones, and the default of every option of the
    class's own constructors that is not given is filled in (JSON values only), so that the
    result builds the same data again (what ``flowkit run`` records)."""
    return resolve_options(
        cls,
        options,
        what=f"dataset {getattr(cls, 'name', cls.__qualname__)!r}",
        reserved=DATASET_ARGUMENTS,
        last=Dataset,
        defaults_from=(Dataset,),
    )


def dequantize(
    values: Tensor, levels: int | None, generator: torch.Generator | None = None
) -> Tensor:
    """``(x + u) / levels`` with fresh ``u ~ U(0, 1)`` (NICE section 5.1); continuous data as
    is."""
    if levels is None:
        return values
    noise = torch.rand(values.shape, generator=generator, device=values.device, dtype=values.dtype)
    return (values + noise) / levels


__all__ = [
    "DATASET_ARGUMENTS",
    "MAX_LEVELS",
    "Dataset",
    "DatasetInfo",
    "Splits",
    "dataset_options",
    "dequantize",
    "split_indices",
]
