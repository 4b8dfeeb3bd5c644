"""rqspline is usable by name: the registry, the NICE pipeline, training steps, the CLI listing."""

from __future__ import annotations

import json
from importlib import metadata

import pytest
import torch

from flowkit.testing.pytest_plugin import plugin_registry


@pytest.fixture(scope="module")
def registry():
    return plugin_registry("flowkit_spline.plugin")


def build_flow(registry, features=4, **options):
    pipeline = registry.get("pipeline", "nice")()
    config = pipeline.resolve(
        coupling="rqspline", layers=4, hidden=16, depth=1, coupling_options={"bins": 4}, **options
    )
    return pipeline.build(registry, features, config)


def test_nice_pipeline_builds_spline_couplings(registry):
    flow = build_flow(registry)
    couplings = [t for t in flow.transform if getattr(t, "law", None) is not None]
    assert len(couplings) == 4 and [c.parity for c in couplings] == [0, 1, 0, 1]
    assert all(c.law.name == "rqspline" and c.law.bins == 4 for c in couplings)
    x = torch.randn(8, 4)
    assert torch.allclose(flow.decode(flow.encode(x)), x, atol=1e-5)


def test_a_few_training_steps_raise_the_log_likelihood(registry):
    torch.manual_seed(0)
    # a bimodal, skewed 4-D density that an additive flow cannot fit in a few steps
    base = torch.randn(512, 4)
    data = torch.where(base > 0, base**2, base) + 0.5 * base.roll(1, dims=1)
    flow = build_flow(registry, prior="gaussian")
    flow.transform.initialize(data)
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-2)
    with torch.no_grad():
        before = flow.log_prob(data).mean().item()
    for _ in range(30):
        optimizer.zero_grad()
        loss = -flow.log_prob(data).mean()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = flow.log_prob(data).mean().item()
    assert torch.isfinite(torch.tensor(after)) and after > before + 0.3


def test_installed_plugin_is_listed_by_flowkit_plugins():
    try:
        version = metadata.version("flowkit-spline")
    except metadata.PackageNotFoundError:
        pytest.skip("flowkit-spline is not installed (pip install -e plugins/flowkit-spline)")
    from click.testing import CliRunner

    from flowkit.cli import cli

    result = CliRunner().invoke(cli, ["plugins", "--components", "--json"])
    assert result.exit_code == 0, result.output
    rows = [r for r in json.loads(result.stdout) if r["name"] == "rqspline"]
    assert rows == [
        {
            "kind": "law",
            "name": "rqspline",
            "class": "flowkit_spline.coupling.RationalQuadraticSplineLaw",
            "plugin": "spline",
            "distribution": "flowkit-spline",
            "version": version,
        }
    ]
