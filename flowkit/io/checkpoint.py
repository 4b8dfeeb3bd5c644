"""The ``checkpoint`` group of a run file: the resumable training state (docs/run-file.md).

Weights, Adam's per-parameter state and the generator states are plain datasets, each with its
checksum (:func:`flowkit.io.h5.write_array`); the counters are attributes. Reading refuses links
out of the file and virtual datasets, verifies every checksum, and checks every value's type and
range (:mod:`flowkit.io.schema`); the tensors are checked against the model when a run is
resumed (:func:`flowkit.io.schema.check_train_state`).
"""

from __future__ import annotations

import h5py
import torch

from flowkit.io import schema
from flowkit.io.h5 import (
    read_array,
    read_attrs,
    read_tensors,
    refuse_hazards,
    write_array,
    write_attrs,
    write_tensors,
)
from flowkit.train.state import History, TrainState


def write_checkpoint(group: h5py.Group, state: TrainState) -> None:
    write_attrs(
        group,
        {
            "epoch": state.epoch,
            "best_epoch": state.best_epoch,
            "best_valid_ll": state.best_valid_ll,
            "bad_epochs": state.bad_epochs,
            "elapsed_seconds": state.elapsed_seconds,
            "initial_valid_ll": state.initial_valid_ll,
            "scheduler": state.scheduler,  # learning-rate schedule state ({}: none)
        },
    )
    write_tensors(group.create_group("model"), state.model)
    optimizer = group.create_group("optimizer")
    for index, values in state.optimizer.items():
        write_tensors(optimizer.create_group(str(index)), values)
    rng = group.create_group("rng")
    for name, generator_state in state.rng.items():
        device = state.rng_devices.get(name, "cpu")
        write_array(rng, name, generator_state.numpy(), {"device_type": device})


def read_checkpoint(group: h5py.Group) -> TrainState:
    refuse_hazards(group)  # no link out of the file, no virtual dataset (before any read)
    for name in ("model", "optimizer", "rng"):
        schema.want(isinstance(group.get(name), h5py.Group), f"checkpoint has no {name} group")
    attrs = read_attrs(group)
    rng = group["rng"]
    epoch = schema.integer(attrs.get("epoch"), "checkpoint epoch", 0, schema.MAX_EPOCHS)
    optimizer = {}
    for key, values in group["optimizer"].items():
        schema.want(key.isdigit() and isinstance(values, h5py.Group), f"optimizer entry {key!r}")
        optimizer[int(key)] = read_tensors(values)
    return TrainState(
        epoch=epoch,
        model=read_tensors(group["model"]),
        optimizer=optimizer,
        best_model={},  # the selected model is the file's `model` group (filled by the reader)
        best_epoch=schema.integer(attrs.get("best_epoch"), "checkpoint best_epoch", 0, epoch),
        best_valid_ll=schema.number(attrs.get("best_valid_ll"), "best_valid_ll", finite=False),
        bad_epochs=schema.integer(attrs.get("bad_epochs"), "checkpoint bad_epochs", 0, epoch),
        rng={name: torch.from_numpy(read_array(rng[name], "u")) for name in rng},
        rng_devices={name: str(rng[name].attrs.get("device_type", "cpu")) for name in rng},
        history=History(),
        elapsed_seconds=schema.number(attrs.get("elapsed_seconds"), "elapsed_seconds"),
        initial_valid_ll=schema.number(
            attrs.get("initial_valid_ll"), "initial_valid_ll", finite=False
        ),
        # absent before flowkit 0.2
        scheduler=schema.mapping(attrs.get("scheduler") or {}, "checkpoint scheduler"),
    )


__all__ = ["read_checkpoint", "write_checkpoint"]
