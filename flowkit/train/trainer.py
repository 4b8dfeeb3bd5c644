"""Maximum-likelihood training of a flow, as in NICE section 5.1.

:func:`fit` trains with minibatch Adam on dequantised data (fresh uniform noise for every example
in every epoch), selects the model with the best validation log-likelihood, stops early when
validation stops improving, and stops cleanly on a non-finite loss keeping the best model. It is
deterministic on the CPU for a given seed, and resumable: a :class:`TrainState` (weights, Adam
moments, random-generator states, history) taken at the end of an epoch lets
``fit(..., state=...)`` continue exactly as if training had not stopped.

Files, printing and progress bars are not the trainer's business: they are callbacks
(:class:`Callback`). Processes are a :class:`flowkit.train.topology.Topology`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from flowkit.datasets import Splits
from flowkit.errors import ConfigurationError
from flowkit.flows import Flow
from flowkit.train.loop import TrainingLoop
from flowkit.train.options import TrainOptions
from flowkit.train.state import EpochRecord, History, TrainState
from flowkit.train.topology import Topology, default_topology

#: Why training stopped (``TrainResult.stop_reason``).
STOP_REASONS = ("max-epochs", "early-stopping", "time-limit", "non-finite", "interrupted")


@dataclass
class FitStart:
    """What :meth:`Callback.on_train_start` is told."""

    options: TrainOptions
    start_epoch: int
    batches_per_epoch: int
    train_examples: int
    features: int
    levels: int | None
    initial_valid_log_likelihood: float
    device: torch.device
    #: Resumable state before the first epoch of this call.
    state: TrainState


class EpochEnd:
    """What :meth:`Callback.on_epoch_end` is told: the epoch's metrics, model selection so far,
    and :meth:`snapshot` for callbacks that save resumable state (checkpoint writers)."""

    def __init__(self, record: EpochRecord, loop: TrainingLoop) -> None:
        self.record = record
        self.epoch = record.epoch
        self.best_epoch = loop.best_epoch
        self.best_valid_log_likelihood = loop.best_ll
        self.bad_epochs = loop.bad_epochs
        self._loop = loop
        self._state: TrainState | None = None

    @property
    def is_best(self) -> bool:
        return self.best_epoch == self.epoch

    def snapshot(self) -> TrainState:
        """A resumable copy of the state after this epoch (taken once, on first request)."""
        if self._state is None:
            self._state = self._loop.current_snapshot()
        return self._state


@dataclass
class TrainResult:
    """What :func:`fit` returns. On return the flow holds the selected (best) weights."""

    history: History
    best_model: dict[str, Tensor]
    best_epoch: int
    best_valid_log_likelihood: float
    initial_valid_log_likelihood: float
    stop_reason: str
    message: str
    #: Resumable state matching ``history`` (None after a non-finite loss: nothing to resume).
    state: TrainState | None
    elapsed_seconds: float
    optimizer: str

    @property
    def epochs_completed(self) -> int:
        return len(self.history)

    @property
    def diverged(self) -> bool:
        return self.stop_reason == "non-finite"

    @property
    def interrupted(self) -> bool:
        return self.stop_reason == "interrupted"


class Callback:
    """Hooks called by :func:`fit`; override what you need. Raising ``KeyboardInterrupt`` from
    any of them stops training as Ctrl-C would."""

    def on_train_start(self, start: FitStart) -> None:
        """Before the first epoch (after data-dependent initialisation)."""

    def on_batch_end(self, examples: int) -> None:
        """After each optimiser step; ``examples`` is the step's batch size over all processes."""

    def on_epoch_end(self, end: EpochEnd) -> None:
        """After each epoch (see :class:`EpochEnd`)."""

    def on_train_end(self, result: TrainResult) -> None:
        """Once, whatever the reason training stopped."""


def make_optimizer(
    parameters: Iterable[nn.Parameter], options: TrainOptions
) -> tuple[torch.optim.Adam, str]:
    """Adam with the fused kernel where torch supports it (about 4x faster steps on CPU); returns
    the optimizer and ``"adam-fused"`` or ``"adam"``."""
    params = [p for p in parameters if p.requires_grad]

    def adam(fused: bool | None) -> torch.optim.Adam:
        return torch.optim.Adam(
            params,
            lr=options.lr,
            betas=(options.betas[0], options.betas[1]),
            eps=options.eps,
            weight_decay=options.weight_decay,
            fused=fused,
        )

    if options.fused is not False:
        try:
            return adam(True), "adam-fused"
        except (RuntimeError, TypeError, ValueError) as err:
            if options.fused:
                raise ConfigurationError(f"fused Adam is not available here: {err}") from None
    return adam(None), "adam"


def fit(
    flow: Flow,
    splits: Splits,
    levels: int | None,
    options: TrainOptions,
    *,
    callbacks: Iterable[Callback] = (),
    state: TrainState | None = None,
    topology: Topology | None = None,
) -> TrainResult:
    """Train ``flow`` on ``splits.train``, select on ``splits.validation``; see the module doc.

    :param splits: RAW values ``[n, *event_shape]``; quantised data (``levels`` an int) is
        dequantised here, afresh every epoch for training, once with a fixed seed for validation.
    :param state: a :class:`TrainState` from an earlier call to continue from (resume); without
        it the flow gets its data-dependent initialisation first.
    :param callbacks: progress bars, checkpoint writers, test hooks.
    :param topology: the processes training runs on (default: this one).

    Ctrl-C (``KeyboardInterrupt``) ends training cleanly: the result's ``state`` is the latest
    snapshot (see :mod:`flowkit.train.loop`), from which ``fit(..., state=...)`` continues.
    """
    options.validate()
    callbacks = list(callbacks)
    loop = TrainingLoop(
        flow, splits, levels, options, topology or default_topology(), make_optimizer, state
    )
    start = FitStart(
        options,
        loop.epoch,
        loop.batches_per_epoch,
        len(loop.train),
        loop.features,
        levels,
        loop.initial_ll,
        loop.device,
        loop.last_snapshot,
    )
    stop_reason, message = "max-epochs", f"reached the epoch limit ({options.epochs})"
    final: TrainState | None = None
    try:
        for callback in callbacks:
            callback.on_train_start(start)
        while loop.epoch < options.epochs:
            if options.max_seconds is not None and loop.elapsed >= options.max_seconds:
                stop_reason = "time-limit"
                message = f"time budget of {options.max_seconds:g} s used up"
                break
            record = loop.run_epoch(callbacks)
            if record is None:
                stop_reason = "non-finite"
                message = (
                    f"non-finite loss in epoch {loop.epoch + 1}: training stopped, the model of "
                    f"epoch {loop.best_epoch} (best validation log-likelihood) is kept; try a "
                    "lower --lr"
                )
                break
            end = EpochEnd(record, loop)
            for callback in callbacks:
                callback.on_epoch_end(end)
            if loop.snapshot_due():
                loop.snapshot()
            if options.patience and loop.bad_epochs >= options.patience:
                stop_reason = "early-stopping"
                message = (
                    f"no validation improvement for {options.patience} epochs; best "
                    f"epoch {loop.best_epoch}"
                )
                break
        if stop_reason != "non-finite":
            final = loop.current_snapshot()
    except KeyboardInterrupt:
        stop_reason, final = "interrupted", loop.last_snapshot
        message = f"interrupted; the state after epoch {final.epoch} is saved"
        if loop.epoch > final.epoch:
            message += f" (epochs {final.epoch + 1}-{loop.epoch} are trained again on resume)"

    if final is not None:
        history, best_model, best_epoch, best_ll = (
            final.history,
            final.best_model,
            final.best_epoch,
            final.best_valid_ll,
        )
    else:  # diverged: everything up to the last good epoch, nothing to resume
        history, best_model, best_epoch, best_ll = (
            loop.history.copy(),
            loop.best_state,
            loop.best_epoch,
            loop.best_ll,
        )
    flow.load_state_dict(best_model)
    flow.eval()
    result = TrainResult(
        history=history,
        best_model=best_model,
        best_epoch=best_epoch,
        best_valid_log_likelihood=best_ll,
        initial_valid_log_likelihood=loop.initial_ll,
        stop_reason=stop_reason,
        message=message,
        state=final,
        elapsed_seconds=final.elapsed_seconds if final is not None else loop.elapsed,
        optimizer=loop.optimizer_name,
    )
    for callback in callbacks:
        callback.on_train_end(result)
    return result


__all__ = [
    "STOP_REASONS",
    "Callback",
    "EpochEnd",
    "EpochRecord",
    "FitStart",
    "History",
    "TrainOptions",
    "TrainResult",
    "TrainState",
    "fit",
    "make_optimizer",
]
