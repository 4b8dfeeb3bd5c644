"""The flat stack that ``nice`` and ``maf`` share (NICE, Dinh et al. 2014, sections 3-5):

``[whitening] -> ([permutation] -> layer) x layers -> [scaling]`` with a factorised prior, where
a layer is a coupling (``nice``) or an autoregressive layer (``maf``). The pipelines differ only
in their layers; the components around them, their options and their checks are written here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowkit import CompositeTransform, ConfigurationError, Flow, Transform

#: The stack's own options with their defaults (each pipeline adds its layers' options).
STACK_DEFAULTS: dict[str, Any] = {
    "permutation": "none",
    "scaling": "diagonal",
    "whitening": "none",
    "prior": "logistic",
    "permutation_options": {},
    "scaling_options": {},
    "whitening_options": {},
    "prior_options": {},
}
#: The conditioner sizes both pipelines set with their own flags (hints for option errors).
SIZE_FLAGS: dict[str, str] = {
    "hidden": "--hidden",
    "depth": "--depth",
    "activation": "--activation",
    "zero_init": "--set zero_init=false",
}
#: What the stack passes to its components itself (``Pipeline.component_arguments``).
STACK_ARGUMENTS: dict[str, dict[str, str]] = {
    "permutation": {"seed": ""},
    "scaling": {"target_std": ""},
    "whitening": {},
    "prior": {},
}


def layer_count(config: dict[str, Any]) -> int:
    """``config["layers"]``, a positive integer."""
    layers = config["layers"]
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
        raise ConfigurationError(f"layers must be a positive integer, got {layers!r}")
    return layers


def component_options(config: dict[str, Any], kind: str) -> dict[str, Any]:
    """The constructor options given for ``kind`` (``config["<kind>_options"]``)."""
    return dict(config.get(f"{kind}_options") or {})


def build_stack(
    registry: Any,
    features: int,
    config: dict[str, Any],
    layer: Callable[[int], Transform],
    *,
    permute_first: bool,
) -> Flow:
    """The flow ``[whitening] -> ([permutation] -> layer(i)) x layers -> [scaling]``.

    :param layer: builds layer ``i`` (0, 1, ...).
    :param permute_first: whether a permutation also precedes the first layer.
    """

    def chosen(kind: str) -> type | None:
        name = config[kind]
        return None if name in (None, "none") else registry.get(kind, name)

    prior = registry.get("prior", config["prior"])(features, **component_options(config, "prior"))
    permutation, whitening, scaling = chosen("permutation"), chosen("whitening"), chosen("scaling")
    transforms: list[Transform] = []
    if whitening is not None:
        transforms.append(whitening(features, **component_options(config, "whitening")))
    for index in range(layer_count(config)):
        if permutation is not None and (permute_first or index > 0):
            options = component_options(config, "permutation")
            transforms.append(permutation(features, seed=index, **options))
        transforms.append(layer(index))
    if scaling is not None:
        options = component_options(config, "scaling")
        transforms.append(scaling(features, target_std=prior.stddev, **options))
    return Flow(CompositeTransform(transforms), prior)


__all__ = [
    "SIZE_FLAGS",
    "STACK_ARGUMENTS",
    "STACK_DEFAULTS",
    "build_stack",
    "component_options",
    "layer_count",
]
