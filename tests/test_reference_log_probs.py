"""The built-in models give the log-densities they gave before coupling laws became parts.

``tests/data/reference_log_probs.json`` was computed with flowkit before the coupling-law
refactor (laws, conditioners and partitions as separate registered parts), on the same
configurations, the same deterministic weights (every floating-point tensor of the state_dict
perturbed by a generator seeded from its name, so nothing depends on construction order) and
the same inputs. The refactor must not change a single density: the weights of a run file
written before it mean the same model after it.
"""

from __future__ import annotations

import json
import warnings
import zlib
from pathlib import Path

import pytest
import torch

from flowkit import load_registry

REFERENCE = json.loads((Path(__file__).parent / "data" / "reference_log_probs.json").read_text())


def _perturbed(flow: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        for name, tensor in sorted(flow.state_dict().items()):
            if tensor.is_floating_point():
                gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
                tensor.add_(0.3 * torch.randn(tensor.shape, generator=gen, dtype=tensor.dtype))
    return flow


def _inputs(shape: int | list[int]) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    if isinstance(shape, int):
        return torch.randn(5, shape, generator=gen, dtype=torch.float64)
    size = int(torch.tensor(shape).prod())
    return torch.rand(5, size, generator=gen, dtype=torch.float64) * 0.9 + 0.05


@pytest.mark.parametrize(
    "case", REFERENCE, ids=[f"{c['pipeline']}-{json.dumps(c['options'])}" for c in REFERENCE]
)
def test_same_weights_give_the_same_log_densities_as_before(case):
    registry = load_registry()
    torch.manual_seed(0)
    pipeline = registry.get("pipeline", case["pipeline"])()
    config = pipeline.resolve(**case["options"])
    shape = case["shape"]
    event_shape = (shape,) if isinstance(shape, int) else tuple(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NICE's "fewer than 3 layers" warning
        flow = _perturbed(pipeline.build_for(registry, event_shape, config).double())
    got = flow.log_prob(_inputs(shape))
    want = torch.tensor(case["log_prob"], dtype=torch.float64)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("name", "nats"),
    [
        ("run-v0.1-moons-affine.h5", -2.990524527311325),
        ("run-v0.1-moons-additive.h5", -3.300539871931076),
    ],
)
def test_run_files_written_before_laws_evaluate_to_the_same_number(name, nats):
    """Run files of flowkit 0.1 (no ``conditioner`` option recorded) rebuild the model they
    trained; the numbers are what ``flowkit eval`` printed before the refactor."""
    from click.testing import CliRunner

    from flowkit.cli import cli

    result = CliRunner().invoke(
        cli, ["eval", str(Path(__file__).parent / "data" / name), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["log_likelihood_nats"] == pytest.approx(nats, abs=1e-12)
