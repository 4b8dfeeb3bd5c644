"""How to train: :class:`TrainOptions`, with the paper's MNIST settings as defaults (NICE 5.1).

Kept apart from the trainer so that configuration code (run configs, run files, the CLI) can
name the options without importing the training loop.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowkit.errors import ConfigurationError
from flowkit.options import check_count

#: Learning-rate schedules (:mod:`flowkit.train.schedule`).
LR_SCHEDULES = ("none", "cosine", "step")
#: Largest seed (numpy's generators take seeds below 2**32).
MAX_SEED = 2**32 - 1
#: Most CPU threads a run may ask torch for.
MAX_THREADS = 1024
#: ``(least, most)`` of each integer option: the one schema of what a run accepts and of what
#: its run file may hold (:mod:`flowkit.io.schema` reads it back with these bounds), so that
#: every file flowkit writes reads back.
INT_BOUNDS: dict[str, tuple[int, int]] = {
    "epochs": (0, 10**9),
    "batch_size": (1, 2**31),
    "patience": (0, 10**9),
    "seed": (0, MAX_SEED),
    "init_examples": (1, 2**31),
    "eval_batch_size": (1, 2**31),
    "lr_step_epochs": (1, 10**9),
    "threads": (1, MAX_THREADS),
}
#: Number options that must be finite (and the run file's reader checks so): ``(least, whether
#: the least is excluded)``; None where the option may be None.
FLOAT_BOUNDS: dict[str, tuple[float, bool]] = {
    "lr": (0.0, True),
    "eps": (0.0, True),
    "weight_decay": (0.0, False),
    "max_seconds": (0.0, True),
    "lr_gamma": (0.0, True),
    "lr_min": (0.0, False),
    "clip_grad_norm": (0.0, True),
}


@dataclass
class TrainOptions:
    """How to train. Defaults are the paper's MNIST settings (NICE section 5.1).

    The paper's Adam line reads "beta2 = 0.01": that is the 2014 Adam preprint's notation, where
    beta2 is one minus the decay rate. Today's equivalent is ``betas=(0.9, 0.99)``; passed
    literally as 0.01 it diverges within two epochs on MNIST. The paper trains 1500 epochs; here
    that is the cap, and early stopping on validation log-likelihood (``patience`` epochs without
    improvement, 0 = never) normally ends a run much sooner.
    """

    epochs: int = 1500
    batch_size: int = 256
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.99)
    eps: float = 1e-4
    weight_decay: float = 0.0
    patience: int = 20
    seed: int = 0
    device: str = "auto"
    #: Training-time budget in seconds (checked at the end of each epoch); None = no budget.
    max_seconds: float | None = None
    #: Rows of dequantised training data used for data-dependent initialisation.
    init_examples: int = 10000
    eval_batch_size: int = 1000
    #: Fused Adam kernel: None = when the device supports it, True = required, False = never.
    fused: bool | None = None
    #: Learning-rate schedule over epochs (:mod:`flowkit.train.schedule`): none, cosine, step.
    lr_schedule: str = "none"
    #: ``step``: multiply the learning rate by ``lr_gamma`` every ``lr_step_epochs`` epochs.
    lr_step_epochs: int = 100
    lr_gamma: float = 0.5
    #: ``cosine``: the learning rate reached at the last epoch.
    lr_min: float = 0.0
    #: Clip the gradients' total 2-norm to this before each step; None = no clipping.
    clip_grad_norm: float | None = None
    #: CPU threads for torch (``torch.set_num_threads``); None = torch's default.
    threads: int | None = None
    #: Numeric precision of the training steps (:mod:`flowkit.train.precision`): fp32,
    #: bf16-mixed (hidden MLP layers in bfloat16) or tf32 (CUDA); evaluation is always float32.
    precision: str = "fp32"
    #: Train through ``torch.compile`` of the loss (:mod:`flowkit.train.compiled`).
    compile: bool = False

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]

    def validate(self) -> TrainOptions:
        """Raise :class:`ConfigurationError` for values that cannot work; return self."""
        from flowkit.train.precision import PRECISIONS, resolve_precision

        self._check_bounds()  # first: the checks below compare these numbers
        checks = [
            (_is_int(self.epochs) and self.epochs >= 0, "epochs must be an integer >= 0"),
            (_is_int(self.batch_size) and self.batch_size >= 1, "batch size must be >= 1"),
            (math.isfinite(self.lr) and self.lr > 0, "learning rate must be > 0"),
            (
                len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
                "Adam betas must be two numbers in [0, 1)",
            ),
            (self.eps > 0, "Adam eps must be > 0"),
            (self.weight_decay >= 0, "weight decay must be >= 0"),
            (
                self.precision in PRECISIONS,
                f"precision must be one of {', '.join(PRECISIONS)}",
            ),
            (isinstance(self.compile, bool), "compile must be true or false"),
            (
                self.lr_schedule in LR_SCHEDULES,
                "learning-rate schedule must be none, cosine or step",
            ),
            (
                _is_int(self.lr_step_epochs) and self.lr_step_epochs >= 1,
                "learning-rate step epochs must be >= 1",
            ),
            (0 < self.lr_gamma <= 1, "learning-rate gamma must be in (0, 1]"),
            (0 <= self.lr_min < self.lr, "cosine lr_min must be in [0, lr)"),
            (
                self.clip_grad_norm is None or self.clip_grad_norm > 0,
                "gradient clipping norm must be > 0",
            ),
            (
                self.threads is None or (_is_int(self.threads) and self.threads >= 1),
                "threads >= 1",
            ),
            (_is_int(self.patience) and self.patience >= 0, "patience must be an integer >= 0"),
            (self.max_seconds is None or self.max_seconds > 0, "max seconds must be > 0"),
            (
                _is_int(self.init_examples) and self.init_examples >= 1,
                "init examples must be >= 1",
            ),
            (
                _is_int(self.eval_batch_size) and self.eval_batch_size >= 1,
                "evaluation batch size must be >= 1",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigurationError(f"{message} (options: {self.to_dict()})")
        if self.precision == "tf32":  # before any data is loaded: tf32 needs CUDA
            from flowkit.train.device import resolve_device

            resolve_precision(self.precision, resolve_device(self.device))
        return self

    def _check_bounds(self) -> None:
        """:data:`INT_BOUNDS` and :data:`FLOAT_BOUNDS` (one line each)."""
        for name, (low, high) in INT_BOUNDS.items():
            value = getattr(self, name)
            if value is None and name == "threads":
                continue
            if not _is_int(value) or value < low:
                raise ConfigurationError(f"{name} must be an integer >= {low}, got {value!r}")
            check_count(name, value, high)
        for name, (least, open_) in FLOAT_BOUNDS.items():
            value = getattr(self, name)
            if value is None and name in ("max_seconds", "clip_grad_norm"):
                continue
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            above = number and (value > least if open_ else value >= least)
            if not (above and math.isfinite(value)):
                bound = f"> {least:g}" if open_ else f">= {least:g}"
                raise ConfigurationError(f"{name} must be a finite number {bound}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainOptions:
        """Build from :meth:`to_dict` output; keys this version does not know are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
