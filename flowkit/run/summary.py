"""What a person reads about a run: a flat summary of a run file for ``flowkit show`` and
``flowkit compare`` (and for scripts that tabulate a folder of runs).

Works on any :class:`~flowkit.io.runfile.RunRecord`, so on every run file that
:func:`~flowkit.io.runfile.read_run_record` reads (flowkit 0.1 onwards): results a file does
not have are simply absent from its summary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from flowkit.io.runfile import RunRecord
    from flowkit.run.config import RunConfig

#: Result columns of a comparison, in order (those a run has).
RESULT_COLUMNS = (
    "test_bits_per_dim",
    "test_log_likelihood_nats",
    "best_epoch",
    "epochs_completed",
    "train_seconds",
    "stop_reason",
)


def flat_config(config: RunConfig) -> dict[str, Any]:
    """The configuration as ``{"pipeline": ..., "pipeline.layers": 4, "train.lr": ...}``
    (nested values as they are, ``None`` left out)."""
    data = config.to_dict()
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("pipeline_options", "dataset_options", "train"):
            prefix = {"pipeline_options": "pipeline", "dataset_options": "dataset"}.get(key, key)
            for option, item in value.items():
                flat[f"{prefix}.{option}"] = item
        elif key != "seed":  # the same as train.seed
            flat[key] = value
    return {k: _hashable(v) for k, v in flat.items() if v is not None}


def summary(record: RunRecord, path: str | Path = "") -> dict[str, Any]:
    """Everything ``flowkit show`` prints, as plain values."""
    history = record.history
    seconds = [float(s) for s in history["seconds"]]
    speed = [float(s) for s in history["samples_per_second"]]
    info = record.dataset_info
    return {
        "path": str(path),
        "status": record.status,
        "message": record.message,
        "created": record.created,
        "updated": record.updated,
        "flowkit_version": record.environment.get("versions", {}).get("flowkit", ""),
        "device": record.environment.get("versions", {}).get("device", ""),
        "config": flat_config(record.config),
        "data": {
            "name": info.name,
            "variant": info.variant,
            "event_shape": list(info.event_shape),
            "levels": info.levels,
            "sizes": dict(info.sizes),
            "checksum": info.checksum,
        },
        "results": {k: v for k, v in record.results.items() if not _is_nan(v)},
        "timings": {
            "epochs": len(history),
            "seconds": sum(seconds),
            "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else None,
            "samples_per_second": sorted(speed)[len(speed) // 2] if speed else None,
        },
        "resumable": record.checkpoint is not None,
    }


def compare_rows(
    summaries: Iterable[Mapping[str, Any]], *, all_options: bool = False
) -> tuple[list[str], list[dict[str, Any]]]:
    """``(columns, rows)``: one row per run with ``path``, ``status``, the options whose values
    differ between the runs (all of them with ``all_options``) and the results."""
    summaries = list(summaries)
    keys: list[str] = []
    for item in summaries:
        keys += [k for k in item["config"] if k not in keys]
    differing = [
        key
        for key in keys
        if all_options or len({repr(item["config"].get(key)) for item in summaries}) > 1
    ]
    results = [c for c in RESULT_COLUMNS if any(c in item["results"] for item in summaries)]
    columns = ["path", "status", *differing, *results]
    rows = []
    for item in summaries:
        row = {"path": item["path"], "status": item["status"]}
        row.update({key: item["config"].get(key) for key in differing})
        row.update({key: item["results"].get(key) for key in results})
        rows.append(row)
    return columns, rows


def sort_rows(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Rows ordered by column ``key`` (``-key``: descending); missing values last."""
    descending = key.startswith("-")
    name = key.lstrip("-")

    def order(row: Mapping[str, Any]) -> tuple[int, Any]:
        value = row.get(name)
        if value is None:
            return (2, "")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (0, -value if descending else value)
        return (1, str(value))

    ordered = sorted(rows, key=order)
    if descending:  # text columns reversed too, missing values still last
        numbers = [r for r in ordered if order(r)[0] == 0]
        texts = sorted((r for r in ordered if order(r)[0] == 1), key=order, reverse=True)
        ordered = numbers + texts + [r for r in ordered if order(r)[0] == 2]
    return ordered


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return {k: _hashable(v) for k, v in value.items()}
    return value


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


__all__ = ["RESULT_COLUMNS", "compare_rows", "flat_config", "sort_rows", "summary"]
