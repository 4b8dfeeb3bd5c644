"""Learning-rate schedules over epochs, from :mod:`torch.optim.lr_scheduler`.

The paper trains with a constant Adam learning rate (NICE section 5.1, ``lr_schedule="none"``).
``cosine`` anneals it from ``lr`` to ``lr_min`` over ``epochs`` (``CosineAnnealingLR``);
``step`` multiplies it by ``lr_gamma`` every ``lr_step_epochs`` epochs (``StepLR``). The
scheduler steps once per epoch; its state is part of a resumable snapshot, so a resumed run
follows the schedule exactly where it stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, StepLR

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
    scheduler.load_state_dict(dict(state))
    for group, lr in zip(optimizer.param_groups, scheduler.get_last_lr()):
        group["lr"] = lr


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


__all__ = ["SCHEDULES", "make_scheduler", "restore_scheduler", "scheduler_state"]
