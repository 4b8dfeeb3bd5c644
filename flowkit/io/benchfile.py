"""The bench file: one HDF5 file holding everything ``flowkit bench`` measured.

Layout (documented for users in ``docs/bench-file.md``)::

    /                      attrs: format="flowkit-bench", format_version, created, flowkit,
                                  device, memory_kind, seconds, pipeline, couplings (order),
                                  options, dataset, environment, command
    /laws/<law>            attrs: the law's summary (means, spreads, median speeds), config
      seed, test_nll, test_bits_per_dim, best_valid_nll, best_epoch, epochs, train_seconds,
      stop_reason, round_trip_error                        one value per repeat
      train_samples_per_s, log_prob_samples_per_s, sample_samples_per_s,
      matmul_bound_samples_per_s                           one value per speed round
      history/<repeat>/<column>                            the trainer's per-epoch history

The file is written to a temporary name and moved into place (never half-written), and is read
back by :func:`read_bench_file`, which refuses anything else with a :class:`RunFileError`.
Files written before bench took ``--pipeline`` have no ``pipeline`` attribute: they read as
``nice`` (the only pipeline bench trained then).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from flowkit.errors import ConfigurationError, RunFileError
from flowkit.hdf5 import hdf5_hazard
from flowkit.io.h5 import atomic_h5, read_attrs, write_attrs
from flowkit.version import __version__

FORMAT = "flowkit-bench"
FORMAT_VERSION = 1
#: The pipeline of a bench file without a ``pipeline`` attribute (one written before bench
#: took ``--pipeline``, when every law was trained in NICE).
DEFAULT_PIPELINE = "nice"
#: Per-repeat datasets of each law group, with their numpy dtypes.
REPEAT_FIELDS = {
    "seeds": ("seed", np.int64),
    "test_nll": ("test_nll", np.float64),
    "test_bits_per_dim": ("test_bits_per_dim", np.float64),
    "best_valid_nll": ("best_valid_nll", np.float64),
    "best_epoch": ("best_epoch", np.int64),
    "epochs": ("epochs", np.int64),
    "train_seconds": ("train_seconds", np.float64),
    "round_trip_error": ("round_trip_error", np.float64),
}
#: Per-speed-round datasets of each law group.
ROUND_FIELDS = {
    "train_speed": "train_samples_per_s",
    "log_prob_speed": "log_prob_samples_per_s",
    "sample_speed": "sample_samples_per_s",
    "matmul_bound": "matmul_bound_samples_per_s",
}


@dataclass
class BenchRecord:
    """A bench file read back: root attributes, and per law its summary and arrays."""

    path: Path
    attrs: dict[str, Any]
    #: law -> summary attributes (``test_nll_mean``, ``train_samples_per_s``, ...).
    summaries: dict[str, dict[str, Any]]
    #: law -> name -> 1-D array (per repeat or per speed round; ``stop_reason`` holds str).
    arrays: dict[str, dict[str, np.ndarray]]
    #: law -> per repeat -> the trainer's history columns (``epoch``, ``valid_nll``...).
    histories: dict[str, list[dict[str, np.ndarray]]]

    @property
    def couplings(self) -> list[str]:
        return list(self.summaries)

    @property
    def pipeline(self) -> str:
        """The pipeline every law was trained in (``nice`` for files that predate it)."""
        return str(self.attrs.get("pipeline", DEFAULT_PIPELINE))


def write_bench_file(path: str | Path, result, command: list[str] | None = None) -> Path:
    """Write a :class:`flowkit.bench.runner.BenchResult` to ``path`` atomically."""
    path = Path(path)
    for law in result.laws:
        if "/" in law.law or law.law in (".", ".."):
            raise ConfigurationError(f"coupling name {law.law!r} cannot name an HDF5 group")
    with atomic_h5(path) as handle:
        write_attrs(
            handle,
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "created": result.created,
                "flowkit": __version__,
                "device": result.device,
                "memory_kind": result.memory_kind,
                "seconds": float(result.seconds),
                "pipeline": result.options.pipeline,
                "couplings": [law.law for law in result.laws],
                "options": result.options.to_dict(),
                "dataset": result.dataset_info,
                "environment": result.environment,
                "command": " ".join(command if command is not None else sys.argv),
            },
        )
        laws = handle.create_group("laws")
        for law in result.laws:
            group = laws.create_group(law.law)
            write_attrs(group, {**law.summary(), "config": law.config})
            for attribute, (name, dtype) in REPEAT_FIELDS.items():
                group.create_dataset(name, data=np.asarray(getattr(law, attribute), dtype))
            group.create_dataset("stop_reason", data=np.asarray(law.stop_reason, dtype="S"))
            for attribute, name in ROUND_FIELDS.items():
                group.create_dataset(name, data=np.asarray(getattr(law, attribute), np.float64))
            history = group.create_group("history")
            for repeat, columns in enumerate(law.histories):
                target = history.create_group(str(repeat))
                for column, values in columns.items():
                    target.create_dataset(column, data=np.asarray(values))
    return path


def read_bench_file(path: str | Path) -> BenchRecord:
    """Read a bench file; anything that is not one raises :class:`RunFileError`."""
    path = Path(path)
    if not path.is_file():
        raise RunFileError(f"no such bench file: {path}")
    try:
        with h5py.File(path, "r") as handle:
            attrs = read_attrs(handle)
            if attrs.get("format") != FORMAT:
                raise RunFileError(f"{path} is not a flowkit bench file")
            hazard = hdf5_hazard(handle)  # before reading anything but the root's attributes
            if hazard:
                raise RunFileError(f"{path}: refused: {hazard}")
            if int(attrs.get("format_version", 0)) > FORMAT_VERSION:
                raise RunFileError(
                    f"{path} was written by a newer flowkit (bench format "
                    f"{attrs['format_version']}); this one reads up to {FORMAT_VERSION}"
                )
            options = attrs.get("options")
            recorded = options.get("pipeline") if isinstance(options, dict) else None
            attrs.setdefault("pipeline", recorded or DEFAULT_PIPELINE)
            summaries, arrays, histories = {}, {}, {}
            for law in attrs.get("couplings", []):
                group = handle["laws"][law]
                summaries[law] = read_attrs(group)
                arrays[law] = {
                    name: np.asarray(item[()])
                    for name, item in group.items()
                    if isinstance(item, h5py.Dataset)
                }
                arrays[law]["stop_reason"] = np.asarray(
                    [v.decode() for v in arrays[law]["stop_reason"]], dtype=object
                )
                repeats = group["history"]
                histories[law] = [
                    {name: np.asarray(values[()]) for name, values in repeats[key].items()}
                    for key in sorted(repeats, key=int)
                ]
    except RunFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise RunFileError(f"{path} is not a readable flowkit bench file: {err}") from None
    return BenchRecord(
        path=path, attrs=attrs, summaries=summaries, arrays=arrays, histories=histories
    )


__all__ = [
    "DEFAULT_PIPELINE",
    "FORMAT",
    "FORMAT_VERSION",
    "BenchRecord",
    "read_bench_file",
    "write_bench_file",
]
