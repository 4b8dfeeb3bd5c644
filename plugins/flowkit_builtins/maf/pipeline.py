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

from flowkit import CompositeTransform, ConfigurationError, Flow, FlowkitWarning, Pipeline
from flowkit_builtins.maf.layer import MaskedAutoregressiveLayer


class MafPipeline(Pipeline):
    """MAF: autoregressive layers (MADE + any coupling law) with permutations between them."""

    name = "maf"
    description = (
        "MAF: masked autoregressive layers with any coupling law; one-pass density, "
        "sampling one dimension at a time"
    )
    defaults: ClassVar[dict[str, Any]] = {
        "coupling": "affine",
        "layers": 5,
        "hidden": 256,
        "depth": 2,
        "activation": "relu",
        "conditioner": "made",
        "permutation": "reverse",
        "scaling": "none",
        "whitening": "none",
        "prior": "gaussian",
        "zero_init": True,
        "coupling_options": {},
        "conditioner_options": {},
        "permutation_options": {},
        "scaling_options": {},
        "whitening_options": {},
        "prior_options": {},
    }
    component_arguments: ClassVar[dict[str, dict[str, str]]] = {
        "coupling": {},
        "conditioner": {
            "params_per_value": "",
            "params_layout": "",
            "hidden": "--hidden",
            "depth": "--depth",
            "activation": "--activation",
            "context_features": "",
            "zero_init": "--set zero_init=false",
        },
        "permutation": {"seed": ""},
        "scaling": {"target_std": ""},
        "whitening": {},
        "prior": {},
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
        layers = config["layers"]
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
            raise ConfigurationError(f"layers must be a positive integer, got {layers!r}")
        if isinstance(config["hidden"], int) and config["hidden"] < features - 1:
            warnings.warn(
                f"hidden={config['hidden']} is below features - 1 = {features - 1}: MADE then "
                "cannot connect every value to all the values before it",
                FlowkitWarning,
                stacklevel=2,
            )
        self.check_component_options(registry, config)

        def options(kind: str) -> dict[str, Any]:
            return dict(config.get(f"{kind}_options") or {})

        prior = registry.get("prior", config["prior"])(features, **options("prior"))
        conditioner = self.conditioner_class(registry, config, "autoregressive")
        self.make_law(registry, config)  # a bad law or option fails before any layer is built
        permutation = (
            None
            if config["permutation"] in (None, "none")
            else registry.get("permutation", config["permutation"])
        )
        transforms = []
        if config["whitening"] not in (None, "none"):
            whitening = registry.get("whitening", config["whitening"])
            transforms.append(whitening(features, **options("whitening")))
        for index in range(layers):
            if permutation is not None and index > 0:
                transforms.append(permutation(features, seed=index, **options("permutation")))
            transforms.append(
                MaskedAutoregressiveLayer(
                    features,
                    law=self.make_law(registry, config),
                    conditioner=conditioner,
                    hidden=config["hidden"],
                    depth=config["depth"],
                    activation=config["activation"],
                    conditioner_options=options("conditioner"),
                    zero_init=config["zero_init"],
                )
            )
        if config["scaling"] not in (None, "none"):
            scaling = registry.get("scaling", config["scaling"])
            transforms.append(scaling(features, target_std=prior.stddev, **options("scaling")))
        return Flow(CompositeTransform(transforms), prior)


__all__ = ["MafPipeline"]
