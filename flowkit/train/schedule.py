"""Learning-rate schedules over epochs, from :mod:`torch.optim.lr_scheduler`.

The paper trains with a constant Adam learning rate (NICE section 5.1, ``lr_schedule="none"``).
``cosine`` anneals it from ``lr`` to ``lr_min`` over ``epochs`` (``CosineAnnealingLR``);
``step`` multiplies it by ``lr_gamma`` every ``lr_step_epochs`` epochs (``StepLR``). The
scheduler steps once per epoch; its state is part of a resumable snapshot, so a resumed run
follows the schedule exactly where it stopped.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, StepLR

from flowkit.errors import ConfigurationError
from flowkit.train.options import LR_SCHEDULES as SCHEDULES

if TYPE_CHECKING:  # pragma: no cover
    from flowkit.train.options import TrainOptions


def make_scheduler(optimizer: torch.optim.Optimizer, options: TrainOptions) -> LRScheduler | None:
    """The scheduler ``options`` asks for, or None for a constant learning rate."""
    if options.lr_schedule == "cosine":
        return CosineAnnealingLR(optimizer, T_max=max(options.epochs, 1), eta_min=options.lr_min)
    if options.lr_schedule == "step":
        return StepLR(optimizer, step_size=options.lr_step_epochs, gamma=options.lr_gamma)
    return None


def scheduler_state(scheduler: LRScheduler | None) -> dict[str, Any]:
    """The scheduler's ``state_dict()`` (plain numbers and lists), ``{}`` without one."""
    if scheduler is None:
        return {}
    return {k: v for k, v in scheduler.state_dict().items() if _plain(v)}


def restore_scheduler(
    scheduler: LRScheduler | None, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    """Load ``state`` into ``scheduler`` and give the optimizer the learning rates it had then
    (the optimizer's own state dict is restored with fresh parameter groups)."""
    if scheduler is None or not state:
        return
    check_scheduler_state(state, _options_of(scheduler, optimizer))
    scheduler.load_state_dict(dict(state))
    for group, lr in zip(optimizer.param_groups, scheduler.get_last_lr()):
        group["lr"] = lr


#: The options each schedule's stored state sets: state key -> TrainOptions field.
_STATE_OPTIONS = {
    "cosine": {"T_max": "epochs", "eta_min": "lr_min"},
    "step": {"step_size": "lr_step_epochs", "gamma": "lr_gamma"},
}


def check_scheduler_state(state: dict[str, Any], options: TrainOptions) -> None:
    """Raise :class:`ConfigurationError` unless ``state`` (a stored scheduler state of the
    schedule ``options`` names) holds values a run may start with: the rules of
    :meth:`TrainOptions.validate` for the options it sets, applied to the stored values (so a
    run file cannot hold a schedule that no run could be started with), and a cosine period
    (``T_max``) of at least one epoch, as :func:`make_scheduler` makes it."""
    if not state or options.lr_schedule not in _STATE_OPTIONS:
        return
    fields = _STATE_OPTIONS[options.lr_schedule]
    missing = [key for key in (*fields, "base_lrs", "last_epoch") if key not in state]
    if missing:
        raise ConfigurationError(
            f"{options.lr_schedule} schedule state lacks {', '.join(missing)}"
        )
    base_lrs, last_epoch = state["base_lrs"], state["last_epoch"]
    if not (isinstance(base_lrs, list) and base_lrs):
        raise ConfigurationError(f"schedule base_lrs is {base_lrs!r:.40}, expected a list")
    if not (_integer(last_epoch) and last_epoch >= 0):
        raise ConfigurationError(f"schedule last_epoch = {last_epoch!r:.40} is not an epoch")
    if options.lr_schedule == "cosine" and not (_integer(state["T_max"]) and state["T_max"] >= 1):
        raise ConfigurationError(
            f"cosine schedule period T_max = {state['T_max']!r:.40}; it must be at least 1 epoch"
        )
    # The rules of the schedule's options alone (not the device's or precision's).
    values: dict[str, Any] = {name: state[key] for key, name in fields.items()}
    values.update(precision="fp32", device="cpu", compile=False)
    for lr in base_lrs:
        try:
            dataclasses.replace(options, lr=lr, **values).validate()
        except (ConfigurationError, TypeError, ValueError) as err:
            rule = str(err).split(" (options:")[0]
            shown = ", ".join(f"{key} = {state[key]!r:.20}" for key in fields)
            raise ConfigurationError(
                f"{options.lr_schedule} schedule state ({shown}, lr = {lr!r:.20}): {rule}"
            ) from None


def _options_of(scheduler: LRScheduler, optimizer: torch.optim.Optimizer) -> TrainOptions:
    """The options behind ``scheduler`` (for :func:`check_scheduler_state`)."""
    from flowkit.train.options import TrainOptions

    kind = "cosine" if isinstance(scheduler, CosineAnnealingLR) else "step"
    return TrainOptions(lr_schedule=kind, lr=optimizer.defaults["lr"], device="cpu")


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


__all__ = [
    "SCHEDULES",
    "check_scheduler_state",
    "make_scheduler",
    "restore_scheduler",
    "scheduler_state",
]
