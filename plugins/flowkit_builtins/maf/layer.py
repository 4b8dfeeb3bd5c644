"""A masked autoregressive layer (Papamakarios, Pavlakou, Murray 2017, MAF section 3), any law.

``z_i = g(x_i; m_i(x_0 .. x_{i-1}))`` for every value ``i``, with ``m`` an autoregressive
conditioner (MADE) and ``g`` any registered :class:`flowkit.CouplingLaw`. The Jacobian is
triangular, so ``log|det| = sum_i log|g'(x_i)|``.

- **Density** (``forward``, data to noise) is one pass: every ``m_i`` is computed at once from
  ``x`` (MAF section 3.1).
- **Sampling** (``inverse``) inverts one value at a time: ``x_i`` needs ``x_0 .. x_{i-1}``, so it
  takes ``D`` passes of the conditioner. After pass ``k`` the first ``k`` values are final, so
  after ``D`` passes all are, and the last pass's log-derivatives are those at the final ``x``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from flowkit import (
    ConfigurationError,
    CouplingLaw,
    Transform,
    accepted_options,
    apply_law,
    check_layer,
    run_conditioner,
)
from flowkit_builtins.couplings import law_instance
from flowkit_builtins.maf.made import MADE


class MaskedAutoregressiveLayer(Transform):
    """One MAF layer on ``[batch, features]``.

    :param features: dimension of the inputs.
    :param law: a :class:`flowkit.CouplingLaw` instance, or a built-in law's name built with
        ``law_options``.
    :param conditioner: an autoregressive conditioner class (default: MADE).
    :param hidden, depth, activation: sizes offered to the conditioner (those it accepts).
    :param conditioner_options: further options of the conditioner.
    :param zero_init: zero the conditioner's output layer (the layer starts as the identity).
    :param context_features: width of a context given to the conditioner.
    """

    name = "maf_layer"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"hidden": 8, "depth": 1},
        {"hidden": 8, "depth": 2, "law": "additive"},
        {"hidden": 8, "depth": 1, "law": "affine", "law_options": {"scale_bound": "sigmoid"}},
    ]
    law_layer: ClassVar[str] = "autoregressive"
    law_contract_example: ClassVar[dict[str, Any]] = {"hidden": 8, "depth": 1}
    #: Autocast dtype of the conditioner during mixed-precision training steps (None: float32).
    conditioner_dtype: torch.dtype | None = None

    def __init__(
        self,
        features: int,
        *,
        law: str | CouplingLaw = "affine",
        law_options: Mapping[str, Any] | None = None,
        conditioner: type[nn.Module] | None = None,
        hidden: int = 256,
        depth: int = 2,
        activation: str = "relu",
        conditioner_options: Mapping[str, Any] | None = None,
        zero_init: bool = True,
        context_features: int = 0,
    ) -> None:
        super().__init__(features)
        if self.features < 2:
            raise ConfigurationError(
                f"an autoregressive layer needs at least 2 dimensions, got {self.features}"
            )
        net_cls = conditioner or MADE
        check_layer(net_cls, "autoregressive", "a masked autoregressive layer")
        self.law = law_instance(law, law_options)
        self.context_features = context_features
        sizes = {"hidden": hidden, "depth": depth, "activation": activation}
        self.net = net_cls(
            self.features,
            self.law.params_per_value,
            params_layout=self.law.params_layout,
            context_features=context_features,
            zero_init=zero_init,
            **accepted_options(net_cls, sizes, conditioner_options),
        )

    @property
    def bounded_scale(self) -> bool:
        """Whether the law keeps the inverse finite at extreme conditioner outputs."""
        return bool(self.law.bounded)

    def _params(self, inputs: Tensor, context: Tensor | None) -> Tensor:
        net = self.net
        return run_conditioner(lambda x: net(x, context), inputs, self.conditioner_dtype)

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        return apply_law(self.law, inputs, self._params(inputs, context), inverse=False)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        outputs = torch.zeros_like(inputs)
        logabsdet = inputs.new_zeros(inputs.shape[0])
        for _ in range(self.features):  # pass k fixes value k (see the module docstring)
            outputs, logabsdet = apply_law(
                self.law, inputs, self._params(outputs, context), inverse=True
            )
        return outputs, logabsdet

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, law={self.law.name!r}"


__all__ = ["MaskedAutoregressiveLayer"]
