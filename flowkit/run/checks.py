"""Checks a run makes before it loads data, builds a model or touches a file.

- the output: its folder exists and can be written (the rule of :mod:`flowkit.io.space`);
- the model's size: layer counts and widths within sane bounds, and the parameter count of the
  model the configuration describes (built on PyTorch's ``meta`` device, so nothing is
  allocated) below :data:`MAX_PARAMETERS`;
- a resumed run: every tensor of its checkpoint against the model, and a ``--epochs`` that does
  not undo training;
- the data: continuous data with a constant feature has no density (its NLL is unbounded).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from flowkit.errors import ConfigurationError, DataError, FlowkitWarning
from flowkit.io.rebuild import rebuild_flow
from flowkit.io.schema import DamagedRunFile, check_train_state
from flowkit.io.space import check_writable_folder
from flowkit.run.config import OPTION_BOUNDS, RunConfig, build_flow, check_option_bounds
from flowkit.train.schedule import check_scheduler_state

if TYPE_CHECKING:  # pragma: no cover
    from flowkit.datasets import Splits
    from flowkit.flows import Flow
    from flowkit.io.runfile import RunRecord
    from flowkit.registry import Registry
    from flowkit.train.state import TrainState

#: Most parameters of a model ``flowkit run`` builds (the paper's MNIST NICE has 20 million;
#: this is 10 GB of float32 weights before Adam's two moments and the best-model copy).
MAX_PARAMETERS = 2_500_000_000
#: Most bytes of samples one ``sample`` or ``report`` call draws.
MAX_SAMPLE_BYTES = 4 * 2**30


def check_sample_budget(count: int, features: int) -> None:
    """``count`` samples of ``features`` dimensions fit in :data:`MAX_SAMPLE_BYTES` (float32)."""
    needed = count * max(features, 1) * 4
    if needed > MAX_SAMPLE_BYTES:
        most = MAX_SAMPLE_BYTES // (max(features, 1) * 4)
        raise ConfigurationError(
            f"{count:,} samples of {features:,} dimensions need {needed / 2**30:,.1f} GiB; at "
            f"most {most:,} fit in {MAX_SAMPLE_BYTES // 2**30} GiB: draw them in several calls"
        )


def check_run_output(path: Path, default_folder: bool = False) -> None:
    """The run file's folder can be written. The default ``runs/`` (``default_folder``) may be
    missing: then the folder that will hold it must be writable (it is created later, by
    :func:`flowkit.run.runner.default_run_path`, once the run's inputs have been checked)."""
    folder = path.parent
    if default_folder and not folder.exists():
        check_writable_folder(folder.parent, "run folder")
        return
    check_writable_folder(folder, "run file")


def check_model_size(registry: Registry, config: RunConfig, event_shape: Sequence[int]) -> int:
    """The parameter count of the model ``config`` builds, refusing absurd sizes before any
    memory is allocated; returns the count."""
    check_option_bounds(config.pipeline_options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlowkitWarning)  # said again when the model is built
        try:
            with torch.device("meta"):
                flow = build_flow(registry, config, tuple(event_shape))
        except (RuntimeError, NotImplementedError):
            return -1  # a component that cannot be built without memory: no estimate
    count = sum(p.numel() for p in flow.parameters())
    if count > MAX_PARAMETERS:
        raise ConfigurationError(
            f"the model would have {count:,} parameters ({count * 4 / 1e9:,.1f} GB of float32 "
            f"weights, about 4x that to train); flowkit builds at most {MAX_PARAMETERS:,}: "
            "use fewer or narrower layers"
        )
    return count


def resumable_flow(registry: Registry, record: RunRecord, state: TrainState, path: Path) -> Flow:
    """The model of a resumed run, after checking every tensor of its checkpoint (weights,
    best weights, Adam's moments and steps, generator states) against it, and its stored
    learning-rate schedule by the rules a new run's options follow."""
    shape = tuple(record.dataset_info.event_shape)
    tensors = {"model": record.model, "checkpoint/model": state.model}
    flow = rebuild_flow(registry, record.config, shape, path, tensors)
    try:
        check_train_state(state, flow)
        check_scheduler_state(state.scheduler, record.config.train)
    except DamagedRunFile as err:
        raise err.at(path) from None
    except ConfigurationError as err:
        raise DamagedRunFile(f"checkpoint scheduler: {err}", path) from None
    return flow


def check_resume_epochs(state: TrainState, overrides: Mapping[str, Any], path: Path) -> None:
    """``--epochs`` on resume must not be below the epochs already trained (it would mark the
    run completed without training it)."""
    epochs = overrides.get("epochs")
    if epochs is not None and epochs < max(state.epoch, 1):
        raise ConfigurationError(
            f"--epochs {epochs} with --resume: {path} has trained {state.epoch} epoch(s) "
            f"already; give --epochs above {state.epoch} to train on"
        )


def check_training_data(splits: Splits, levels: int | None) -> None:
    """Continuous data whose training split has a constant feature cannot be modelled by a
    density (the NLL grows without bound); quantised data is dequantised, so it can."""
    if levels is not None:
        return
    train = splits.train.reshape(len(splits.train), -1)
    if len(train) < 2:
        return
    spread = train.max(dim=0).values - train.min(dim=0).values
    constant = torch.nonzero(spread == 0).flatten().tolist()
    if constant:
        shown = ", ".join(map(str, constant[:5])) + (" ..." if len(constant) > 5 else "")
        raise DataError(
            f"{len(constant)} feature(s) of the training data are constant (column(s) {shown}): "
            "a continuous density on them is degenerate (the NLL has no minimum); drop them, "
            "or add noise of the data's resolution"
        )


__all__ = [
    "MAX_PARAMETERS",
    "MAX_SAMPLE_BYTES",
    "OPTION_BOUNDS",
    "check_model_size",
    "check_option_bounds",
    "check_resume_epochs",
    "check_run_output",
    "check_sample_budget",
    "check_training_data",
    "resumable_flow",
]
