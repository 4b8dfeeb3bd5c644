"""Coupling plugins written before laws were parts keep working, unchanged, in ``nice``.

``tests/plugin_dists/fk_oldstyle`` is installed as a real distribution: a
``CouplingTransform`` subclass registered with ``flowkit_register_couplings``.
"""

from __future__ import annotations

import json
import math

import torch
from click.testing import CliRunner

from flowkit import CouplingLaw, load_registry
from flowkit.cli import cli
from flowkit.testing.pytest_plugin import plugin_checks

TINY = ["--hidden", "8", "--depth", "1", "--layers", "3", "--epochs", "1", "--threads", "1"]


def test_an_old_style_coupling_trains_evaluates_and_resumes_in_nice(install_dists, tmp_path):
    install_dists("fk_oldstyle")
    registry = load_registry()
    assert registry.coupling_kind("oldstyle_affine") == "coupling"
    assert "oldstyle_affine" in registry.coupling_names()
    out = tmp_path / "run.h5"
    args = ["--coupling", "oldstyle_affine", "--coupling-option", "strength=0.5"]
    ran = CliRunner().invoke(
        cli, ["run", "nice", "--dataset", "moons", *TINY, *args, "--out", str(out)]
    )
    assert ran.exit_code == 0, ran.output
    evaluated = CliRunner().invoke(cli, ["eval", str(out), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert math.isfinite(json.loads(evaluated.stdout)["log_likelihood_nats"])
    extended = CliRunner().invoke(cli, ["run", "--resume", str(out), "--epochs", "2"])
    assert extended.exit_code == 0, extended.output


def test_an_old_style_coupling_is_built_as_before(install_dists):
    install_dists("fk_oldstyle")
    registry = load_registry()
    pipeline = registry.get("pipeline", "nice")()
    config = pipeline.resolve(
        coupling="oldstyle_affine", hidden=8, depth=1, coupling_options={"strength": 0.5}
    )
    flow = pipeline.build(registry, 6, config)
    couplings = [t for t in flow.transform if type(t).__name__ == "SoftAffineCoupling"]
    assert len(couplings) == 4 and all(c.strength == 0.5 for c in couplings)
    assert not any(isinstance(m, CouplingLaw) for m in flow.modules())
    x = torch.randn(5, 6)
    z, logabsdet = flow.transform(x)
    torch.testing.assert_close(flow.transform.inverse(z)[0], x, atol=1e-5, rtol=0)


def test_the_contract_kit_still_checks_an_old_style_coupling(install_dists):
    install_dists("fk_oldstyle")
    checks = plugin_checks("oldstyle")
    assert {c.kind for c in checks} == {"coupling"}
    assert any(c.check == "extreme_inputs" for c in checks)
    for check in checks:
        check()


def test_an_old_style_coupling_cannot_drive_image_or_autoregressive_layers(
    install_dists, tmp_path
):
    install_dists("fk_oldstyle")
    for pipeline in ("glow", "maf"):
        result = CliRunner().invoke(
            cli,
            [
                "run",
                pipeline,
                "--dataset",
                "digits",
                "--coupling",
                "oldstyle_affine",
                "--epochs",
                "1",
                "--out",
                str(tmp_path / f"{pipeline}.h5"),
            ],
        )
        assert result.exit_code == 2, result.output
        (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert "whole flat coupling layer" in error and "only the 'nice' pipeline" in error
        assert not (tmp_path / f"{pipeline}.h5").exists()
