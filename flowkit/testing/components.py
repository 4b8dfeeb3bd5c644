"""Run the contract checks over registered components, by kind.

:func:`component_checks` lists one :class:`ComponentCheck` per (component, constructor example,
check); ``pytest.mark.parametrize`` over it checks a whole registry, and a new component is
checked as soon as its plugin registers it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any
from unittest import SkipTest

import torch

from flowkit.registry import Registry
from flowkit.testing.dataset_checks import iter_dataset_checks
from flowkit.testing.extreme_checks import check_extreme_inputs
from flowkit.testing.law_checks import check_conditioner, iter_law_checks, layer_factories
from flowkit.testing.prior_checks import iter_prior_checks
from flowkit.testing.transform_checks import ContractError, iter_transform_checks

TRANSFORM_KINDS = ("coupling", "permutation", "scaling", "whitening", "transform")
#: Dimension the transform checks run at: even, small, enough for interleaved/halves partitions.
CHECK_FEATURES = 6


@dataclass(frozen=True)
class ComponentCheck:
    """One contract check of one registered component with one set of constructor options."""

    kind: str
    name: str
    options: dict[str, Any]
    check: str
    run: Callable[[], None]

    @property
    def id(self) -> str:
        opts = ",".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.kind}:{self.name}[{opts}]:{self.check}"

    def __call__(self) -> None:
        try:
            self.run()
        except ContractError as err:
            raise ContractError(f"{self.id}: {err}") from None


def _pipeline_transform_factory(
    registry: Registry, component: type[Any], options: dict, event_shape: tuple[int, ...] | None
) -> Callable:
    def make():
        pipeline = component()
        config = pipeline.resolve(**options)
        if event_shape is not None:  # an image pipeline, built on the data's (C, H, W)
            return pipeline.build_for(registry, event_shape, config).transform
        return pipeline.build(registry, CHECK_FEATURES, config).transform

    return make


def checks_for(
    kind: str,
    component: type[Any],
    registry: Registry | None = None,
    features: int = CHECK_FEATURES,
) -> Iterator[ComponentCheck]:
    """Every check of one component class, for each of its ``contract_examples``.

    A component that cannot be built from constructor options alone (a dataset that reads a
    user's file) opts out with ``contract_examples = None`` and says why in
    ``contract_skip_reason``; it then gets a single check, ``skipped``, that raises
    :class:`unittest.SkipTest` (pytest reports it as skipped) and its own tests call the kit
    (e.g. :func:`flowkit.testing.check_dataset`) on the setup it needs.

    Transforms and pipelines that are not maps of flat real vectors say so: an example with an
    ``event_shape`` key builds the transform as ``cls(event_shape, **rest)`` (a pipeline through
    ``build_for``) and checks it at that shape; a class attribute ``contract_domain = "unit"``
    draws the forward inputs from ``(0, 1)`` (see :mod:`flowkit.testing.transform_checks`).
    """
    if getattr(component, "contract_examples", [{}]) is None:
        reason = getattr(component, "contract_skip_reason", None) or "opted out of the kit"
        yield ComponentCheck(kind, component.name, {}, "skipped", lambda: _skip(reason))
        return
    domain = getattr(component, "contract_domain", "real")
    constructor: Callable[..., Any] = component  # typed as a plain callable for partial()
    for example in getattr(component, "contract_examples", None) or [{}]:
        example = dict(example)
        options = {k: v for k, v in example.items() if k != "event_shape"}
        shape = tuple(example["event_shape"]) if "event_shape" in example else None
        if kind in TRANSFORM_KINDS and shape is not None:
            make: Callable[..., Any] = partial(constructor, shape, **options)
            pairs = list(
                iter_transform_checks(make, math.prod(shape), event_shape=shape, domain=domain)
            )
        elif kind in TRANSFORM_KINDS:
            make = partial(constructor, features, **options)
            pairs = list(iter_transform_checks(make, features, domain=domain))
            if kind == "coupling":  # laws are also held to a finite inverse at extremes
                pairs = [*pairs, ("extreme_inputs", partial(check_extreme_inputs, make, features))]
        elif kind == "prior":
            make = partial(constructor, features, **options)
            pairs = list(iter_prior_checks(make, features))
        elif kind == "dataset":
            make = partial(constructor, **options)  # later keywords (seed=...) win
            pairs = list(iter_dataset_checks(make))
        elif kind == "law":
            pairs = list(iter_law_checks(partial(constructor, **options)))
        elif kind == "conditioner":
            pairs = [("conditioner", partial(check_conditioner, component, options))]
        elif kind == "pipeline":
            if registry is None:
                raise ValueError("checking a pipeline needs the registry it builds from")
            pairs = list(
                iter_transform_checks(
                    _pipeline_transform_factory(registry, component, options, shape),
                    math.prod(shape) if shape is not None else features,
                    domain=domain,
                )
            )
        else:
            continue
        for check_name, run in pairs:
            yield ComponentCheck(kind, component.name, example, check_name, run)
    if kind in ("law", "conditioner") and registry is not None:
        yield from in_layer_checks(registry, **{kind: component})


def in_layer_checks(
    registry: Registry, law: type | None = None, conditioner: type | None = None
) -> Iterator[ComponentCheck]:
    """The transform checks of every law in every layer type with every conditioner that fits
    (restricted to one law or one conditioner when given); see
    :func:`flowkit.testing.law_checks.layer_factories`. Bounded laws in flat layers are also
    held to a finite inverse at extreme conditioner outputs."""
    for pairing, make, features, shape, bounded in layer_factories(registry, law, conditioner):
        pairs = list(iter_transform_checks(make, features, event_shape=shape))
        if shape is None and bounded:
            pairs.append(("extreme_inputs", partial(check_extreme_inputs, make, features)))
        for check_name, run in pairs:
            yield ComponentCheck("layer", pairing, {}, check_name, run)


def component_checks(
    registry: Registry, kinds: Iterable[str] | None = None
) -> list[ComponentCheck]:
    """Every check of every registered component (optionally only some kinds)."""
    wanted = set(kinds) if kinds is not None else None
    checks: list[ComponentCheck] = []
    for entry in registry:
        if wanted is None or entry.kind in wanted:
            checks.extend(checks_for(entry.kind, entry.component, registry))
    unique = {check.id: check for check in checks}  # a law and a conditioner share pairings
    return list(unique.values())


def check_component(kind: str, component: type[Any], registry: Registry | None = None) -> None:
    """Run every check of one component class; raises ContractError on the first failure."""
    with torch.random.fork_rng():
        for check in checks_for(kind, component, registry):
            if check.check != "skipped":
                check()


def _skip(reason: str) -> None:
    raise SkipTest(reason)
