"""The built-in scalings: NICE's diagonal layer (section 3.3) and ActNorm."""

from __future__ import annotations

import math

import pytest
import torch

from flowkit import ConfigurationError, DataError

LOGISTIC_STD = math.pi / math.sqrt(3.0)


@pytest.fixture
def diagonal(registry):
    return registry.get("scaling", "diagonal")


@pytest.fixture
def actnorm(registry):
    return registry.get("scaling", "actnorm")


def _data(rows=500, features=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    scales = torch.tensor([0.01, 0.5, 1.0, 3.0, 20.0])[:features]
    return torch.randn(rows, features, generator=gen, dtype=torch.float64) * scales + 4.0


def test_diagonal_data_init_gives_target_std(diagonal):
    x = _data()
    t = diagonal(5, target_std=LOGISTIC_STD).double()
    assert t.needs_initialization
    t.initialize(x)
    assert not t.needs_initialization
    y, logabsdet = t(x)
    assert torch.allclose(y.std(dim=0), torch.full((5,), LOGISTIC_STD, dtype=torch.float64))
    assert torch.allclose(y, x * torch.exp(t.log_scale))
    assert torch.allclose(logabsdet, t.log_scale.sum().expand(500))
    expected = math.log(LOGISTIC_STD) - torch.log(x.std(dim=0))
    assert torch.allclose(t.log_scale, expected)


def test_diagonal_spectrum_is_sorted_scales(diagonal):
    t = diagonal(5).double()
    t.initialize(_data())
    spectrum = t.spectrum()
    assert torch.equal(spectrum, torch.exp(t.log_scale).sort(descending=True).values)
    assert torch.all(spectrum[:-1] >= spectrum[1:])
    assert not spectrum.requires_grad
    # The smallest-variance input dimension (std 0.01) gets the largest scale.
    assert torch.isclose(spectrum[0], torch.exp(t.log_scale[0]))


def test_diagonal_constant_and_dequantised_constant_dimensions_stay_finite(diagonal):
    x = _data(features=3)
    x[:, 0] = 0.25  # an exactly constant continuous input
    gen = torch.Generator().manual_seed(1)
    x[:, 1] = torch.rand(500, generator=gen, dtype=torch.float64) / 256  # a dequantised 0 pixel
    t = diagonal(3, target_std=LOGISTIC_STD).double()
    t.initialize(x)
    assert torch.isfinite(t.log_scale).all()
    assert torch.isfinite(t(x)[0]).all()
    # std of U(0, 1/256) is 1/(256 sqrt 12): scale is about target * 256 * sqrt 12.
    ratio = torch.exp(t.log_scale[1]) / (LOGISTIC_STD * 256 * math.sqrt(12.0))
    assert 0.9 < ratio.item() < 1.1


def test_diagonal_zero_init_is_the_identity_and_needs_no_data(diagonal):
    t = diagonal(4, init="zero", target_std=3.0)
    assert not t.needs_initialization
    x = torch.randn(6, 4)
    y, logabsdet = t(x)
    assert torch.equal(y, x) and torch.equal(logabsdet, torch.zeros(6))


def test_diagonal_first_training_batch_initialises_but_eval_does_not(diagonal):
    x = _data()
    t = diagonal(5).double().eval()
    t(x)
    assert t.needs_initialization and torch.equal(t.log_scale, torch.zeros(5, dtype=torch.float64))
    t.train()
    y, _ = t(x)
    assert not t.needs_initialization
    assert torch.allclose(y.std(dim=0), torch.ones(5, dtype=torch.float64))


@pytest.mark.parametrize("name", ["diagonal", "actnorm"])
def test_scalings_reject_bad_options_and_data(registry, name):
    cls = registry.get("scaling", name)
    with pytest.raises(ConfigurationError, match="target_std"):
        cls(3, target_std=0.0)
    with pytest.raises(ConfigurationError, match="min_std"):
        cls(3, min_std=0.0)
    t = cls(3)
    with pytest.raises(DataError, match="NaN"):
        t.initialize(torch.tensor([[1.0, 2.0, float("nan")], [0.0, 1.0, 2.0]]))
    with pytest.raises(DataError, match="at least 2 rows"):
        t.initialize(torch.zeros(1, 3))
    assert t.needs_initialization  # a failed fit leaves the layer unfitted


def test_diagonal_rejects_unknown_init(diagonal):
    with pytest.raises(ConfigurationError, match="init"):
        diagonal(3, init="ones")


def test_actnorm_data_init_gives_zero_mean_and_target_std(actnorm):
    x = _data()
    t = actnorm(5, target_std=2.0).double()
    t.initialize(x)
    y, logabsdet = t(x)
    assert torch.allclose(y.mean(dim=0), torch.zeros(5, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(y.std(dim=0), torch.full((5,), 2.0, dtype=torch.float64))
    assert torch.allclose(logabsdet, t.log_scale.sum().expand(500))
    assert torch.allclose(t.inverse(y)[0], x)


def test_actnorm_init_survives_state_dict_and_is_not_redone(actnorm):
    fitted = actnorm(5).double()
    fitted.initialize(_data(seed=0))
    state = fitted.state_dict()
    assert bool(state["initialized"])
    loaded = actnorm(5).double()
    loaded.load_state_dict(state)
    assert not loaded.needs_initialization
    # Training on other data must not re-fit the loaded layer.
    loaded.train()
    other = _data(seed=3) * 7.0 - 2.0
    y_loaded, _ = loaded(other)
    y_fitted, _ = fitted.eval()(other)
    assert torch.equal(y_loaded, y_fitted)
    assert torch.equal(loaded.shift, fitted.shift)
    assert torch.equal(loaded.log_scale, fitted.log_scale)


def test_actnorm_first_training_batch_initialises_once(actnorm):
    t = actnorm(5).double().train()
    first = _data(seed=0)
    t(first)
    shift = t.shift.detach().clone()
    assert torch.allclose(shift, -first.mean(dim=0))
    t(_data(seed=1) + 10.0)  # a second batch leaves the fit alone
    assert torch.equal(t.shift, shift)


def test_nice_pipeline_scaling_starts_at_the_prior_std(registry):
    pipeline = registry.get("pipeline", "nice")()
    config = pipeline.resolve(layers=3, hidden=8, depth=1)
    flow = pipeline.build(registry, 6, config)
    x = torch.rand(400, 6) * torch.linspace(0.1, 1.0, 6)
    flow.transform.initialize(x)
    noise = flow.transform(x)[0]  # zero-initialised couplings: only the scaling acts
    assert torch.allclose(noise.std(dim=0), torch.full((6,), LOGISTIC_STD), rtol=1e-4)
