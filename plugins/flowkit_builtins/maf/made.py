"""MADE, the masked autoencoder of Germain et al. (2015), as an autoregressive conditioner.

An MLP whose weights are multiplied by fixed binary masks so that the outputs of value ``i``
depend only on the values ``0 .. i-1`` (Germain, Gregor, Murray, Larochelle. MADE: Masked
Autoencoder for Distribution Estimation, 2015, section 4, eq. 12-13). Value ``i`` has degree
``i + 1``; each hidden unit gets a degree ``m`` in ``[1, D - 1]`` and sees the inputs of degree
``<= m``; an output of value ``i`` sees the hidden units of degree ``< i + 1``. The degrees of
the hidden units cycle through ``1 .. D - 1`` (deterministic, so a rebuilt model has the same
masks; the masks are buffers all the same). A context enters the first layer unmasked (degree
0), so every output may depend on it.

The masks are part of the network (the autoregressive structure); the inputs of the layer are
never split or masked.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowkit import ACTIVATIONS, PARAM_LAYOUTS, Conditioner, ConfigurationError, with_context


class MaskedLinear(nn.Linear):
    """``x @ (W * mask).T + b`` with a fixed binary ``mask`` buffer ``[out, in]``."""

    def __init__(self, mask: Tensor) -> None:
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, inputs: Tensor) -> Tensor:
        return F.linear(inputs, self.weight * self.mask, self.bias)


def _positive(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


class MADE(Conditioner):
    """``[B, D] -> [B, D * P]``: ``P`` parameters per value, each from the values before it.

    :param features: ``D``.
    :param params_per_value: ``P``, the law's parameters per value.
    :param params_layout: ``grouped`` (output ``k * D + i``) or ``interleaved`` (``i * P + k``),
        as the law reads them (:func:`flowkit.arrange_params`).
    :param hidden: units per hidden layer (at least ``D - 1`` for every value to be reachable).
    :param depth: hidden layers.
    :param activation: hidden activation.
    :param context_features: width of a context every output may depend on.
    :param zero_init: zero the output layer, so the layer starts as the law's identity.
    """

    name = "made"
    layer = "autoregressive"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"hidden": 8, "depth": 1},
        {"hidden": 8, "depth": 2, "activation": "tanh"},
    ]

    def __init__(
        self,
        features: int,
        params_per_value: int,
        *,
        params_layout: str = "grouped",
        hidden: int = 256,
        depth: int = 2,
        activation: str = "relu",
        context_features: int = 0,
        zero_init: bool = True,
    ) -> None:
        super().__init__()
        features = _positive(features, "features", 1)
        count = _positive(params_per_value, "params_per_value", 1)
        hidden = _positive(hidden, "hidden", 1)
        depth = _positive(depth, "depth", 0)
        if activation not in ACTIVATIONS:
            raise ConfigurationError(
                f"unknown activation {activation!r}; choose from {', '.join(ACTIVATIONS)}"
            )
        if params_layout not in PARAM_LAYOUTS:
            raise ConfigurationError(
                f"unknown params_layout {params_layout!r}; choose from {', '.join(PARAM_LAYOUTS)}"
            )
        self.features, self.context_features = features, context_features
        # Degrees: inputs 1..D, context 0 (seen by everything), hidden cycling 1..D-1.
        inputs = torch.cat([torch.arange(1, features + 1), torch.zeros(context_features)])
        units = torch.arange(hidden) % max(features - 1, 1) + 1
        values = torch.arange(1, features + 1)
        outputs = (
            values.repeat(count) if params_layout == "grouped" else values.repeat_interleave(count)
        )
        layers: list[nn.Module] = []
        previous = inputs
        for _ in range(depth):
            layers += [
                MaskedLinear(units[:, None] >= previous[None, :]),
                ACTIVATIONS[activation](),
            ]
            previous = units
        output = MaskedLinear(outputs[:, None] > previous[None, :])
        if zero_init:
            nn.init.zeros_(output.weight)
            nn.init.zeros_(output.bias)
        self.net = nn.Sequential(*layers, output)

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> Tensor:
        return self.net(with_context(inputs, context, self.context_features))

    def extra_repr(self) -> str:
        return f"features={self.features}, context_features={self.context_features}"


__all__ = ["MADE", "MaskedLinear"]
