"""The ``maf`` pipeline: a masked autoregressive flow (Papamakarios et al. 2017) with any law.

``[whitening] -> (permutation -> autoregressive layer) x layers -> [scaling]``, with a
factorised prior. Each layer is :class:`.MaskedAutoregressiveLayer`: a MADE conditioner and the
chosen coupling law. A ``reverse`` permutation between layers (the paper's choice) lets every
value be conditioned on every other across two layers.

Density evaluation is one pass per layer; sampling inverts one dimension at a time (``D``
conditioner passes per layer), so it is ``D`` times slower than density evaluation.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

from flowkit import Flow, FlowkitWarning, Pipeline
from flowkit_builtins.maf.layer import MaskedAutoregressiveLayer
from flowkit_builtins.stack import (
    SIZE_FLAGS,
    STACK_ARGUMENTS,
    STACK_DEFAULTS,
    build_stack,
    component_options,
    layer_count,
)


class MafPipeline(Pipeline):
    """MAF: autoregressive layers (MADE + any coupling law) with permutations between them."""

    name = "maf"
    description = (
        "MAF: masked autoregressive layers with any coupling law; one-pass density, "
        "sampling one dimension at a time"
    )
    defaults: ClassVar[dict[str, Any]] = {
        **STACK_DEFAULTS,
        "coupling": "affine",
        "layers": 5,
        "hidden": 256,
        "depth": 2,
        "activation": "relu",
        "conditioner": "made",
        "permutation": "reverse",
        "scaling": "none",
        "prior": "gaussian",
        "zero_init": True,
        "coupling_options": {},
        "conditioner_options": {},
    }
    component_arguments: ClassVar[dict[str, dict[str, str]]] = {
        "coupling": {},
        "conditioner": {
            "params_per_value": "",
            "params_layout": "",
            "context_features": "",
            **SIZE_FLAGS,
        },
        **STACK_ARGUMENTS,
    }
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"layers": 2, "hidden": 8, "depth": 1},
        {
            "layers": 2,
            "hidden": 8,
            "depth": 1,
            "coupling": "additive",
            "permutation": "none",
            "scaling": "actnorm",
        },
    ]

    def build(self, registry, features: int, config: dict[str, Any]) -> Flow:
        layer_count(config)
        if isinstance(config["hidden"], int) and config["hidden"] < features - 1:
            warnings.warn(
                f"hidden={config['hidden']} is below features - 1 = {features - 1}: MADE then "
                "cannot connect every value to all the values before it",
                FlowkitWarning,
                stacklevel=2,
            )
        self.check_component_options(registry, config)
        conditioner = self.conditioner_class(registry, config, "autoregressive")
        self.make_law(registry, config)  # a bad law or option fails before any layer is built

        def layer(index: int) -> MaskedAutoregressiveLayer:
            return MaskedAutoregressiveLayer(
                features,
                law=self.make_law(registry, config),
                conditioner=conditioner,
                hidden=config["hidden"],
                depth=config["depth"],
                activation=config["activation"],
                conditioner_options=component_options(config, "conditioner"),
                zero_init=config["zero_init"],
            )

        # The paper reverses the order between layers, not before the first.
        return build_stack(registry, features, config, layer, permute_first=False)


__all__ = ["MafPipeline"]
