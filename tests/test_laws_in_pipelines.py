"""Every law in every pipeline from the command line: glow and realnvp with any law, the maf
pipeline (one-pass density, one-dimension-at-a-time sampling), conditioners by name."""

from __future__ import annotations

import json

import h5py
import pytest
import torch
from click.testing import CliRunner

from flowkit import load_registry
from flowkit.cli import cli
from flowkit_builtins.maf.layer import MaskedAutoregressiveLayer

TINY_IMAGE = ["--set", "hidden=4", "--set", "steps=1", "--set", "levels=1"]
TINY_FLAT = ["--hidden", "16", "--depth", "1", "--set", "layers=2"]


def run(tmp_path, pipeline, *args):
    out = tmp_path / f"{pipeline}.h5"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            pipeline,
            "--dataset",
            "digits",
            "--epochs",
            "1",
            "--threads",
            "1",
            "--out",
            str(out),
            *args,
        ],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize(
    ("pipeline", "args", "law"),
    [
        (
            "glow",
            ["--coupling", "rqspline", "--coupling-option", "bins=8", *TINY_IMAGE],
            "rqspline",
        ),
        ("realnvp", ["--coupling", "multiplicative", *TINY_IMAGE], "multiplicative"),
        (
            "glow",
            ["--coupling", "additive", "--set", "conditioner=resnet", *TINY_IMAGE],
            "additive",
        ),
        ("maf", ["--coupling", "rqspline", "--coupling-option", "bins=4", *TINY_FLAT], "rqspline"),
        ("maf", ["--coupling", "affine", *TINY_FLAT], "affine"),
    ],
    ids=["glow-rqspline", "realnvp-multiplicative", "glow-resnet", "maf-rqspline", "maf-affine"],
)
def test_a_law_trains_evaluates_and_samples_in_any_pipeline(tmp_path, pipeline, args, law):
    out = run(tmp_path, pipeline, *args)
    with h5py.File(out) as handle:
        assert handle.attrs["status"] == "completed"
    shown = CliRunner().invoke(cli, ["config", str(out)])
    assert shown.exit_code == 0 and f'coupling = "{law}"' in shown.stdout
    evaluated = CliRunner().invoke(cli, ["eval", str(out), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert 0 < json.loads(evaluated.stdout)["bits_per_dim"] < 10
    grid = tmp_path / "samples.npy"
    sampled = CliRunner().invoke(cli, ["sample", str(out), "-n", "4", "--out", str(grid)])
    assert sampled.exit_code == 0, sampled.output
    resumed = CliRunner().invoke(cli, ["run", "--resume", str(out), "--epochs", "2"])
    assert resumed.exit_code == 0, resumed.output


@pytest.mark.parametrize(
    ("pipeline", "args", "message"),
    [
        ("glow", ["--coupling", "rqspline", "--coupling-option", "bins=1"], "bins must be"),
        ("maf", ["--coupling", "affine", "--coupling-option", "scale_bound=huge"], "scale_bound"),
        ("glow", ["--set", "conditioner=mlp"], "needs a conditioner for image layers"),
        ("maf", ["--set", "conditioner=glow"], "needs a conditioner for autoregressive layers"),
        ("nice", ["--set", "conditioner=made"], "needs a conditioner for flat layers"),
        ("realnvp", ["--coupling", "afine"], "did you mean 'affine'"),
    ],
)
def test_a_bad_law_or_conditioner_is_one_line_before_training(tmp_path, pipeline, args, message):
    out = tmp_path / "bad.h5"
    result = CliRunner().invoke(
        cli, ["run", pipeline, "--dataset", "digits", "--out", str(out), *args]
    )
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.output and not out.exists()


def test_maf_density_is_one_pass_and_sampling_inverts_one_dimension_at_a_time():
    torch.manual_seed(0)
    layer = MaskedAutoregressiveLayer(5, hidden=16, depth=2, zero_init=False).double()
    x = torch.randn(7, 5, dtype=torch.float64)
    calls = []
    layer.net.register_forward_hook(lambda *_: calls.append(1))
    z, logabsdet = layer(x)
    assert len(calls) == 1  # density: one conditioner pass
    # z_i depends on x_0..x_i only: the Jacobian is lower-triangular
    jacobian = torch.autograd.functional.jacobian(lambda v: layer(v[None])[0][0], x[0])
    assert torch.equal(jacobian.triu(1), torch.zeros_like(jacobian))
    torch.testing.assert_close(logabsdet[0], jacobian.diagonal().abs().log().sum())
    calls.clear()
    back, logabsdet_back = layer.inverse(z)
    assert len(calls) == 5  # sampling: one pass per dimension
    torch.testing.assert_close(back, x, atol=1e-10, rtol=0)
    torch.testing.assert_close(logabsdet_back, -logabsdet, atol=1e-10, rtol=0)


def test_maf_pipeline_alternates_the_order_with_permutations():
    registry = load_registry()
    pipeline = registry.get("pipeline", "maf")()
    flow = pipeline.build(registry, 6, pipeline.resolve(layers=3, hidden=8, depth=1))
    kinds = [type(t).__name__ for t in flow.transform]
    assert kinds == [
        "MaskedAutoregressiveLayer",
        "ReversePermutation",
        "MaskedAutoregressiveLayer",
        "ReversePermutation",
        "MaskedAutoregressiveLayer",
    ]
    with pytest.warns(Warning, match="below features - 1"):
        pipeline.build(registry, 64, pipeline.resolve(layers=1, hidden=8, depth=1))


def test_run_help_says_maf_samples_one_dimension_at_a_time():
    result = CliRunner().invoke(cli, ["run", "--help"])
    assert result.exit_code == 0
    assert "one dimension" in " ".join(result.stdout.split())
