"""Pipelines: named recipes that build a :class:`flowkit.Flow` from a configuration.

``flowkit run NAME`` looks the pipeline up in the registry, resolves its configuration (defaults
overridden by command-line options) and calls :meth:`Pipeline.build`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from flowkit.conditioners import check_layer
from flowkit.errors import ConfigurationError
from flowkit.laws import CouplingLaw
from flowkit.options import (
    accepted_options,
    check_options,
    check_plain_value,
    coerce_options,
    option_types,
    option_value,
)

if TYPE_CHECKING:  # pragma: no cover
    from flowkit.flows import Flow
    from flowkit.registry import Registry


class Pipeline:
    """Base class of pipelines.

    Subclasses set :attr:`name`, :attr:`defaults` (every option the pipeline understands, with its
    default) and implement :meth:`build`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    #: Component kinds whose constructor options the pipeline takes as ``<kind>_options`` (a
    #: dict in :attr:`defaults`), each with the arguments the pipeline passes itself (and the
    #: flag that sets each, or ""); :meth:`check_component_options` checks the rest.
    component_arguments: ClassVar[dict[str, dict[str, str]]] = {}

    def resolve(self, **options: Any) -> dict[str, Any]:
        """Defaults updated with ``options``; unknown option names are an error, and so is a
        value of another type than the default's (a bool default makes a boolean option, which
        also takes yes/no and 1/0: ``--set actnorm=no`` is ``False``)."""
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise ConfigurationError(
                f"pipeline {self.name!r} has no option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self.defaults))}"
            )
        values = {}
        for key, value in options.items():
            default, what = self.defaults[key], key  # as --set KEY=VALUE names it
            check_plain_value(value, f"pipeline option {key}")
            if isinstance(default, Mapping) and not isinstance(value, (Mapping, type(None))):
                raise ConfigurationError(
                    f"{what} must map option names to values, got {value!r:.60}"
                )
            values[key] = option_value(value, option_types(default), what)
        return {**self.defaults, **values}

    def resolve_components(self, registry: Registry, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` with every ``<kind>_options`` of :attr:`component_arguments` checked
        against the chosen class's constructor (names and types, see
        :func:`flowkit.options.coerce_options`): booleans spelled as text become bools."""
        resolved = dict(config)
        for kind, passed in self.component_arguments.items():
            options, choice = config.get(f"{kind}_options"), config.get(kind)
            if not options or not isinstance(options, Mapping) or choice in (None, "none"):
                continue  # check_component_options says what is wrong with these
            cls = registry.coupling(choice) if kind == "coupling" else registry.get(kind, choice)
            resolved[f"{kind}_options"] = coerce_options(
                cls, options, what=f"{kind} {choice!r}", reserved={"features": "", **passed}
            )
        return resolved

    def data_range(self, config: Mapping[str, Any]) -> tuple[float, float] | None:
        """The range the model built from ``config`` needs the (dequantised) data in, e.g.
        ``(0, 1)`` for a flow that starts with a logit; None: any finite values."""
        return None

    def build(self, registry: Registry, features: int, config: dict[str, Any]) -> Flow:
        raise NotImplementedError

    def check_component_options(self, registry: Registry, config: Mapping[str, Any]) -> None:
        """Check every ``<kind>_options`` of ``config`` against the constructor of the class
        chosen as ``config[kind]``: an unknown option is one :class:`ConfigurationError` that
        lists the known ones (``flowkit run`` calls this before loading any data)."""
        for kind, passed in self.component_arguments.items():
            options = config.get(f"{kind}_options") or {}
            if not isinstance(options, Mapping):
                raise ConfigurationError(
                    f"{kind}_options must map option names to values, got {options!r}"
                )
            choice = config.get(kind)
            if not options:
                continue
            if choice in (None, "none"):
                raise ConfigurationError(f"{kind} options {dict(options)} given, but no {kind}")
            check_options(
                registry.coupling(choice) if kind == "coupling" else registry.get(kind, choice),
                options,
                what=f"{kind} {choice!r}",
                reserved={"features": "", **passed},
            )

    def make_law(
        self,
        registry: Registry,
        config: Mapping[str, Any],
        offered: Mapping[str, Any] | None = None,
    ) -> CouplingLaw:
        """The coupling law ``config["coupling"]`` built with ``config["coupling_options"]``,
        plus those of ``offered`` (options the pipeline sets for any law, e.g. its
        ``scale_bound``) that the law accepts. A whole coupling layer of a plugin written
        before laws is an error here: only ``nice`` can use one."""
        name = config["coupling"]
        cls = registry.coupling(name)
        if not issubclass(cls, CouplingLaw):
            raise ConfigurationError(
                f"pipeline {self.name!r}: coupling {name!r} is a whole flat coupling layer "
                "(registered with flowkit_register_couplings), which only the 'nice' pipeline "
                "can build; register it as a coupling law (flowkit.CouplingLaw) to use it in "
                "every pipeline"
            )
        return cls(**accepted_options(cls, offered or {}, config.get("coupling_options")))

    def conditioner_class(
        self, registry: Registry, config: Mapping[str, Any], layer: str
    ) -> type[Any]:
        """The registered conditioner ``config["conditioner"]``, checked to fit ``layer``."""
        cls = registry.get("conditioner", config["conditioner"])
        check_layer(cls, layer, f"pipeline {self.name!r}")
        return cls

    def build_for(
        self, registry: Registry, event_shape: Sequence[int], config: dict[str, Any]
    ) -> Flow:
        """Build for data of ``event_shape`` (what ``flowkit run`` calls).

        The default flattens: a flat pipeline (``nice``) sees only the number of features. An
        image pipeline overrides this to build on the ``(C, H, W)`` shape itself; its flow still
        takes and returns flat ``[batch, features]`` vectors.
        """
        return self.build(registry, math.prod(int(d) for d in event_shape), config)


__all__ = ["Pipeline"]
