"""Interop with nflows, both ways (issue 2).

(a) flowkit components (a coupling, permutations, a scaling, a prior) run inside nflows' own
``Flow`` and ``CompositeTransform`` and give what flowkit's ``Flow`` gives;
(b) nflows transforms, registered through a small test plugin, pass flowkit's contract kit and
run inside a flowkit ``Flow``.
"""

from __future__ import annotations

import pytest
import torch
from nflows.distributions.normal import StandardNormal
from nflows.flows.base import Flow as NflowsFlow
from nflows.transforms.base import CompositeTransform as NflowsComposite

from flowkit import CompositeTransform, Flow, load_registry
from flowkit.testing import check_transform, checks_for
from tests.plugins import nflows_test_plugin

FEATURES = 6
NFLOWS_NAMES = ("nflows_reverse", "nflows_actnorm", "nflows_additive")


def _flowkit_layers(registry):
    """A small NICE-like stack built only from registered flowkit components."""
    coupling = registry.get("coupling", "affine")
    return [
        registry.get("permutation", "lu")(FEATURES, seed=0),
        coupling(FEATURES, hidden=16, depth=1, parity=0, zero_init=False),
        registry.get("permutation", "random")(FEATURES, seed=1),
        coupling(FEATURES, hidden=16, depth=1, parity=1, zero_init=False),
        registry.get("permutation", "reverse")(FEATURES),
        registry.get("scaling", "diagonal")(FEATURES, target_std=1.0),
    ]


def _data(rows=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(rows, FEATURES, generator=gen) * torch.linspace(0.5, 2.0, FEATURES) + 1.0


@pytest.fixture
def flows(registry):
    layers = _flowkit_layers(registry)
    prior = registry.get("prior", "gaussian")(FEATURES)
    flowkit_flow = Flow(CompositeTransform(layers), prior)
    flowkit_flow.transform.initialize(_data(256, seed=5))  # fits the diagonal scaling
    nflows_flow = NflowsFlow(NflowsComposite(layers), prior)
    return flowkit_flow.eval(), nflows_flow.eval()


def test_flowkit_components_inside_nflows_flow_match_flowkit_flow(flows):
    flowkit_flow, nflows_flow = flows
    x = _data()
    log_prob = nflows_flow.log_prob(x)
    assert log_prob.shape == (64,) and torch.isfinite(log_prob).all()
    assert torch.allclose(log_prob, flowkit_flow.log_prob(x), atol=1e-6)
    # Not trivially the prior's density: the layers change it.
    assert not torch.allclose(log_prob, flowkit_flow.prior.log_prob(x))


def test_sampling_through_nflows_flow_matches_flowkit_decode(flows):
    flowkit_flow, nflows_flow = flows
    torch.manual_seed(3)
    samples = nflows_flow.sample(20)
    torch.manual_seed(3)
    expected = flowkit_flow.sample(20)
    assert samples.shape == (20, FEATURES)
    assert torch.allclose(samples, expected, atol=1e-6)
    # Sampling inverts the transform: encoding the samples gives the prior noise back.
    torch.manual_seed(3)
    noise = flowkit_flow.prior.sample(20)
    assert torch.allclose(flowkit_flow.encode(samples), noise, atol=1e-4)


def test_nflows_standard_normal_agrees_with_flowkit_gaussian_prior(registry, flows):
    flowkit_flow, _ = flows
    nflows_flow = NflowsFlow(flowkit_flow.transform, StandardNormal([FEATURES]))
    x = _data()
    assert torch.allclose(nflows_flow.log_prob(x), flowkit_flow.log_prob(x), atol=1e-5)


def test_training_through_nflows_flow_reaches_every_parameter(flows):
    _, nflows_flow = flows
    nflows_flow.train()
    loss = -nflows_flow.log_prob(_data()).mean()
    loss.backward()
    missing = [n for n, p in nflows_flow.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


def test_flowkit_coupling_takes_context_through_nflows_flow(registry):
    coupling = registry.get("coupling", "additive")(
        FEATURES, hidden=16, depth=1, zero_init=False, context_features=2
    )
    prior = registry.get("prior", "gaussian")(FEATURES)
    nflows_flow = NflowsFlow(NflowsComposite([coupling]), prior)
    flowkit_flow = Flow(coupling, prior)
    x, context = _data(8), torch.randn(8, 2)
    log_prob = nflows_flow.log_prob(x, context=context)
    assert torch.allclose(log_prob, flowkit_flow.log_prob(x, context=context))
    assert not torch.allclose(log_prob, nflows_flow.log_prob(x, context=context + 1.0))


# ---- (b) nflows transforms as flowkit plugins ---------------------------------------------------

_PLUGIN_REGISTRY = load_registry(plugins=[nflows_test_plugin])
_NFLOWS_CHECKS = [
    check
    for name in NFLOWS_NAMES
    for check in checks_for("transform", _PLUGIN_REGISTRY.get("transform", name))
]


def test_test_plugin_registers_nflows_transforms():
    for name in NFLOWS_NAMES:
        entry = _PLUGIN_REGISTRY.entry("transform", name)
        assert entry.component.__mro__[1].__module__.startswith("nflows.")
        assert entry.plugin == nflows_test_plugin.__name__
    # The built-ins are still there beside it.
    assert "additive" in _PLUGIN_REGISTRY.names("law")


@pytest.mark.parametrize("check", _NFLOWS_CHECKS, ids=[c.id for c in _NFLOWS_CHECKS])
def test_nflows_transform_passes_the_contract_kit(check):
    check()


def test_check_transform_accepts_an_nflows_coupling_directly():
    check_transform(lambda: nflows_test_plugin.NflowsAdditiveCoupling(4, hidden=8), features=4)


def test_nflows_transforms_inside_a_flowkit_flow(registry):
    layers = [
        _PLUGIN_REGISTRY.get("transform", "nflows_actnorm")(FEATURES),
        _PLUGIN_REGISTRY.get("transform", "nflows_additive")(FEATURES, parity=0),
        _PLUGIN_REGISTRY.get("transform", "nflows_reverse")(FEATURES),
        registry.get("coupling", "additive")(FEATURES, hidden=8, depth=1, zero_init=False),
    ]
    flow = Flow(CompositeTransform(layers), registry.get("prior", "logistic")(FEATURES))
    x = _data(512, seed=2)
    assert flow.transform.needs_initialization
    flow.transform.initialize(x)  # fits nflows' ActNorm through the adapter
    assert not flow.transform.needs_initialization
    normalised, _ = layers[0](x)
    assert torch.allclose(normalised.mean(0), torch.zeros(FEATURES), atol=1e-5)
    assert torch.allclose(normalised.std(0), torch.ones(FEATURES), atol=1e-5)
    flow.eval()
    log_prob = flow.log_prob(x)
    assert log_prob.shape == (512,) and torch.isfinite(log_prob).all()
    z = flow.encode(x)
    assert torch.allclose(flow.decode(z), x, atol=1e-5)
    samples = flow.sample(10, temperature=0.5)
    assert samples.shape == (10, FEATURES) and torch.isfinite(samples).all()


def test_nflows_coupling_with_context_inside_a_flowkit_flow(registry):
    coupling = nflows_test_plugin.NflowsAdditiveCoupling(FEATURES, hidden=8, context_features=3)
    flow = Flow(coupling, registry.get("prior", "gaussian")(FEATURES))
    x, context = _data(8), torch.randn(8, 3)
    log_prob = flow.log_prob(x, context=context)
    assert log_prob.shape == (8,)
    assert not torch.allclose(flow.encode(x, context=context), flow.encode(x, context=-context))
    torch.manual_seed(4)
    samples = flow.sample(8, context=context)
    torch.manual_seed(4)
    noise = flow.prior.sample(8)
    assert torch.allclose(flow.encode(samples, context=context), noise, atol=1e-5)
