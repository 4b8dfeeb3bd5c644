"""Every registered component passes the public contract kit (flowkit.testing)."""

from __future__ import annotations

import pytest

from flowkit import load_registry
from flowkit.testing import component_checks

_REGISTRY = load_registry()
_CHECKS = component_checks(_REGISTRY)


@pytest.mark.parametrize("check", _CHECKS, ids=[c.id for c in _CHECKS])
def test_component_contract(check):
    check()


def test_every_builtin_is_checked():
    checked = {(c.kind, c.name) for c in _CHECKS}
    for entry in _REGISTRY:
        assert (entry.kind, entry.name) in checked, f"{entry.kind} {entry.name} has no check"
