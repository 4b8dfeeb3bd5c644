"""Coupling laws and conditioners as parts: the kit checks them alone and in every layer type,
and catches a law or conditioner that breaks the contract."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import Tensor

from flowkit import (
    Conditioner,
    ConfigurationError,
    CouplingLaw,
    LawCoupling,
    apply_law,
    arrange_params,
    hookimpl,
    load_registry,
)
from flowkit.testing import ContractError
from flowkit.testing.law_checks import check_conditioner, check_law
from flowkit.testing.pytest_plugin import plugin_checks
from flowkit_builtins.couplings import AdditiveLaw, AffineLaw, MultiplicativeLaw


class CubeRootShift(CouplingLaw):
    """A third-party law the built-ins know nothing about: ``y = x + t + a * x^3 / 3``,
    strictly increasing for ``a = softplus(raw)``."""

    name = "cubic_test"
    params_per_value = 2
    bounded = False  # Newton's inverse is not held to extreme parameters

    def forward(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        a = torch.nn.functional.softplus(params[..., 0]) - torch.nn.functional.softplus(
            torch.zeros(())
        ).to(params)
        a = a.clamp(min=0)
        outputs = inputs + params[..., 1] + a * inputs**3 / 3
        return outputs, torch.log1p(a * inputs**2)

    def inverse(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        x = inputs - params[..., 1]
        for _ in range(60):  # Newton's method on a strictly increasing cubic
            y, ld = self.forward(x, params)
            x = x - (y - inputs) / ld.exp()
        return x, -self.forward(x, params)[1]


class _Plugin:
    @hookimpl
    def flowkit_register_coupling_laws(self):
        return [CubeRootShift]


def test_arrange_params_reads_both_layouts():
    raw = torch.arange(2 * 6, dtype=torch.float64).reshape(1, 6, 2)  # [B, n * P, 2] "image"
    law = AffineLaw()
    grouped = arrange_params(raw, law)  # channel k * 3 + i -> (i, k)
    assert grouped.shape == (1, 3, 2, 2)
    assert grouped[0, 1, :, 1].tolist() == raw[0, 4].tolist()  # value 1, parameter 1
    law.params_layout = "interleaved"  # channel i * 2 + k -> (i, k)
    assert arrange_params(raw, law)[0, 1, :, 1].tolist() == raw[0, 3].tolist()
    with pytest.raises(ConfigurationError, match="multiple"):
        arrange_params(raw[:, :5], AffineLaw())


def test_additive_layers_skip_the_log_det_sum_and_laws_share_one_formula():
    x, params = torch.randn(4, 3), torch.randn(4, 6)
    y, ld = apply_law(AffineLaw(scale_bound="exp"), x, params, inverse=False)
    torch.testing.assert_close(y, x * params[:, :3].exp() + params[:, 3:])
    torch.testing.assert_close(ld, params[:, :3].sum(1))
    y, ld = apply_law(AdditiveLaw(), x, params[:, :3], inverse=True)
    assert torch.equal(ld, torch.zeros(4)) and torch.equal(y, x - params[:, :3])


def test_a_third_party_law_is_checked_in_every_layer_type_without_writing_a_test():
    checks = plugin_checks(_Plugin())
    kinds = {c.kind for c in checks}
    assert kinds == {"law", "layer"}
    layers = {c.name for c in checks if c.kind == "layer"}
    assert layers == {
        "cubic_test+mlp@law_coupling",
        "cubic_test+glow@conv_coupling",
        "cubic_test+resnet@conv_coupling",
        "cubic_test+made@maf_layer",
    }
    for check in checks:
        check()


def test_a_third_party_law_drives_nice_glow_realnvp_and_maf():
    registry = load_registry(plugins=[_Plugin()])
    for pipeline, shape, options in [
        ("nice", (6,), {"hidden": 8, "depth": 1, "layers": 3}),
        ("glow", (1, 4, 4), {"hidden": 4, "steps": 1, "levels": 1}),
        ("realnvp", (1, 4, 4), {"hidden": 4, "steps": 1, "levels": 1}),
        ("maf", (6,), {"hidden": 8, "depth": 1, "layers": 2}),
    ]:
        chosen = registry.get("pipeline", pipeline)()
        flow = chosen.build_for(registry, shape, chosen.resolve(coupling="cubic_test", **options))
        assert any(isinstance(m, CubeRootShift) for m in flow.modules()), pipeline
        x = torch.rand(3, int(torch.tensor(shape).prod())) * 0.8 + 0.1
        assert torch.isfinite(flow.log_prob(x)).all()


def _broken(**overrides) -> type[CouplingLaw]:
    methods = {
        "name": "broken",
        "forward": lambda self, x, p: (x + p[..., 0], torch.zeros_like(x)),
        "inverse": lambda self, y, p: (y - p[..., 0], torch.zeros_like(y)),
        **overrides,
    }
    return type("Broken", (CouplingLaw,), methods)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"forward": lambda self, x, p: (2 * x + p[..., 0], torch.zeros_like(x))}, "inverse"),
        (
            {
                "forward": lambda self, x, p: (x * p[..., 0].exp(), torch.zeros_like(x)),
                "inverse": lambda self, y, p: (y * (-p[..., 0]).exp(), torch.zeros_like(y)),
                "identity_at_zero": False,
            },
            "log-derivative vs autograd",
        ),
        (
            {
                "forward": lambda self, x, p: (-x + p[..., 0], torch.zeros_like(x)),
                "inverse": lambda self, y, p: (p[..., 0] - y, torch.zeros_like(y)),
            },
            "increasing",
        ),
        (
            {
                "forward": lambda self, x, p: (x + p[..., 0] + 1, torch.zeros_like(x)),
                "inverse": lambda self, y, p: (y - p[..., 0] - 1, torch.zeros_like(y)),
            },
            "zero",
        ),
        (
            {
                "forward": lambda self, x, p: (
                    x + x.roll(1, -1) * 0 + x.flip(-1) * 1e-3,
                    torch.zeros_like(x),
                ),
            },
            "",
        ),
    ],
    ids=["not-invertible", "wrong-log-det", "decreasing", "not-identity-at-zero", "mixes-values"],
)
def test_the_kit_catches_a_broken_law(overrides, message):
    with pytest.raises(ContractError, match=message):
        check_law(_broken(**overrides))


def test_the_kit_catches_an_unbounded_scale_that_claims_to_be_bounded():
    law = MultiplicativeLaw(scale_bound="exp")
    law.bounded = True  # exp(s) overflows forward to inf and underflows to 0: inverse breaks
    unbounded = type("Claims", (MultiplicativeLaw,), {"name": "claims"})

    def make():
        made = unbounded(scale_bound="exp")
        made.bounded = True
        return made

    with pytest.raises(ContractError, match="inverse"):
        check_law(make)


class Leaky(Conditioner):
    """An autoregressive conditioner whose output 0 sees value 0 (not autoregressive)."""

    name = "leaky"
    layer = "autoregressive"

    def __init__(
        self, features, count, *, params_layout="grouped", context_features=0, zero_init=True
    ):
        super().__init__()
        self.linear = torch.nn.Linear(features + context_features, features * count)
        self.context_features = context_features
        if zero_init:
            torch.nn.init.zeros_(self.linear.weight)
            torch.nn.init.zeros_(self.linear.bias)

    def forward(self, inputs, context=None):
        if self.context_features:
            if context is None or context.shape[1] != self.context_features:
                raise ConfigurationError("wrong context")
            inputs = torch.cat([inputs, context], 1)
        return self.linear(inputs)


def test_the_kit_catches_a_conditioner_that_is_not_autoregressive():
    with pytest.raises(ContractError, match="not autoregressive"):
        check_conditioner(Leaky, {})


def test_the_kit_catches_a_conditioner_that_ignores_its_context():
    from flowkit_builtins.conditioners import MLPConditioner

    class Deaf(MLPConditioner):
        name = "deaf"

        def forward(self, inputs, context=None):
            return super().forward(inputs, None if context is None else context * 0)

    with pytest.raises(ContractError, match="ignores the context"):
        check_conditioner(Deaf, {"hidden": 4, "depth": 1})


def test_conditioners_take_a_context_at_every_layer_type():
    registry = load_registry()
    context = torch.randn(3, 2)
    flat = LawCoupling(
        6,
        law=AffineLaw(),
        conditioner=registry.get("conditioner", "mlp"),
        hidden=8,
        depth=1,
        context_features=2,
        zero_init=False,
    )
    x = torch.randn(3, 6)
    assert not torch.equal(flat(x, context)[0], flat(x, context + 1)[0])
    with pytest.raises(ConfigurationError, match="context"):
        flat(x)
    from flowkit_builtins.images.conv_coupling import GlowCoupling
    from flowkit_builtins.maf.layer import MaskedAutoregressiveLayer

    image = GlowCoupling((2, 4, 4), hidden=4, context_features=2, zero_init=False)
    images = torch.randn(3, 2, 4, 4)
    assert not torch.equal(image(images, context)[0], image(images, context + 1)[0])
    maf = MaskedAutoregressiveLayer(6, hidden=8, depth=1, context_features=2, zero_init=False)
    z, ld = maf(x, context)
    back, ld_back = maf.inverse(z, context)
    torch.testing.assert_close(back, x, atol=1e-5, rtol=0)
    torch.testing.assert_close(ld_back, -ld, atol=1e-5, rtol=0)


def test_a_conditioner_of_another_layer_type_is_one_clear_error():
    registry = load_registry()
    with pytest.raises(ConfigurationError, match="needs a conditioner for flat layers"):
        LawCoupling(6, law=AffineLaw(), conditioner=registry.get("conditioner", "made"))
    nice = registry.get("pipeline", "nice")()
    with pytest.raises(ConfigurationError, match="'made' is for autoregressive layers"):
        nice.build(registry, 6, nice.resolve(conditioner="made", hidden=8, depth=1))


def test_every_registered_law_is_listed_with_its_provider():
    registry = load_registry()
    assert registry.names("law")[:3] == ["additive", "affine", "multiplicative"]
    assert registry.entry("law", "rqspline").distribution == "flowkit-spline"
    assert set(registry.names("conditioner")) >= {"mlp", "glow", "resnet", "made"}
    entry = SimpleNamespace(**registry.entry("conditioner", "made").as_dict())
    assert entry.plugin == "flowkit.maf"


def test_a_run_file_records_which_plugin_provided_the_law(tmp_path):
    from click.testing import CliRunner

    from flowkit.cli import cli
    from flowkit.io.runfile import read_run_record

    out = tmp_path / "run.h5"
    args = ["--dataset", "moons", "--coupling", "rqspline", "--coupling-option", "bins=4"]
    tiny = ["--hidden", "8", "--depth", "1", "--epochs", "1", "--threads", "1"]
    result = CliRunner().invoke(cli, ["run", "nice", *args, *tiny, "--out", str(out)])
    assert result.exit_code == 0, result.output
    recorded = read_run_record(out).environment["components"]["coupling"]
    assert recorded["name"] == "rqspline" and recorded["plugin"] == "spline"
    assert recorded["distribution"] == "flowkit-spline"
    missing = CliRunner().invoke(cli, ["-p", "no:spline", "eval", str(out)])
    assert missing.exit_code == 2
    assert "the run used it from plugin 'spline'" in missing.stderr
