"""The ``nice`` pipeline: NICE's architecture (Dinh et al. 2014, sections 3-5).

``[whitening] -> ([permutation] -> coupling) x layers -> scaling``, with a factorised prior. The
couplings alternate which half conditions (parity 0, 1, 0, ...), so that with 3 or more layers
every dimension influences every other (section 3.4).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

from flowkit import (
    CompositeTransform,
    ConfigurationError,
    CouplingLaw,
    Flow,
    FlowkitWarning,
    LawCoupling,
    Pipeline,
    hookimpl,
)


class NicePipeline(Pipeline):
    """NICE with the paper's MNIST defaults: 4 additive couplings, MLP 5 x 1000, logistic prior."""

    name = "nice"
    description = "NICE: coupling layers, a diagonal scaling layer and a factorised prior"
    defaults: ClassVar[dict[str, Any]] = {
        "coupling": "additive",
        "layers": 4,
        "hidden": 1000,
        "depth": 5,
        "activation": "relu",
        "partition": "interleaved",
        "permutation": "none",
        "scaling": "diagonal",
        "whitening": "none",
        "prior": "logistic",
        "zero_init": True,
        "conditioner": "mlp",
        "coupling_options": {},
        "conditioner_options": {},
        "permutation_options": {},
        "scaling_options": {},
        "whitening_options": {},
        "prior_options": {},
    }
    component_arguments: ClassVar[dict[str, dict[str, str]]] = {
        "coupling": {
            "hidden": "--hidden",
            "depth": "--depth",
            "activation": "--activation",
            "partition": "--partition",
            "parity": "",
            "zero_init": "--set zero_init=false",
        },
        "conditioner": {
            "in_features": "",
            "out_features": "",
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
        {"layers": 3, "hidden": 8, "depth": 1},
        {
            "layers": 2,
            "hidden": 8,
            "depth": 1,
            "coupling": "affine",
            "permutation": "reverse",
            "whitening": "zca",
            "scaling": "actnorm",
            "prior": "gaussian",
        },
    ]

    def build(self, registry, features: int, config: dict[str, Any]) -> Flow:
        layers = config["layers"]
        if not isinstance(layers, int) or layers < 1:
            raise ConfigurationError(f"layers must be a positive integer, got {layers!r}")
        if layers < 3:
            warnings.warn(
                f"{layers} coupling layer(s): NICE needs at least 3 for every dimension to "
                "influence every other (section 3.4)",
                FlowkitWarning,
                stacklevel=2,
            )
        self.check_component_options(registry, config)

        def options(kind: str) -> dict[str, Any]:
            return dict(config.get(f"{kind}_options") or {})

        prior = registry.get("prior", config["prior"])(features, **options("prior"))
        make_coupling = self._coupling_factory(registry, config, options)
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
            if permutation is not None:
                transforms.append(permutation(features, seed=index, **options("permutation")))
            transforms.append(
                make_coupling(
                    features,
                    hidden=config["hidden"],
                    depth=config["depth"],
                    activation=config["activation"],
                    partition=config["partition"],
                    parity=index % 2,
                    zero_init=config["zero_init"],
                )
            )
        if config["scaling"] not in (None, "none"):
            scaling = registry.get("scaling", config["scaling"])
            transforms.append(scaling(features, target_std=prior.stddev, **options("scaling")))
        return Flow(CompositeTransform(transforms), prior)

    def _coupling_factory(self, registry, config, options) -> Callable[..., Any]:
        """``make(features, **layer_arguments)`` for ``--coupling``: a :class:`LawCoupling`
        with a fresh law and the chosen flat conditioner, or the whole coupling layer of a
        plugin written before laws (which brings its own conditioner)."""
        chosen = registry.coupling(config["coupling"])
        if not issubclass(chosen, CouplingLaw):
            if options("conditioner") or config["conditioner"] != "mlp":
                raise ConfigurationError(
                    f"coupling {config['coupling']!r} is a whole coupling layer with its own "
                    "conditioner (a plugin written before coupling laws): it takes no "
                    "conditioner or conditioner options"
                )
            return partial(chosen, **options("coupling"))
        conditioner = self.conditioner_class(registry, config, "flat")

        def make(features: int, **arguments: Any) -> LawCoupling:
            return LawCoupling(
                features,
                law=chosen(**options("coupling")),
                conditioner=conditioner,
                conditioner_options=options("conditioner"),
                **arguments,
            )

        return make


@hookimpl
def flowkit_register_pipelines():
    return [NicePipeline]
