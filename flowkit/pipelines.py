"""Pipelines: named recipes that build a :class:`flowkit.Flow` from a configuration.

``flowkit run NAME`` looks the pipeline up in the registry, resolves its configuration (defaults
overridden by command-line options) and calls :meth:`Pipeline.build`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from flowkit.errors import ConfigurationError

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

    def resolve(self, **options: Any) -> dict[str, Any]:
        """Defaults updated with ``options``; unknown option names are an error."""
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise ConfigurationError(
                f"pipeline {self.name!r} has no option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self.defaults))}"
            )
        return {**self.defaults, **options}

    def build(self, registry: Registry, features: int, config: dict[str, Any]) -> Flow:
        raise NotImplementedError


__all__ = ["Pipeline"]
