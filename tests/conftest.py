"""Shared fixtures: a freshly loaded registry and a seeded RNG for every test."""

from __future__ import annotations

import pytest
import torch

from flowkit import load_registry


@pytest.fixture(scope="session")
def registry():
    """The registry of every installed plugin (flowkit's built-ins included)."""
    return load_registry()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
