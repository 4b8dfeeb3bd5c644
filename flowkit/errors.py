"""Exceptions raised by flowkit for user errors and plugin problems.

Every error a user can cause derives from :class:`FlowkitError`; the CLI turns any of them into
one line on stderr and exit status 2.
"""

from __future__ import annotations

from flowkit._nflows import transforms_base

InputOutsideDomain = transforms_base.InputOutsideDomain
InverseNotAvailable = transforms_base.InverseNotAvailable

__all__ = [
    "ConfigurationError",
    "DataError",
    "FlowkitError",
    "FlowkitWarning",
    "InputOutsideDomain",
    "InverseNotAvailable",
    "PluginConflictError",
    "RunFileError",
    "UnknownComponentError",
]


class FlowkitError(Exception):
    """Base class of every error flowkit raises on bad input."""


class ConfigurationError(FlowkitError, ValueError):
    """An option or argument has a value that cannot work (zero layers, a negative epoch count)."""


class DataError(FlowkitError, ValueError):
    """Data that cannot be used: missing files, NaN/inf, wrong shape, no rows."""


class RunFileError(FlowkitError):
    """A file that is not a flowkit run file, or is corrupt."""


class MissingExtraError(FlowkitError, ImportError):
    """A feature needs a package that is installed only with one of flowkit's extras."""


class UnknownComponentError(FlowkitError, LookupError):
    """A component name that no loaded plugin registers."""

    def __init__(self, kind: str, name: str, known: list[str], suggestions: list[str]) -> None:
        self.kind, self.name, self.known, self.suggestions = kind, name, known, suggestions
        message = f"unknown {kind} {name!r}"
        if suggestions:
            message += f"; did you mean {' or '.join(repr(s) for s in suggestions)}?"
        message += f" (known: {', '.join(known) if known else 'none'})"
        super().__init__(message)


class PluginConflictError(FlowkitError):
    """Two plugins register a component of the same kind under the same name."""

    def __init__(
        self, kind: str, name: str, first: str, second: str, advice: str | None = None
    ) -> None:
        self.kind, self.name, self.plugins = kind, name, (first, second)
        advice = advice or (
            f"block one of them with `-p no:{second}` or FLOWKIT_DISABLE_PLUGINS={second}"
        )
        super().__init__(
            f"plugins {first!r} and {second!r} both register the {kind} {name!r}; {advice}"
        )


class FlowkitWarning(UserWarning):
    """Something works but is probably not what the user wants (fewer than 3 couplings, ...)."""
