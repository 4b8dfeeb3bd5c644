"""torch.compile (TrainOptions.compile, --compile): a compiled flow computes the same numbers
as the eager one, and training through it matches eager training."""

from __future__ import annotations

import pytest
import torch

from flowkit import load_registry
from flowkit.train.compiled import compile_available, compile_module
from flowkit.train.topology import LogLikelihood
from flowkit.train.trainer import TrainOptions, fit

PLUGIN = "tests.plugins.run_test_plugin"
available, why = compile_available()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not available, reason=f"torch.compile unavailable here: {why}"),
]


@pytest.fixture(scope="module")
def registry():
    return load_registry(plugins=[PLUGIN])


def build(registry):
    torch.manual_seed(0)
    pipeline = registry.get("pipeline", "nice")()
    return pipeline.build(registry, 16, pipeline.resolve(hidden=8, depth=1, zero_init=False))


def test_compiled_log_prob_and_gradients_equal_eager(registry):
    flow = build(registry)
    inputs = torch.rand(32, 16, generator=torch.Generator().manual_seed(1))
    eager = LogLikelihood(flow)
    compiled = compile_module(LogLikelihood(flow), True)
    assert compile_module(eager, False) is eager
    expected = eager(inputs)
    eager_grads = torch.autograd.grad(-expected.mean(), list(flow.parameters()))
    values = compiled(inputs)
    compiled_grads = torch.autograd.grad(-values.mean(), list(flow.parameters()))
    torch.testing.assert_close(values, expected, rtol=1e-5, atol=1e-4)
    for a, b in zip(compiled_grads, eager_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_training_compiled_matches_eager(registry):
    splits = registry.get("dataset", "tiny-grid")().load()
    results = []
    for compiled in (False, True):
        options = TrainOptions(epochs=2, batch_size=32, seed=3, device="cpu", compile=compiled)
        results.append(fit(build(registry), splits, 8, options))
    eager, compiled = (r.history.as_arrays()["valid_bits_per_dim"] for r in results)
    assert compiled == pytest.approx(eager, abs=1e-4)
