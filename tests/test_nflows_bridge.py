"""The nflows bridge: nflows transforms as flowkit components, and why the others are left out.

The contract kit over every bridged component runs in tests/test_contracts.py (automatically,
as for every registered component); here: what the adapters add, and the exclusion reasons,
re-checked so that a new nflows or torch release that fixes one shows up as a failing test.
"""

from __future__ import annotations

import inspect

import nflows.transforms as nt
import pytest
import torch
from nflows.distributions.normal import StandardNormal
from nflows.flows.base import Flow as NflowsFlow

from flowkit import CompositeTransform, ConfigurationError, Flow, InputOutsideDomain, Transform
from flowkit.testing import ContractError, check_device_dtype, check_invertibility


@pytest.fixture(scope="module")
def bridge(registry):
    """The bridge's plugin module, reached through the plugin manager (as a user would)."""
    return registry.plugin_manager.get_plugin("flowkit.nflows")


def make(registry, name, features=6, **options):
    return registry.get("transform", name)(features, **options)


def test_every_wrapped_transform_is_registered_by_the_nflows_plugin(registry, bridge):
    entries = [e for e in registry if e.plugin == "flowkit.nflows"]
    assert {e.name for e in entries} == {cls.name for cls in bridge.wrapped()}
    assert all(e.kind == "transform" and e.name.startswith("nflows.") for e in entries)
    assert len(entries) >= 15
    for entry in entries:
        layer = entry.component(4, **entry.component.contract_examples[0])
        assert isinstance(layer, Transform) and isinstance(layer.inner, entry.component.wraps)


def test_bridged_flow_trains_and_runs_inside_nflows_own_flow(registry):
    torch.manual_seed(0)
    base = torch.randn(256, 4)
    data = torch.cat([base[:, :2], base[:, 2:] + base[:, :2] ** 2], dim=1)
    transform = CompositeTransform(
        [
            make(registry, "nflows.actnorm", 4),
            make(registry, "nflows.rq_coupling", 4, hidden=16, depth=1, num_bins=4),
            make(registry, "nflows.random_permutation", 4, seed=3),
            make(registry, "nflows.affine_coupling", 4, hidden=16, depth=1),
            make(registry, "nflows.maf", 4, hidden=16, blocks=1),
        ]
    )
    flow = Flow(transform, registry.get("prior", "gaussian")(4))
    flow.transform.initialize(data)
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-2)
    with torch.no_grad():
        before = flow.log_prob(data).mean().item()
    for _ in range(25):
        optimizer.zero_grad()
        (-flow.log_prob(data).mean()).backward()
        optimizer.step()
    flow.eval()
    with torch.no_grad():
        after = flow.log_prob(data).mean().item()
        # the same transform in nflows' Flow with nflows' Gaussian gives the same density
        theirs = NflowsFlow(transform, StandardNormal([4])).log_prob(data[:16])
        assert torch.allclose(theirs, flow.log_prob(data[:16]), atol=1e-5)
    assert after > before + 0.2


def test_coupling_adapters_accept_a_context(registry):
    layer = make(registry, "nflows.affine_coupling", 4, hidden=8, depth=1, context_features=2,
                 zero_init=False)  # fmt: skip
    x = torch.randn(5, 4)
    y1, _ = layer(x, context=torch.zeros(5, 2))
    y2, _ = layer(x, context=torch.ones(5, 2))
    assert not torch.allclose(y1, y2)
    back, _ = layer.inverse(y2, context=torch.ones(5, 2))
    assert torch.allclose(back, x, atol=1e-5)
    with pytest.raises(ConfigurationError, match="context"):
        layer(x)


def test_coupling_adapters_take_flowkits_partition(registry):
    layer = make(registry, "nflows.additive_coupling", 6, hidden=8, depth=1, partition="halves",
                 parity=1, zero_init=False)  # fmt: skip
    assert layer.inner.identity_features.tolist() == [3, 4, 5]
    y, _ = layer(torch.randn(3, 6))
    assert y.shape == (3, 6)


def test_actnorm_initialisation_standardises_and_survives_state_dict(registry):
    layer = make(registry, "nflows.actnorm", 3)
    assert layer.needs_initialization
    data = torch.randn(500, 3) * torch.tensor([0.5, 2.0, 7.0]) + 4.0
    layer.initialize(data)
    y, _ = layer(data)
    assert torch.allclose(y.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y.std(0), torch.ones(3), atol=1e-4)
    fresh = make(registry, "nflows.actnorm", 3)
    fresh.load_state_dict(layer.state_dict())
    assert not fresh.needs_initialization and torch.allclose(fresh(data)[0], y)


def test_random_permutation_is_seeded_and_leaves_the_global_rng_alone(registry):
    state = torch.random.get_rng_state()
    a = make(registry, "nflows.random_permutation", 10, seed=1).inner._permutation
    b = make(registry, "nflows.random_permutation", 10, seed=1).inner._permutation
    c = make(registry, "nflows.random_permutation", 10, seed=2).inner._permutation
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_bad_options_and_inputs_are_clear_errors(registry):
    with pytest.raises(ConfigurationError, match="even"):
        make(registry, "nflows.svd_linear", 4, num_householder=3)
    with pytest.raises(ConfigurationError, match="activation"):
        make(registry, "nflows.maf", 4, activation="swish")
    with pytest.raises(Exception, match=r"shape \[batch, 6\]"):
        make(registry, "nflows.reverse")(torch.randn(2, 5))


# ---- the exclusions still hold on this torch / nflows ------------------------------------------


class Adapter(Transform):
    """A throwaway adapter for an nflows transform the bridge does not wrap."""

    def __init__(self, features, build):
        super().__init__(features)
        self.inner = build(features)

    def forward(self, inputs, context=None):
        return self.inner(inputs, context)

    def inverse(self, inputs, context=None):
        return self.inner.inverse(inputs, context)

    class Net(torch.nn.Module):
        """A conditioner with nflows' call signature."""

        def __init__(self, in_features, out_features):
            super().__init__()
            self.hidden_features = 8
            self.mlp = torch.nn.Sequential(
                torch.nn.Linear(in_features, 8), torch.nn.ReLU(), torch.nn.Linear(8, out_features)
            )

        def forward(self, inputs, context=None):
            return self.mlp(inputs)


def test_excluded_list_names_every_reason_tested_here(bridge):
    excluded = " ".join(bridge.EXCLUDED)
    for name in ("NaiveLinear", "LULinear", "QRLinear", "BatchNorm", "LeakyReLU", "Tanh",
                 "PiecewiseLinearCDF", "PiecewiseLinearCouplingTransform"):  # fmt: skip
        assert name in excluded


@pytest.mark.filterwarnings("ignore:torch.qr is deprecated")
def test_naive_linear_calls_the_removed_torch_solve():
    layer = nt.NaiveLinear(3)
    with pytest.raises(RuntimeError, match="solve"):
        layer.inverse(torch.randn(2, 3))


@pytest.mark.parametrize("cls", [nt.LULinear, nt.QRLinear])
def test_lu_and_qr_linear_use_the_deprecated_triangular_solve(cls):
    assert "torch.triangular_solve(" in inspect.getsource(cls)


def test_batchnorm_depends_on_the_batch_in_training_mode():
    layer = nt.BatchNorm(3).train()
    x = torch.randn(8, 3)
    assert not torch.allclose(layer(x)[0][:4], layer(x[:4])[0])
    with pytest.raises(nt.InverseNotAvailable):
        layer.inverse(x)


def test_leaky_relu_fails_the_dtype_check():
    with pytest.raises(ContractError, match="logabsdet are torch.float32"):
        check_device_dtype(lambda: Adapter(4, lambda f: nt.LeakyReLU()), 4)


@pytest.mark.parametrize("cls", [nt.Tanh, nt.Sigmoid])
def test_squashing_maps_are_not_bijections_of_the_real_line(cls):
    with pytest.raises(InputOutsideDomain):
        cls().inverse(torch.tensor([[3.0, -2.0]]))


@pytest.mark.parametrize(
    "build",
    [
        lambda f: nt.PiecewiseLinearCDF([f], num_bins=4, tails="linear", tail_bound=3.0),
        lambda f: nt.PiecewiseLinearCouplingTransform(
            torch.arange(f) % 2,
            lambda i, o: Adapter.Net(i, o),
            num_bins=4,
            tails="linear",
            tail_bound=3.0,
        ),
    ],
    ids=["PiecewiseLinearCDF", "PiecewiseLinearCouplingTransform"],
)
def test_piecewise_linear_splines_fail_the_round_trip(build):
    with pytest.raises(ContractError, match="inverse\\(forward\\(x\\)\\)"):
        check_invertibility(lambda: Adapter(6, build), 6)


@pytest.mark.parametrize(
    "cls",
    [
        nt.MaskedPiecewiseLinearAutoregressiveTransform,
        nt.MaskedPiecewiseCubicAutoregressiveTransform,
    ],
)
def test_linear_and_cubic_autoregressive_splines_have_no_tails(cls):
    assert "tails" not in inspect.signature(cls).parameters
    layer = cls(num_bins=4, features=3, hidden_features=8)
    with pytest.raises(InputOutsideDomain):
        layer(torch.tensor([[2.0, -1.5, 0.5]]))
