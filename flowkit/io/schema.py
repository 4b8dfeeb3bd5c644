"""What a run file may hold: every value read from one is checked here before it is used.

A run file can be damaged (a truncated copy) or hand-edited (a crafted attribute), so nothing it
holds is trusted: JSON attributes must have the types flowkit writes, sizes must be sane, and
every tensor (weights, Adam moments, generator states) must match what the run's configuration
builds before it reaches torch. A wrong-sized Adam moment would otherwise make the fused Adam
kernel read outside its buffers. Every failure is one :class:`DamagedRunFile` line,
``PATH: damaged flowkit run file: WHAT``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flowkit.datasets import MAX_LEVELS
from flowkit.errors import ConfigurationError, RunFileError
from flowkit.run.config import MAX_SAMPLES, MAX_TEMPERATURES
from flowkit.train.options import FLOAT_BOUNDS, INT_BOUNDS, MAX_SEED

#: Most dimensions of one example a run file may declare (2**24: a 2,300 x 2,300 RGB image).
MAX_FEATURES = 2**24
#: Most axes of an example's shape.
MAX_EVENT_AXES = 8
#: Deepest nesting of a JSON attribute flowkit reads (flowkit writes at most 4 levels).
MAX_JSON_DEPTH = 32
#: Most epochs of metrics a run file may hold.
MAX_EPOCHS = 10**7


class DamagedRunFile(RunFileError):
    """A flowkit run file whose content is not what flowkit writes."""

    def __init__(self, what: str, path: str | Path | None = None) -> None:
        self.what, self.path = what, path
        super().__init__(f"{path}: damaged flowkit run file: {what}" if path else what)

    def at(self, path: str | Path) -> DamagedRunFile:
        """The same error, naming the file."""
        return DamagedRunFile(self.what, path)


def damaged(path: str | Path, err: BaseException) -> DamagedRunFile:
    """``err`` (anything raised while reading ``path``) as one damaged-file line."""
    if isinstance(err, DamagedRunFile):
        return err.at(path)
    if isinstance(err, RecursionError):
        return DamagedRunFile("a value is nested too deeply", path)
    text = " ".join(str(err).split())[:200]
    return DamagedRunFile(f"{type(err).__name__}: {text}" if text else type(err).__name__, path)


# ---- plain values ------------------------------------------------------------------------------


def _name(value: Any) -> str:
    return type(value).__name__


def is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    return is_int(value) or isinstance(value, (float, np.floating))


def want(ok: bool, what: str) -> None:
    if not ok:
        raise DamagedRunFile(what)


def integer(value: Any, where: str, low: int = 0, high: int | None = None) -> int:
    """An int within ``[low, high]``."""
    want(is_int(value), f"{where} is {_name(value)} {value!r:.40}, expected an integer")
    value = int(value)
    want(value >= low and (high is None or value <= high), f"{where} = {value} is out of range")
    return value


def number(value: Any, where: str, *, finite: bool = True, positive: bool = False) -> float:
    want(is_number(value), f"{where} is {_name(value)} {value!r:.40}, expected a number")
    value = float(value)
    if finite:
        want(math.isfinite(value), f"{where} = {value} is not finite")
    if positive:
        want(value > 0, f"{where} = {value} must be > 0")
    return value


def text(value: Any, where: str) -> str:
    want(isinstance(value, str), f"{where} is {_name(value)}, expected text")
    return value


def mapping(value: Any, where: str) -> dict[str, Any]:
    want(
        isinstance(value, dict) and all(isinstance(k, str) for k in value),
        f"{where} is {_name(value)}, expected a JSON object",
    )
    return value


def depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a JSON value (without recursion, so hostile input cannot overflow)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            raise DamagedRunFile(f"a JSON value is nested more than {limit} levels deep")
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def json_object(raw: Any, where: str) -> dict[str, Any]:
    """A JSON attribute holding an object."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    want(isinstance(raw, str), f"{where} is {_name(raw)}, expected JSON text")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise DamagedRunFile(f"{where} is nested too deeply") from None
    except ValueError as err:
        raise DamagedRunFile(f"{where} is not valid JSON ({err})") from None
    depth(value)
    return mapping(value, where)


# ---- the configuration -------------------------------------------------------------------------


def _bounded_int(low: int, high: int, optional: bool) -> Callable[[Any, str], Any]:
    return lambda v, w: None if optional and v is None else integer(v, w, low, high)


def _bounded_float(low: float, open_: bool, optional: bool) -> Callable[[Any, str], Any]:
    def check(value: Any, where: str) -> Any:
        if optional and value is None:
            return None
        value = number(value, where)
        want(value > low if open_ else value >= low, f"{where} = {value} is out of range")
        return value

    return check


#: Types of the training options as flowkit writes them, with the bounds
#: :meth:`TrainOptions.validate` enforces on the writing side (``None`` allowed where listed).
_TRAIN_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    **{
        name: _bounded_int(low, high, optional=name == "threads")
        for name, (low, high) in INT_BOUNDS.items()
    },
    **{
        name: _bounded_float(low, open_, optional=name in ("max_seconds", "clip_grad_norm"))
        for name, (low, open_) in FLOAT_BOUNDS.items()
    },
    "device": text,
    "fused": lambda v, w: want(v is None or isinstance(v, bool), f"{w} must be true/false/null"),
}


def check_config_dict(data: Any) -> dict[str, Any]:
    """The root ``config`` JSON object, its values type-checked (see :class:`RunConfig`)."""
    data = mapping(data, "config")
    text(data.get("pipeline"), "config.pipeline")
    text(data.get("dataset"), "config.dataset")
    mapping(data.get("pipeline_options", {}), "config.pipeline_options")
    mapping(data.get("dataset_options", {}), "config.dataset_options")
    want(data.get("data_dir") is None or isinstance(data["data_dir"], str), "config.data_dir")
    integer(data.get("split_seed", 0), "config.split_seed", 0, MAX_SEED)
    integer(data.get("num_samples", 0), "config.num_samples", 0, MAX_SAMPLES)
    temperatures = data.get("sample_temperatures", [1.0])
    want(
        isinstance(temperatures, list) and len(temperatures) <= MAX_TEMPERATURES,
        "config.sample_temperatures",
    )
    for t in temperatures:
        number(t, "config.sample_temperatures[]", positive=True)
    train = mapping(data.get("train", {}), "config.train")
    for key, check in _TRAIN_FIELDS.items():
        if key in train:
            check(train[key], f"config.train.{key}")
    betas = train.get("betas", [0.9, 0.99])
    want(isinstance(betas, list) and len(betas) == 2, "config.train.betas must be 2 numbers")
    for b in betas:
        want(0 <= number(b, "config.train.betas[]") < 1, "config.train.betas must be in [0, 1)")
    return data


def check_dataset_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``dataset`` group's attributes, with a sane ``event_shape``."""
    text(attrs.get("name"), "dataset.name")
    text(attrs.get("variant"), "dataset.variant")
    text(attrs.get("checksum"), "dataset.checksum")
    shape = attrs.get("event_shape")
    shape = [shape] if is_int(shape) else shape
    want(
        isinstance(shape, list) and 1 <= len(shape) <= MAX_EVENT_AXES,
        f"dataset.event_shape {shape!r:.60} is not a list of 1 to {MAX_EVENT_AXES} sizes",
    )
    dims = [integer(d, "dataset.event_shape[]", 1, MAX_FEATURES) for d in shape or []]
    want(
        math.prod(dims) <= MAX_FEATURES,
        f"dataset.event_shape {dims} has more than {MAX_FEATURES:,} dimensions",
    )
    if attrs.get("quantised"):
        integer(attrs.get("levels"), "dataset.levels", 2, MAX_LEVELS)
    extra = attrs.get("extra")
    want(extra is None or isinstance(extra, dict), "dataset.extra is not a JSON object")
    for key, value in attrs.items():
        if key.startswith("size_"):
            integer(value, f"dataset.{key}", 0)
    return dict(attrs, event_shape=dims)


#: Result attributes other code does arithmetic on, with their checks.
_RESULT_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "best_epoch": lambda v, w: integer(v, w, 0, MAX_EPOCHS),
    "epochs_completed": lambda v, w: integer(v, w, 0, MAX_EPOCHS),
    "test_examples": lambda v, w: integer(v, w, 0),
    "parameters": lambda v, w: integer(v, w, 0),
    "message": text,
    "stop_reason": text,
}


def check_results(results: Any) -> dict[str, Any]:
    """The ``results`` group's attributes: known names have their types, numbers are numbers."""
    results = mapping(results, "results")
    for key, value in results.items():
        if key in _RESULT_FIELDS:
            _RESULT_FIELDS[key](value, f"results.{key}")
        elif key.endswith(("_nats", "_bits_per_dim", "_seconds")):
            number(value, f"results.{key}", finite=False)
    return results


# ---- tensors against what the configuration builds ------------------------------------------


def check_tensors(
    tensors: Mapping[str, Tensor], reference: Mapping[str, Tensor], where: str
) -> None:
    """``tensors`` has exactly ``reference``'s names, shapes and kinds of dtype."""
    missing = sorted(set(reference) - set(tensors))
    extra = sorted(set(tensors) - set(reference))
    want(not missing, f"{where} lacks {', '.join(missing[:3])} (of {len(missing)})")
    want(not extra, f"{where} has unexpected tensors {', '.join(extra[:3])}")
    for key, expected in reference.items():
        got = tensors[key]
        want(
            tuple(got.shape) == tuple(expected.shape),
            f"{where}/{key} has shape {list(got.shape)}, the model needs {list(expected.shape)}",
        )
        want(
            got.dtype.is_floating_point == expected.dtype.is_floating_point,
            f"{where}/{key} has dtype {got.dtype}, the model needs {expected.dtype}",
        )


def check_optimizer_state(
    state: Mapping[int, Mapping[str, Tensor]], parameters: Sequence[Tensor]
) -> None:
    """Adam's per-parameter state: ``exp_avg``/``exp_avg_sq`` shaped like their parameter, a
    finite non-negative scalar ``step``; indices of trainable parameters only."""
    for index, values in state.items():
        want(0 <= index < len(parameters), f"checkpoint/optimizer/{index}: no such parameter")
        where = f"checkpoint/optimizer/{index}"
        expected = {"step", "exp_avg", "exp_avg_sq"}
        want(
            set(values) == expected, f"{where} holds {sorted(values)}, expected {sorted(expected)}"
        )
        shape = tuple(parameters[index].shape)
        for name in ("exp_avg", "exp_avg_sq"):
            tensor = values[name]
            want(
                tuple(tensor.shape) == shape and tensor.dtype.is_floating_point,
                f"{where}/{name} is {tensor.dtype} {list(tensor.shape)}, the parameter is "
                f"{list(shape)}",
            )
        step = values["step"]
        want(step.numel() == 1 and step.dim() <= 1, f"{where}/step is not a single number")
        want(
            not step.dtype.is_complex and step.dtype != torch.bool,
            f"{where}/step has dtype {step.dtype}",
        )
        number(float(step.double().reshape(())), f"{where}/step")
        want(float(step.double().reshape(())) >= 0, f"{where}/step is negative")


def check_generator_states(states: Mapping[str, Tensor], devices: Mapping[str, str]) -> None:
    """Generator states are uint8 vectors of the size torch's generator of that type has."""
    want(set(states) == {"shuffle", "noise"}, f"checkpoint/rng holds {sorted(states)}")
    for name, state in states.items():
        device = devices.get(name, "cpu")
        want(device in ("cpu", "cuda", "mps", "xpu"), f"checkpoint/rng/{name}: device {device!r}")
        want(
            state.dtype == torch.uint8 and state.dim() == 1,
            f"checkpoint/rng/{name} is {state.dtype} {list(state.shape)}, expected uint8 bytes",
        )
        if device == "cpu":
            size = torch.Generator().get_state().numel()
            want(
                state.numel() == size,
                f"checkpoint/rng/{name} has {state.numel()} bytes, not {size}",
            )


def check_train_state(state: Any, flow: torch.nn.Module) -> None:
    """Everything of a checkpoint that reaches torch, against the model the config builds."""
    reference = flow.state_dict()
    check_tensors(state.model, reference, "checkpoint/model")
    check_tensors(state.best_model, reference, "model")
    parameters = [p for p in flow.parameters() if p.requires_grad]
    check_optimizer_state(state.optimizer, parameters)
    check_generator_states(state.rng, state.rng_devices)
    want(0 <= state.best_epoch <= state.epoch, "checkpoint best_epoch is after its epoch")


def config_error(err: ConfigurationError) -> DamagedRunFile:
    return DamagedRunFile(f"its configuration is invalid: {err}")


__all__ = [
    "MAX_EPOCHS",
    "MAX_EVENT_AXES",
    "MAX_FEATURES",
    "MAX_JSON_DEPTH",
    "MAX_SEED",
    "DamagedRunFile",
    "check_config_dict",
    "check_dataset_attrs",
    "check_generator_states",
    "check_optimizer_state",
    "check_results",
    "check_tensors",
    "check_train_state",
    "config_error",
    "damaged",
    "integer",
    "json_object",
    "mapping",
    "number",
    "text",
]
