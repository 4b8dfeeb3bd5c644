"""Per-dimension scaling layers: NICE's diagonal scaling and Glow's ActNorm.

- ``diagonal``: ``h = exp(s) * x`` with ``log|det| = sum s`` (NICE section 3.3). It lets the
  model weigh each dimension, like learning the prior's per-dimension scale; the sorted
  ``exp(s)`` is the "spectrum" of paper Fig. 8 (a large value marks an unimportant dimension).
- ``actnorm``: ``y = (x + b) * exp(s)`` with ``log|det| = sum s`` (Glow, section 3.1).

Both start from the data by default: each output dimension gets the prior's standard deviation
``target_std`` (and, for ActNorm, mean 0). With NICE's zero-initialised couplings this
initialisation was worth 4x in log-likelihood on MNIST (measured; see the project's NICE.md).
The fit runs in ``initialize(x)`` (``Flow.transform.initialize`` fits every layer in order); a
layer that was never fitted fits itself on the first batch it sees in training mode, as Glow
does. The ``initialized`` flag is a buffer, so a loaded model is never re-fitted.

References: Dinh, Krueger, Bengio. NICE (2014), https://arxiv.org/abs/1410.8516;
Kingma, Dhariwal. Glow (2018), https://arxiv.org/abs/1807.03039
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from flowkit import ConfigurationError, DataError, Transform, hookimpl

INITS = ("data", "zero")


def robust_std(inputs: Tensor, min_std: float, what: str) -> Tensor:
    """Per-dimension standard deviation of ``inputs``, floored at ``min_std``.

    The floor keeps an exactly constant dimension from giving an infinite scale. (Dequantised
    constant pixels are not constant: their std is ``1 / (levels * sqrt(12))``, about 1.1e-3
    for 8-bit data, well above the default floor.)
    """
    if inputs.dim() != 2 or inputs.shape[0] < 2:
        raise DataError(
            f"{what} needs at least 2 rows of shape [rows, features] to initialise, "
            f"got {list(inputs.shape)}"
        )
    if not torch.isfinite(inputs).all():
        raise DataError(f"{what} cannot initialise from data containing NaN or inf")
    return inputs.double().std(dim=0).clamp_min(min_std)


class _DataInitScaling(Transform):
    """Shared options and first-batch initialisation of the data-initialised scalings."""

    def __init__(self, features: int, *, target_std: float, min_std: float) -> None:
        super().__init__(features)
        if not (math.isfinite(target_std) and target_std > 0):
            raise ConfigurationError(f"target_std must be a positive number, got {target_std!r}")
        if not min_std > 0:
            raise ConfigurationError(f"min_std must be > 0, got {min_std!r}")
        self.target_std, self.min_std = float(target_std), float(min_std)

    def _log_scale_for(self, inputs: Tensor) -> Tensor:
        """``s`` giving outputs of standard deviation ``target_std`` on ``inputs``."""
        std = robust_std(inputs, self.min_std, f"the {self.name} scaling")
        return (math.log(self.target_std) - torch.log(std)).to(self.log_scale)

    def _logabsdet(self, inputs: Tensor, sign: float) -> Tensor:
        return (sign * self.log_scale.sum()).expand(inputs.shape[0]).clone()

    def _maybe_initialize(self, inputs: Tensor) -> None:
        # Glow: an unfitted layer fits itself on the first training batch.
        if self.training and self.needs_initialization:
            self.initialize(inputs.detach())


class DiagonalScaling(_DataInitScaling):
    """NICE's diagonal scaling layer ``h = exp(s) * x``, ``log|det| = sum s`` (section 3.3).

    :param target_std: standard deviation each output dimension starts with (the nice pipeline
        passes the prior's, ``pi / sqrt(3)`` for the logistic prior).
    :param init: ``data`` (default): ``s_d = log(target_std) - log(std_d)`` of the inputs seen by
        ``initialize`` (or the first training batch); ``zero``: ``s = 0``, the identity.
    :param min_std: floor on the measured standard deviations (see :func:`robust_std`).
    """

    name = "diagonal"
    contract_examples: ClassVar[list[dict[str, Any]]] = [{}, {"init": "zero", "target_std": 2.0}]

    def __init__(
        self, features: int, *, target_std: float = 1.0, init: str = "data", min_std: float = 1e-6
    ) -> None:
        super().__init__(features, target_std=target_std, min_std=min_std)
        if init not in INITS:
            raise ConfigurationError(f"unknown init {init!r}; choose from {', '.join(INITS)}")
        self.init = init
        self.log_scale = nn.Parameter(torch.zeros(self.features))
        if init == "data":
            self.enable_data_initialization()

    def _initialize(self, inputs: Tensor) -> None:
        self.check_inputs(inputs)
        self.log_scale.copy_(self._log_scale_for(inputs))

    @torch.no_grad()
    def spectrum(self) -> Tensor:
        """The scales ``exp(s)`` sorted in decreasing order (paper Fig. 8)."""
        return torch.exp(self.log_scale).sort(descending=True).values

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        self._maybe_initialize(inputs)
        return inputs * torch.exp(self.log_scale), self._logabsdet(inputs, 1.0)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        return inputs * torch.exp(-self.log_scale), self._logabsdet(inputs, -1.0)

    def extra_repr(self) -> str:
        return f"features={self.features}, init={self.init!r}, target_std={self.target_std:.4g}"


class ActNorm(_DataInitScaling):
    """Glow's activation normalisation ``y = (x + b) * exp(s)``, ``log|det| = sum s``.

    Initialised from data so that the outputs have mean 0 and standard deviation
    ``target_std`` per dimension: by ``initialize(x)``, or else on the first batch it sees in
    training mode. The ``initialized`` flag is a buffer: loading a ``state_dict`` restores the
    fitted ``b`` and ``s`` and marks the layer fitted, so it is never re-initialised (the bug
    other libraries had, where the flag was lost and a loaded model re-fitted itself).

    :param target_std: standard deviation of each output dimension after initialisation.
    :param min_std: floor on the measured standard deviations (see :func:`robust_std`).
    """

    name = "actnorm"
    contract_examples: ClassVar[list[dict[str, Any]]] = [{}, {"target_std": 1.8}]

    def __init__(self, features: int, *, target_std: float = 1.0, min_std: float = 1e-6) -> None:
        super().__init__(features, target_std=target_std, min_std=min_std)
        self.log_scale = nn.Parameter(torch.zeros(self.features))
        self.shift = nn.Parameter(torch.zeros(self.features))
        self.enable_data_initialization()

    def _initialize(self, inputs: Tensor) -> None:
        self.check_inputs(inputs)
        log_scale = self._log_scale_for(inputs)  # validates the data first
        self.shift.copy_(-inputs.double().mean(dim=0).to(self.shift))
        self.log_scale.copy_(log_scale)

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        self._maybe_initialize(inputs)
        outputs = (inputs + self.shift) * torch.exp(self.log_scale)
        return outputs, self._logabsdet(inputs, 1.0)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        outputs = inputs * torch.exp(-self.log_scale) - self.shift
        return outputs, self._logabsdet(inputs, -1.0)

    def extra_repr(self) -> str:
        return f"features={self.features}, target_std={self.target_std:.4g}"


@hookimpl
def flowkit_register_scalings():
    return [DiagonalScaling, ActNorm]
