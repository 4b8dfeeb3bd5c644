"""The run file: one HDF5 file per ``flowkit run``, readable with plain h5py (docs/run-file.md).

Writing is all or nothing (:func:`flowkit.io.h5.atomic_h5`): the file is rewritten under a
temporary name and renamed over the old one at every checkpoint, so whatever happens the path
holds a complete file. Reading never unpickles: weights, optimiser moments and generator states
are plain datasets, structured values JSON text.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
import torch
from torch import Tensor

from flowkit.datasets import DatasetInfo
from flowkit.errors import ConfigurationError, FlowkitWarning, RunFileError, UnknownComponentError
from flowkit.io import schema
from flowkit.io.checkpoint import read_checkpoint, write_checkpoint
from flowkit.io.h5 import (
    atomic_h5,
    read_array,
    read_attrs,
    read_tensors,
    refuse_hazards,
    write_array,
    write_attrs,
    write_tensors,
)
from flowkit.io.rebuild import rebuild_flow
from flowkit.run.config import RunConfig, build_dataset
from flowkit.train.device import resolve_device
from flowkit.train.state import History, TrainState
from flowkit.version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from flowkit.datasets import Dataset
    from flowkit.flows import Flow
    from flowkit.registry import Registry

FORMAT_NAME = "flowkit-run"
FORMAT_VERSION = 1
STATUSES = ("running", "completed", "interrupted", "failed")
#: Groups every run file has (``results``, ``samples``, ``spectrum``, ``checkpoint`` may not).
REQUIRED_GROUPS = ("config", "dataset", "environment", "metrics", "model")


@dataclass
class RunRecord:
    """Everything a run file holds, as Python objects."""

    status: str
    created: str
    config: RunConfig
    dataset_info: DatasetInfo
    #: ``{"versions": {...}, "plugins": {name: {...}}, "components": {kind: {...}}, ...}``.
    environment: dict[str, Any]
    history: History
    #: The selected model's weights (best validation log-likelihood so far).
    model: dict[str, Tensor]
    #: Resumable training state; dropped once a run is completed.
    checkpoint: TrainState | None = None
    results: dict[str, Any] = field(default_factory=dict)
    #: Generated samples per temperature, ``[n, *event_shape]`` in the model's space.
    samples: dict[float, np.ndarray] = field(default_factory=dict)
    #: Sorted ``exp(s)`` of the scaling layer (NICE Fig. 8), if the model has one.
    spectrum: np.ndarray | None = None
    message: str = ""
    updated: str = ""
    #: Epochs completed when each ``--resume`` started (learning curves mark them).
    resumed_after: list[int] = field(default_factory=list)


# ---- writing ---------------------------------------------------------------------------------


def write_run_file(path: str | Path, record: RunRecord) -> None:
    """Write ``record`` to ``path`` atomically (replacing any previous version)."""
    if record.status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {record.status!r}")
    with atomic_h5(path) as handle:
        write_attrs(
            handle,
            {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "flowkit_version": __version__,
                "status": record.status,
                "created": record.created,
                "updated": record.updated or record.created,
                "message": record.message,
                "pipeline": record.config.pipeline,
                "dataset": record.dataset_info.name,
                "config": record.config.to_json(),
            },
        )
        _write_config(handle.create_group("config"), record.config)
        _write_dataset_info(handle.create_group("dataset"), record.dataset_info)
        _write_environment(handle.create_group("environment"), record.environment)
        metrics = handle.create_group("metrics")
        for name, values in record.history.as_arrays().items():
            write_array(metrics, name, values)
        if record.resumed_after:
            metrics.attrs["resumed_after_epochs"] = np.asarray(record.resumed_after, np.int64)
        write_tensors(handle.create_group("model"), record.model)
        if record.results:
            write_attrs(handle.create_group("results"), record.results)
        if record.samples:
            group = handle.create_group("samples")
            for temperature, values in sorted(record.samples.items(), reverse=True):
                name = f"temperature_{temperature:.2f}"
                write_array(group, name, values, {"temperature": float(temperature)})
        if record.spectrum is not None:
            write_array(handle, "spectrum", np.asarray(record.spectrum, dtype=np.float64))
        if record.checkpoint is not None:
            write_checkpoint(handle.create_group("checkpoint"), record.checkpoint)


def _write_config(group: h5py.Group, config: RunConfig) -> None:
    """Readable attributes; the root's ``config`` JSON is the authoritative copy."""
    data = config.to_dict()
    flat = {k: v for k, v in data.items() if k not in ("pipeline_options", "train")}
    flat.update({f"pipeline.{k}": v for k, v in data["pipeline_options"].items()})
    flat.update({f"train.{k}": v for k, v in data["train"].items()})
    write_attrs(group, flat)


def _write_dataset_info(group: h5py.Group, info: DatasetInfo) -> None:
    write_attrs(
        group,
        {
            "name": info.name,
            "variant": info.variant,
            "event_shape": list(info.event_shape),
            "quantised": info.levels is not None,
            "checksum": info.checksum,
            "extra": dict(info.extra),
            **({"levels": int(info.levels)} if info.levels is not None else {}),
            **{f"size_{split}": int(n) for split, n in info.sizes.items()},
        },
    )


def _write_environment(group: h5py.Group, environment: dict[str, Any]) -> None:
    write_attrs(group, environment.get("versions", {}))
    for section in ("plugins", "components"):
        parent = group.create_group(section)
        for name, values in environment.get(section, {}).items():
            write_attrs(parent.create_group(name), values)


# ---- reading ---------------------------------------------------------------------------------


def read_run_record(path: str | Path) -> RunRecord:
    """Everything in a run file, without building the model (no registry needed).

    Raises :class:`RunFileError` for a missing, non-HDF5, non-flowkit or corrupt file, and for
    one holding links or datasets that read outside it (:func:`flowkit.hdf5.hdf5_hazard`: checked
    after the root's ``format`` attribute, before anything else is read).
    """
    path = Path(path)
    if not path.is_file():
        raise RunFileError(f"{path}: no such run file")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise RunFileError(f"{path} is not a readable HDF5 file ({_short(err)})") from None
    with handle:
        try:
            fmt = handle.attrs.get("format")
        except Exception as err:  # an unreadable attribute: damaged, whoever wrote it
            raise schema.damaged(path, err) from None
        if from_attr_text(fmt) != FORMAT_NAME:
            raise RunFileError(f"{path} is an HDF5 file but not a flowkit run file")
        try:
            refuse_hazards(handle)
            return _read_record(handle, read_attrs(handle))
        except Exception as err:  # anything a damaged or crafted file can raise: one line
            raise schema.damaged(path, err) from None


def from_attr_text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _read_record(handle: h5py.File, root: dict[str, Any]) -> RunRecord:
    missing = [name for name in REQUIRED_GROUPS if not isinstance(handle.get(name), h5py.Group)]
    schema.want(not missing, f"incomplete: no group {', '.join(missing)}")
    schema.want(root.get("status") in STATUSES, f"unknown status {root.get('status')!r:.40}")
    for key in ("created", "updated", "message"):
        schema.want(isinstance(root.get(key, ""), str), f"attribute {key} is not text")
    config = RunConfig.from_dict(
        schema.check_config_dict(schema.json_object(root["config"], "config"))
    )
    try:
        config.validate()
    except ConfigurationError as err:
        raise schema.config_error(err) from None
    dataset = schema.check_dataset_attrs(read_attrs(handle["dataset"]))
    info = DatasetInfo(
        name=dataset["name"],
        variant=dataset["variant"],
        event_shape=tuple(int(d) for d in np.atleast_1d(dataset["event_shape"])),
        levels=int(dataset["levels"]) if dataset.get("quantised") else None,
        sizes={k[5:]: int(v) for k, v in dataset.items() if k.startswith("size_")},
        checksum=dataset["checksum"],
        extra=dataset.get("extra") or {},
    )
    environment = {"versions": read_attrs(handle["environment"])}
    for section in ("plugins", "components"):
        group = handle["environment"].get(section, {})
        environment[section] = {name: read_attrs(group[name]) for name in group}
    samples = {}
    for dataset_ in handle.get("samples", {}).values():
        temperature = schema.number(from_attr_text(dataset_.attrs["temperature"]), "temperature")
        samples[temperature] = read_array(dataset_, "f")
    metrics = {k: read_array(v) for k, v in handle["metrics"].items()}
    schema.want(
        all(v.ndim == 1 and len(v) <= schema.MAX_EPOCHS for v in metrics.values()),
        "metrics are not one value per epoch",
    )
    resumed = np.atleast_1d(np.asarray(handle["metrics"].attrs.get("resumed_after_epochs", [])))
    schema.want(
        resumed.ndim == 1 and len(resumed) <= schema.MAX_EPOCHS and resumed.dtype.kind in "iuf",
        "metrics attribute resumed_after_epochs is not a list of epochs",
    )
    return RunRecord(
        status=root["status"],
        created=root.get("created", ""),
        updated=root.get("updated", ""),
        message=root.get("message", ""),
        config=config,
        dataset_info=info,
        environment=environment,
        history=History.from_arrays(metrics),
        model=read_tensors(handle["model"]),
        checkpoint=read_checkpoint(handle["checkpoint"]) if "checkpoint" in handle else None,
        results=schema.check_results(read_attrs(handle["results"])) if "results" in handle else {},
        samples=samples,
        spectrum=read_array(handle["spectrum"], "f").ravel() if "spectrum" in handle else None,
        resumed_after=[int(epoch) for epoch in resumed],
    )


def read_train_state(record: RunRecord, path: str | Path | None = None) -> TrainState:
    """The resumable state of a run (its checkpoint with history and best model filled in)."""
    if record.checkpoint is None:
        raise RunFileError("the run file has no checkpoint to resume from")
    state = record.checkpoint
    state.best_model = dict(record.model)
    state.history = record.history.copy()
    if len(state.history) != state.epoch:
        raise schema.DamagedRunFile(
            f"{len(state.history)} epochs of metrics for a checkpoint of epoch {state.epoch}", path
        )
    return state


def _short(err: BaseException) -> str:
    return " ".join(str(err).split())[:200] or type(err).__name__


# ---- loading a run for use -------------------------------------------------------------------


@dataclass
class LoadedRun:
    """A run file ready to use: the selected model and everything recorded with it."""

    path: Path
    flow: Flow
    config: dict[str, Any]
    dataset_info: dict[str, Any]
    metrics: dict[str, np.ndarray]
    results: dict[str, Any]
    status: str
    levels: int | None
    event_shape: tuple[int, ...]
    samples: dict[float, np.ndarray]
    spectrum: np.ndarray | None
    environment: dict[str, Any]
    record: RunRecord

    @property
    def features(self) -> int:
        return int(np.prod(self.event_shape))

    @property
    def run_config(self) -> RunConfig:
        return self.record.config

    def load_dataset(self, registry: Registry) -> Dataset:
        """The run's dataset, rebuilt with the same options and split (warns if its data is not
        the data the run was trained on, e.g. other MNIST files found)."""
        dataset = build_dataset(registry, self.record.config)
        info = dataset.info()
        if info.checksum != self.record.dataset_info.checksum:
            warnings.warn(
                f"the {info.name} data found now ({info.variant}, {sum(info.sizes.values())} "
                f"examples) differs from the data of run {self.path.name} "
                f"({self.record.dataset_info.variant}, checksum mismatch)",
                FlowkitWarning,
                stacklevel=2,
            )
        return dataset


def load_run(
    path: str | Path, registry: Registry, device: str | torch.device = "cpu"
) -> LoadedRun:
    """Read a run file and rebuild its selected model (eval mode, on ``device``).

    Raises :class:`RunFileError` for files that are not (complete) flowkit run files, and
    :class:`ConfigurationError` when a component the run used is not installed here.
    """
    record = read_run_record(path)
    info = record.dataset_info
    shape = tuple(info.event_shape)  # image pipelines build on it; flat ones flatten
    try:
        flow = rebuild_flow(registry, record.config, shape, path, {"model": record.model})
    except UnknownComponentError as err:
        plugin = record.environment.get("components", {}).get(err.kind, {})
        plugin = plugin if isinstance(plugin, dict) else {}
        hint = f" (the run used it from plugin {plugin.get('plugin')!r})" if plugin else ""
        raise ConfigurationError(f"cannot rebuild the model of {path}: {err}{hint}") from None
    try:
        flow.load_state_dict(record.model, strict=True)
    except RuntimeError as err:
        raise RunFileError(
            f"the weights in {path} do not fit the model its configuration builds: {_short(err)}"
        ) from None
    flow.to(resolve_device(device))
    flow.eval()
    return LoadedRun(
        path=Path(path),
        flow=flow,
        config=record.config.to_dict(),
        dataset_info={
            "name": info.name,
            "variant": info.variant,
            "event_shape": info.event_shape,
            "levels": info.levels,
            "sizes": dict(info.sizes),
            "checksum": info.checksum,
            "extra": dict(info.extra),
        },
        metrics=record.history.as_arrays(),
        results=dict(record.results),
        status=record.status,
        levels=info.levels,
        event_shape=info.event_shape,
        samples=dict(record.samples),
        spectrum=record.spectrum,
        environment=record.environment,
        record=record,
    )


__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "STATUSES",
    "LoadedRun",
    "RunRecord",
    "load_run",
    "read_run_record",
    "read_train_state",
    "write_run_file",
]
