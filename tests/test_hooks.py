"""One test per hook of flowkit.hookspecs: a tiny plugin implements it, and the effect is checked.

Test names are ``test_hook_<hook name>``; tests/test_plugin_docs.py checks that every hook has
one (and is documented in docs/plugins.md).
"""

from __future__ import annotations

import math
import sys
import types

import click
import numpy as np
import pytest
import scipy.stats
import torch
from click.testing import CliRunner

from flowkit import (
    CompositeTransform,
    Conditioner,
    CouplingLaw,
    CouplingTransform,
    Dataset,
    Flow,
    Pipeline,
    Prior,
    Transform,
    hookimpl,
    load_registry,
    with_context,
)
from flowkit.cli import cli
from flowkit.testing import check_component

# ---- tiny components, one per kind -------------------------------------------------------------


class HalfShiftCoupling(CouplingTransform):
    name = "hk_half_shift"
    contract_examples = [{"hidden": 8, "depth": 1}]

    def _transform(self, x2, params):
        return x2 + 0.5 * params, x2.new_zeros(x2.shape[0])

    def _inverse_transform(self, y2, params):
        return y2 - 0.5 * params, y2.new_zeros(y2.shape[0])


class ClampedShiftLaw(CouplingLaw):
    """``y = x + tanh(t)``: an additive law whose shift stays in (-1, 1)."""

    name = "hk_clamped_shift"

    def forward(self, inputs, params):
        return inputs + torch.tanh(params[..., 0]), torch.zeros_like(inputs)

    def inverse(self, inputs, params):
        return inputs - torch.tanh(params[..., 0]), torch.zeros_like(inputs)


class WideMLPConditioner(Conditioner):
    """A flat conditioner: one hidden layer of ``4 * hidden`` tanh units."""

    name = "hk_wide"
    layer = "flat"
    contract_examples = [{"hidden": 2}]

    def __init__(self, in_features, out_features, *, hidden=4, context_features=0, zero_init=True):
        super().__init__()
        self.context_features = context_features
        self.body = torch.nn.Sequential(
            torch.nn.Linear(in_features + context_features, 4 * hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(4 * hidden, out_features),
        )
        if zero_init:
            torch.nn.init.zeros_(self.body[-1].weight)
            torch.nn.init.zeros_(self.body[-1].bias)

    def forward(self, inputs, context=None):
        return self.body(with_context(inputs, context, self.context_features))


class RollPermutation(Transform):
    """Rolls the features by ``seed + 1`` places; the order lives in buffers."""

    name = "hk_roll"

    def __init__(self, features, seed=0):
        super().__init__(features)
        self.seed = seed
        order = torch.roll(torch.arange(self.features), seed + 1)
        self.register_buffer("order", order)
        self.register_buffer("inverse_order", torch.argsort(order))

    def forward(self, inputs, context=None):
        return inputs[:, self.order], inputs.new_zeros(inputs.shape[0])

    def inverse(self, inputs, context=None):
        return inputs[:, self.inverse_order], inputs.new_zeros(inputs.shape[0])


class FixedScaling(Transform):
    """``h = exp(s) x`` with ``s`` learned, remembering the ``target_std`` it was built with."""

    name = "hk_scale"

    def __init__(self, features, target_std=1.0):
        super().__init__(features)
        self.target_std = target_std
        self.log_scale = torch.nn.Parameter(torch.zeros(self.features))

    def forward(self, inputs, context=None):
        return inputs * self.log_scale.exp(), self.log_scale.sum().expand(inputs.shape[0])

    def inverse(self, inputs, context=None):
        return inputs * (-self.log_scale).exp(), -self.log_scale.sum().expand(inputs.shape[0])


class CenteringWhitening(Transform):
    """Subtracts the training mean, fitted by ``initialize`` (a data-dependent transform)."""

    name = "hk_center"

    def __init__(self, features):
        super().__init__(features)
        self.enable_data_initialization()
        self.register_buffer("mean", torch.zeros(self.features))

    def _initialize(self, inputs):
        self.mean.copy_(inputs.mean(0))

    def forward(self, inputs, context=None):
        return inputs - self.mean, inputs.new_zeros(inputs.shape[0])

    def inverse(self, inputs, context=None):
        return inputs + self.mean, inputs.new_zeros(inputs.shape[0])


class Negation(Transform):
    name = "hk_negate"

    def forward(self, inputs, context=None):
        return -inputs, inputs.new_zeros(inputs.shape[0])

    inverse = forward


class LaplacePrior(Prior):
    name = "hk_laplace"
    stddev = math.sqrt(2.0)

    def _log_prob(self, inputs, context):
        return -(inputs.abs() + math.log(2.0)).sum(dim=1)

    def _sample_standard(self, num_samples):
        anchor = self._anchor
        u = torch.rand(num_samples, self.features, device=anchor.device, dtype=anchor.dtype)
        u = u.clamp(torch.finfo(anchor.dtype).eps, 1 - torch.finfo(anchor.dtype).eps) - 0.5
        return -torch.sign(u) * torch.log1p(-2 * u.abs())

    def scipy_reference(self):
        return scipy.stats.laplace()


class LineDataset(Dataset):
    name = "hk_line"

    def _load(self):
        self.levels, self.variant = None, "toy"
        t = np.random.default_rng(self.seed).normal(size=(200, 1))
        return np.concatenate([t, 2 * t + 0.1], axis=1).astype(np.float32)


class SingleCouplingPipeline(Pipeline):
    name = "hk_single"
    defaults = {"coupling": "additive", "hidden": 8, "prior": "gaussian"}

    def build(self, registry, features, config):
        coupling = registry.get("coupling", config["coupling"])
        transform = CompositeTransform([coupling(features, hidden=config["hidden"], depth=1)])
        return Flow(transform, registry.get("prior", config["prior"])(features))


class RegistrationPlugin:
    """A plugin object (pluggy accepts any object with marked methods), one hook per kind."""

    @hookimpl
    def flowkit_register_couplings(self):
        return [HalfShiftCoupling]

    @hookimpl
    def flowkit_register_coupling_laws(self):
        return [ClampedShiftLaw]

    @hookimpl
    def flowkit_register_conditioners(self):
        return [WideMLPConditioner]

    @hookimpl
    def flowkit_register_permutations(self):
        return [RollPermutation]

    @hookimpl
    def flowkit_register_scalings(self):
        return [FixedScaling]

    @hookimpl
    def flowkit_register_whitenings(self):
        return [CenteringWhitening]

    @hookimpl
    def flowkit_register_transforms(self):
        return [Negation]

    @hookimpl
    def flowkit_register_priors(self):
        return [LaplacePrior]

    @hookimpl
    def flowkit_register_datasets(self):
        return [LineDataset]

    @hookimpl
    def flowkit_register_pipelines(self):
        return [SingleCouplingPipeline]


@pytest.fixture(scope="module")
def registry():
    return load_registry(plugins=[RegistrationPlugin()])


def nice(registry, features=4, **options):
    pipeline = registry.get("pipeline", "nice")()
    config = pipeline.resolve(**{"layers": 3, "hidden": 8, "depth": 1, **options})
    return pipeline.build(registry, features, config)


def assert_registered(registry, kind, component):
    entry = registry.entry(kind, component.name)
    assert entry.component is component and entry.plugin == "RegistrationPlugin"
    check_component(kind, component, registry)  # and it passes the contract kit


# ---- registration hooks ------------------------------------------------------------------------


def test_hook_flowkit_register_couplings(registry):
    assert_registered(registry, "coupling", HalfShiftCoupling)
    flow = nice(registry, coupling="hk_half_shift")
    layers = [t for t in flow.transform if isinstance(t, HalfShiftCoupling)]
    assert [t.parity for t in layers] == [0, 1, 0]


def test_hook_flowkit_register_coupling_laws(registry):
    assert_registered(registry, "law", ClampedShiftLaw)  # alone and in every layer type
    flow = nice(registry, coupling="hk_clamped_shift")
    layers = [t for t in flow.transform if isinstance(getattr(t, "law", None), ClampedShiftLaw)]
    assert [t.parity for t in layers] == [0, 1, 0]
    assert len({id(t.law) for t in layers}) == 3  # each layer its own law


def test_hook_flowkit_register_conditioners(registry):
    assert_registered(registry, "conditioner", WideMLPConditioner)
    flow = nice(registry, conditioner="hk_wide", hidden=3)
    nets = [t.net for t in flow.transform if isinstance(getattr(t, "net", None), Conditioner)]
    assert len(nets) == 3 and all(isinstance(n, WideMLPConditioner) for n in nets)
    assert nets[0].body[0].out_features == 12  # the pipeline's --hidden reached it


def test_hook_flowkit_register_permutations(registry):
    assert_registered(registry, "permutation", RollPermutation)
    flow = nice(registry, permutation="hk_roll")
    assert [t.seed for t in flow.transform if isinstance(t, RollPermutation)] == [0, 1, 2]


def test_hook_flowkit_register_scalings(registry):
    assert_registered(registry, "scaling", FixedScaling)
    flow = nice(registry, scaling="hk_scale", prior="logistic")
    last = flow.transform[len(flow.transform) - 1]
    assert isinstance(last, FixedScaling) and last.target_std == pytest.approx(math.pi / 3**0.5)


def test_hook_flowkit_register_whitenings(registry):
    assert_registered(registry, "whitening", CenteringWhitening)
    flow = nice(registry, whitening="hk_center")
    first = flow.transform[0]
    assert isinstance(first, CenteringWhitening) and first.needs_initialization
    data = torch.randn(64, 4) + 3.0
    flow.transform.initialize(data)
    assert torch.allclose(first.mean, data.mean(0)) and not first.needs_initialization


def test_hook_flowkit_register_transforms(registry):
    assert_registered(registry, "transform", Negation)
    assert "hk_negate" in registry.names("transform")


def test_hook_flowkit_register_priors(registry):
    assert_registered(registry, "prior", LaplacePrior)
    flow = nice(registry, prior="hk_laplace")
    assert isinstance(flow.prior, LaplacePrior)
    assert flow.log_prob(torch.randn(5, 4)).shape == (5,)


def test_hook_flowkit_register_datasets(registry):
    assert_registered(registry, "dataset", LineDataset)
    splits = registry.get("dataset", "hk_line")(seed=1).load()
    assert [len(part) for part in splits] == [140, 20, 40]


def test_hook_flowkit_register_pipelines(registry):
    assert_registered(registry, "pipeline", SingleCouplingPipeline)
    pipeline = registry.get("pipeline", "hk_single")()
    flow = pipeline.build(registry, 4, pipeline.resolve(coupling="hk_half_shift"))
    assert isinstance(flow.transform[0], HalfShiftCoupling)
    assert flow.log_prob(torch.randn(3, 4)).shape == (3,)


# ---- command line and run events --------------------------------------------------------------


@pytest.fixture
def plugin_module(monkeypatch):
    """Make an importable plugin module from hook functions, for ``flowkit -p NAME``."""

    def make(name, **hooks):
        module = types.ModuleType(name)
        for hook_name, function in hooks.items():
            setattr(module, hook_name, hookimpl(function))
        monkeypatch.setitem(sys.modules, name, module)
        return name

    return make


def test_hook_flowkit_register_commands(plugin_module, monkeypatch):
    def flowkit_register_commands(cli):
        @cli.command("hk-hello")
        @click.argument("who")
        def hello(who):
            """Say hello."""
            click.echo(f"hello {who}")

    name = plugin_module("hk_commands_plugin", flowkit_register_commands=flowkit_register_commands)
    result = CliRunner().invoke(cli, ["-p", name, "hk-hello", "plugin"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello plugin\n"
    # the command is listed with the others (an installed plugin's would be, by entry point)
    monkeypatch.setenv("FLOWKIT_PLUGINS", name)
    listed = CliRunner().invoke(cli, ["--help"])
    assert listed.exit_code == 0 and "hk-hello" in listed.output and "Say hello." in listed.output


def test_hook_flowkit_run_finished(plugin_module, tmp_path):
    calls = []

    def flowkit_run_finished(run_file, status, results):
        calls.append((run_file, status, dict(results)))

    name = plugin_module("hk_tracker_plugin", flowkit_run_finished=flowkit_run_finished)
    out = tmp_path / "run.h5"
    result = CliRunner().invoke(
        cli,
        ["-p", name, "run", "nice", "--dataset", "moons",
         "--layers", "3", "--hidden", "8", "--depth", "1", "--epochs", "1", "--num-samples", "0",
         "--out", str(out), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(calls) == 1
    run_file, status, results = calls[0]
    assert run_file == str(out) and out.exists() and status == "completed"
    test_metrics = {k: v for k, v in results.items() if k.startswith("test_")}
    assert test_metrics and all(np.isfinite(v) for v in test_metrics.values())


def test_hook_flowkit_register_trackers(plugin_module):
    from flowkit import Tracker
    from flowkit.run.tracking import TrackingCallback, tracker_callbacks

    class NoteTracker(Tracker):
        name = "hk_note"

    name = plugin_module("hk_trackers_plugin", flowkit_register_trackers=lambda: [NoteTracker])
    registry = load_registry(plugins=[name])
    assert registry.get("tracker", "hk_note") is NoteTracker
    (callback,) = tracker_callbacks(registry, ["hk_note=somewhere"])
    assert isinstance(callback, TrackingCallback)
    (tracker,) = callback.pending
    assert isinstance(tracker, NoteTracker) and tracker.destination == "somewhere"
    # flowkit run --track NAME runs it end to end: tests/test_trackers.py
