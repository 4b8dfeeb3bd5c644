"""The built-in whitenings: exact ZCA and PCA, and NICE's learned whitening (Appendix B)."""

from __future__ import annotations

import math

import pytest
import torch

from flowkit import CompositeTransform, ConfigurationError, DataError, Flow


def _correlated(rows=2000, features=4, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    gaussian = torch.randn(features, features, generator=gen, dtype=torch.float64)
    rotation, _ = torch.linalg.qr(gaussian)
    stds = torch.linspace(0.5, 3.0, features, dtype=torch.float64)  # eps barely acts
    mixing = stds[:, None] * rotation
    shift = 5 * torch.randn(features, generator=gen, dtype=torch.float64)
    x = torch.randn(rows, features, generator=gen, dtype=torch.float64) @ mixing + shift
    return x.to(dtype)


def _cov(z):
    centred = z - z.mean(dim=0)
    return centred.T @ centred / (z.shape[0] - 1)


def _eye(n, dtype=torch.float64):
    return torch.eye(n, dtype=dtype)


@pytest.mark.parametrize("name", ["zca", "pca"])
def test_exact_whitening_gives_identity_covariance_and_its_logdet(registry, name):
    x = _correlated()
    t = registry.get("whitening", name)(4).double()
    t.initialize(x)
    z, logabsdet = t(x)
    assert torch.allclose(z.mean(dim=0), torch.zeros(4, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(_cov(z), _eye(4), atol=1e-3)  # eps shrinks the smallest variance
    # log|det W| = -1/2 log det(covariance) (eps is tiny), and it is what slogdet of W says.
    assert math.isclose(logabsdet[0].item(), -0.5 * torch.logdet(_cov(x)).item(), abs_tol=1e-3)
    slogdet = torch.linalg.slogdet(t.weight)[1].item()
    assert math.isclose(logabsdet[0].item(), slogdet, abs_tol=1e-9)
    x_back, logabsdet_inverse = t.inverse(z)
    assert torch.allclose(x_back, x, atol=1e-9)
    assert torch.allclose(logabsdet_inverse, -logabsdet)


def test_zca_weight_is_symmetric_positive_definite(registry):
    t = registry.get("whitening", "zca")(4).double()
    t.initialize(_correlated())
    assert torch.allclose(t.weight, t.weight.T, atol=1e-12)
    assert torch.linalg.eigvalsh(t.weight).min() > 0
    assert torch.allclose(t.weight @ t.inverse_weight, _eye(4), atol=1e-10)


def test_pca_is_a_rotation_of_zca_ordered_by_variance(registry):
    x = _correlated()
    zca, pca = (registry.get("whitening", n)(4).double() for n in ("zca", "pca"))
    zca.initialize(x)
    pca.initialize(x)
    z_zca, z_pca = zca(x)[0], pca(x)[0]
    assert torch.allclose(z_zca.norm(dim=1), z_pca.norm(dim=1), atol=1e-8)
    assert torch.allclose(zca(x)[1], pca(x)[1])
    assert torch.all(pca.eigenvalues[:-1] >= pca.eigenvalues[1:])
    # Refitting gives the same map (eigenvector signs are fixed).
    again = registry.get("whitening", "pca")(4).double()
    again.initialize(x.flip(0))
    assert torch.allclose(again.weight, pca.weight, atol=1e-8)


def test_whitening_fitted_in_float64_works_in_float32(registry):
    x = _correlated(dtype=torch.float32) * 100.0
    t = registry.get("whitening", "zca")(4)
    t.initialize(x)
    assert t.weight.dtype == torch.float32
    z, _ = t(x)
    assert torch.allclose(_cov(z.double()), _eye(4), atol=1e-3)


def test_absolute_eps_enters_the_logdet(registry):
    x = _correlated()
    t = registry.get("whitening", "zca")(4, eps=0.5, relative_eps=False).double()
    t.initialize(x)
    eigenvalues = torch.linalg.eigvalsh(_cov(x))
    expected = -0.5 * torch.log(eigenvalues + 0.5).sum()
    assert math.isclose(t(x)[1][0].item(), expected.item(), rel_tol=1e-9)
    relative = registry.get("whitening", "zca")(4, eps=0.1).double()
    relative.initialize(x)
    expected = -0.5 * torch.log(eigenvalues + 0.1 * eigenvalues.mean()).sum()
    assert math.isclose(relative(x)[1][0].item(), expected.item(), rel_tol=1e-9)


@pytest.mark.parametrize("name", ["zca", "pca"])
def test_exact_whitening_used_before_fitting_raises(registry, name):
    t = registry.get("whitening", name)(3)
    with pytest.raises(ConfigurationError, match="initialize"):
        t(torch.randn(2, 3))
    with pytest.raises(ConfigurationError, match="initialize"):
        t.inverse(torch.randn(2, 3))


@pytest.mark.parametrize("name", ["zca", "pca", "learned"])
def test_whitening_rejects_unusable_data_and_options(registry, name):
    cls = registry.get("whitening", name)
    t = cls(4)
    with pytest.raises(DataError, match="more rows than features"):
        t.initialize(torch.randn(4, 4))
    x = torch.randn(50, 4)
    x[3, 2] = float("inf")
    with pytest.raises(DataError, match="NaN or inf"):
        t.initialize(x)
    with pytest.raises(DataError, match=r"\[rows, 4\]"):
        t.initialize(torch.randn(50, 3))
    assert t.needs_initialization
    with pytest.raises(ConfigurationError, match="eps"):
        cls(4, eps=-1.0)


def test_zero_eps_on_a_constant_dimension_is_a_clear_error(registry):
    x = torch.randn(50, 3, dtype=torch.float64)
    x[:, 1] = 2.0
    with pytest.raises(DataError, match="singular"):
        registry.get("whitening", "zca")(3, eps=0.0).double().initialize(x)
    with pytest.raises(DataError, match="positive definite"):
        registry.get("whitening", "learned")(3, eps=0.0).double().initialize(x)
    # With the default eps the constant dimension is just mapped to a constant.
    t = registry.get("whitening", "zca")(3).double()
    t.initialize(x)
    assert torch.isfinite(t(x)[0]).all()


def test_composite_initialize_fits_the_whitening_first(registry):
    x = _correlated()
    zca = registry.get("whitening", "zca")(4).double()
    actnorm = registry.get("scaling", "actnorm")(4, target_std=3.0).double()
    chain = CompositeTransform([zca, actnorm])
    assert chain.needs_initialization
    chain.initialize(x)
    assert not chain.needs_initialization
    z, _ = chain(x)
    assert torch.allclose(_cov(z), 9.0 * _eye(4), atol=1e-3)


def test_learned_whitening_data_init_is_exact_cholesky_whitening(registry):
    x = _correlated()
    t = registry.get("whitening", "learned")(4).double()
    t.initialize(x)
    z, logabsdet = t(x)
    lower = t.matrix()
    assert torch.equal(lower, lower.tril())
    assert torch.all(lower.diagonal() > 0)
    assert torch.allclose(_cov(z), _eye(4), atol=1e-3)  # eps shrinks the smallest variance
    assert torch.allclose(z.mean(dim=0), torch.zeros(4, dtype=torch.float64), atol=1e-8)
    assert math.isclose(logabsdet[0].item(), -0.5 * torch.logdet(_cov(x)).item(), abs_tol=1e-3)
    assert torch.allclose(t.inverse(z)[0], x, atol=1e-9)
    assert {n for n, _ in t.named_parameters()} == {"lower", "log_diagonal", "bias"}


def test_learned_whitening_identity_init(registry):
    t = registry.get("whitening", "learned")(3, init="identity")
    assert not t.needs_initialization
    x = torch.randn(5, 3)
    y, logabsdet = t(x)
    assert torch.equal(y, x) and torch.equal(logabsdet, torch.zeros(5))
    with pytest.raises(ConfigurationError, match="init"):
        registry.get("whitening", "learned")(3, init="cholesky")


def _gaussian_mle_log_likelihood(x):
    """Mean log-likelihood of the maximum-likelihood Gaussian fitted to ``x``."""
    d = x.shape[1]
    centred = x - x.mean(dim=0)
    covariance = centred.T @ centred / x.shape[0]
    return -0.5 * (d * math.log(2 * math.pi) + torch.logdet(covariance).item() + d)


def test_learned_whitening_trains_by_max_likelihood_to_a_gaussian(registry):
    """Appendix B: z = Lx + b with a Gaussian prior is a NICE model of a Gaussian."""
    x = _correlated(rows=1000, features=2, seed=3)
    whitening = registry.get("whitening", "learned")(2, init="identity").double()
    flow = Flow(whitening, registry.get("prior", "gaussian")(2).double())
    optimiser = torch.optim.Adam(flow.parameters(), lr=0.05)
    log_likelihoods = []
    for _ in range(400):
        loss = -flow.log_prob(x).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        log_likelihoods.append(-loss.item())
    assert log_likelihoods[10] > log_likelihoods[0]
    assert log_likelihoods[-1] > log_likelihoods[0] + 1.0
    best = _gaussian_mle_log_likelihood(x)
    assert log_likelihoods[-1] == pytest.approx(best, abs=0.01)
    # The data-initialised layer starts at that optimum already.
    fitted = registry.get("whitening", "learned")(2).double()
    fitted.initialize(x)
    start = Flow(fitted, registry.get("prior", "gaussian")(2).double()).log_prob(x).mean()
    assert start.item() == pytest.approx(best, abs=1e-3)
