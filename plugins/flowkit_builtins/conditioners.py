"""The flat conditioner of NICE's couplings, registered as ``mlp`` (kind ``conditioner``).

NICE's coupling function ``m`` (Dinh et al. 2014, section 5.1): a rectified MLP with a linear
output, here :class:`flowkit.MLP` with the context appended to its input. The image
conditioners (``glow``, ``resnet``) are registered by the ``images`` plugin and MADE
(``made``) by the ``maf`` plugin.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from flowkit import MLP, Conditioner, hookimpl, with_context


class MLPConditioner(MLP, Conditioner):
    """``[B, in_features (+ context)] -> [B, out_features]``: ``depth`` hidden layers of
    ``hidden`` units (paper, MNIST: 5 x 1000 ReLU) and a linear output, zeroed by
    ``zero_init`` so that the coupling starts as the identity."""

    name = "mlp"
    layer = "flat"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"hidden": 8, "depth": 1},
        {"hidden": 8, "depth": 2, "activation": "tanh"},
    ]

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden: int = 1000,
        depth: int = 5,
        activation: str = "relu",
        context_features: int = 0,
        zero_init: bool = True,
    ) -> None:
        super().__init__(
            in_features + context_features,
            out_features,
            hidden=hidden,
            depth=depth,
            activation=activation,
            zero_init_output=zero_init,
        )
        self.context_features = context_features

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> Tensor:
        return MLP.forward(self, with_context(inputs, context, self.context_features))


@hookimpl
def flowkit_register_conditioners():
    return [MLPConditioner]


__all__ = ["MLPConditioner"]
