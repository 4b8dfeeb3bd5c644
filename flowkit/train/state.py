"""The trainer's records: per-epoch metrics (:class:`History`) and resumable snapshots
(:class:`TrainState`). Plain tensors and numbers only, so that a run file can store them as
HDF5 datasets and attributes without pickling."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import Tensor


@dataclass
class EpochRecord:
    """Metrics of one epoch. NLL in nats per example; ``samples_per_second`` counts training
    examples over the training part of the epoch; ``seconds`` includes validation."""

    epoch: int
    train_nll_nats: float
    valid_nll_nats: float
    train_bits_per_dim: float
    valid_bits_per_dim: float
    seconds: float
    samples_per_second: float


#: History columns, in order (also the names of the run file's metric datasets).
HISTORY_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(EpochRecord))


@dataclass
class History:
    """One list per :class:`EpochRecord` field."""

    columns: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in HISTORY_COLUMNS}
    )

    def append(self, record: EpochRecord) -> None:
        for name in HISTORY_COLUMNS:
            self.columns[name].append(getattr(record, name))

    def __len__(self) -> int:
        return len(self.columns["epoch"])

    def __getitem__(self, name: str) -> list[float]:
        return self.columns[name]

    def records(self) -> list[EpochRecord]:
        return [
            EpochRecord(**{name: self.columns[name][i] for name in HISTORY_COLUMNS})  # type: ignore[arg-type]
            for i in range(len(self))
        ]

    def copy(self) -> History:
        return History({name: list(values) for name, values in self.columns.items()})

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {
            name: np.asarray(values, dtype=np.int64 if name == "epoch" else np.float64)
            for name, values in self.columns.items()
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> History:
        columns = {}
        for name in HISTORY_COLUMNS:
            values = np.asarray(arrays.get(name, []))
            columns[name] = [int(v) if name == "epoch" else float(v) for v in values]
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"history columns have different lengths: {sorted(lengths)}")
        return cls(columns)


@dataclass
class TrainState:
    """Everything needed to continue training after ``epoch`` complete epochs."""

    epoch: int
    #: Current weights (state_dict, CPU tensors).
    model: dict[str, Tensor]
    #: ``optimizer.state_dict()["state"]``: per-parameter Adam moments and step counts.
    optimizer: dict[int, dict[str, Tensor]]
    #: Weights of the best epoch so far (the selected model).
    best_model: dict[str, Tensor]
    best_epoch: int
    best_valid_ll: float
    #: Epochs since the last improvement (early-stopping counter).
    bad_epochs: int
    #: ``torch.Generator.get_state()`` of the shuffling and the dequantisation-noise generators.
    rng: dict[str, Tensor]
    #: Device type of each generator (a CUDA generator state cannot be loaded into a CPU one).
    rng_devices: dict[str, str]
    history: History
    #: Training wall time so far, over all sessions of the run.
    elapsed_seconds: float
    initial_valid_ll: float
    #: The learning-rate scheduler's ``state_dict()`` (``{}``: constant learning rate).
    scheduler: dict[str, Any] = field(default_factory=dict)


def clone_state(value: Any) -> Any:
    """A CPU copy of a (nested) state dict, detached from the live model and optimizer."""
    if isinstance(value, Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, Mapping):
        return {key: clone_state(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(clone_state(item) for item in value)
    return value


__all__ = ["HISTORY_COLUMNS", "EpochRecord", "History", "TrainState", "clone_state"]
