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
    ConfigurationError,
    CouplingLaw,
    Flow,
    FlowkitWarning,
    LawCoupling,
    Pipeline,
    hookimpl,
)
from flowkit_builtins.stack import (
    SIZE_FLAGS,
    STACK_ARGUMENTS,
    STACK_DEFAULTS,
    build_stack,
    component_options,
    layer_count,
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
        "zero_init": True,
        "conditioner": "mlp",
        "coupling_options": {},
        "conditioner_options": {},
        **STACK_DEFAULTS,
    }
    component_arguments: ClassVar[dict[str, dict[str, str]]] = {
        "coupling": {**SIZE_FLAGS, "partition": "--partition", "parity": ""},
        "conditioner": {
            "in_features": "",
            "out_features": "",
            "context_features": "",
            **SIZE_FLAGS,
        },
        **STACK_ARGUMENTS,
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
        layers = layer_count(config)
        if layers < 3:
            warnings.warn(
                f"{layers} coupling layer(s): NICE needs at least 3 for every dimension to "
                "influence every other (section 3.4)",
                FlowkitWarning,
                stacklevel=2,
            )
        self.check_component_options(registry, config)
        make_coupling = self._coupling_factory(registry, config)

        def coupling(index: int) -> Any:
            return make_coupling(
                features,
                hidden=config["hidden"],
                depth=config["depth"],
                activation=config["activation"],
                partition=config["partition"],
                parity=index % 2,
                zero_init=config["zero_init"],
            )

        return build_stack(registry, features, config, coupling, permute_first=True)

    def _coupling_factory(self, registry, config) -> Callable[..., Any]:
        """``make(features, **layer_arguments)`` for ``--coupling``: a :class:`LawCoupling`
        with a fresh law and the chosen flat conditioner, or the whole coupling layer of a
        plugin written before laws (which brings its own conditioner)."""
        chosen = registry.coupling(config["coupling"])

        def options(kind: str) -> dict[str, Any]:
            return component_options(config, kind)

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
