"""The built-in permutations: reverse, random (seeded, in buffers) and the learned LU map."""

from __future__ import annotations

import warnings

import pytest
import torch

from flowkit import ConfigurationError, DataError


@pytest.fixture
def reverse(registry):
    return registry.get("permutation", "reverse")


@pytest.fixture
def random_permutation(registry):
    return registry.get("permutation", "random")


@pytest.fixture
def lu(registry):
    return registry.get("permutation", "lu")


def test_reverse_reverses_and_inverts(reverse):
    t = reverse(5, seed=3)
    x = torch.arange(10.0).reshape(2, 5)
    y, logabsdet = t(x)
    assert torch.equal(y, x.flip(1))
    assert torch.equal(logabsdet, torch.zeros(2))
    x_back, logabsdet_inverse = t.inverse(y)
    assert torch.equal(x_back, x)
    assert torch.equal(logabsdet_inverse, torch.zeros(2))
    assert list(t.parameters()) == []


def test_random_permutation_is_reproducible_by_seed(random_permutation):
    a, b, c = (random_permutation(20, seed=s) for s in (7, 7, 8))
    assert torch.equal(a.permutation, b.permutation)
    assert not torch.equal(a.permutation, c.permutation)
    assert torch.equal(a.permutation.sort().values, torch.arange(20))  # a true permutation
    x = torch.randn(4, 20)
    y, logabsdet = a(x)
    assert torch.equal(y, x[:, a.permutation])
    assert torch.equal(a.inverse(y)[0], x)
    assert torch.equal(logabsdet, torch.zeros(4))


def test_random_permutation_without_seed_follows_torch_manual_seed(random_permutation):
    torch.manual_seed(5)
    first = random_permutation(20).permutation
    torch.manual_seed(5)
    assert torch.equal(random_permutation(20).permutation, first)


def test_random_permutation_is_restored_by_state_dict(random_permutation):
    saved = random_permutation(20, seed=1)
    fresh = random_permutation(20, seed=2)
    assert not torch.equal(saved.permutation, fresh.permutation)
    fresh.load_state_dict(saved.state_dict())
    assert torch.equal(fresh.permutation, saved.permutation)
    assert torch.equal(fresh.inverse_permutation, saved.inverse_permutation)
    x = torch.randn(3, 20)
    assert torch.equal(fresh(x)[0], saved(x)[0])


def test_permutation_buffers_stay_integer_under_dtype_change(random_permutation):
    t = random_permutation(6, seed=0).to(torch.float64)
    assert t.permutation.dtype == torch.long
    x = torch.randn(2, 6, dtype=torch.float64)
    assert t(x)[0].dtype == torch.float64


@pytest.mark.parametrize("name", ["reverse", "random", "lu"])
def test_bad_features_and_inputs_raise_clear_errors(registry, name):
    cls = registry.get("permutation", name)
    with pytest.raises(ConfigurationError, match="features"):
        cls(0, seed=0)
    with pytest.raises(DataError, match=r"\[batch, 4\]"):
        cls(4, seed=0)(torch.randn(3, 5))


def test_lu_starts_orthogonal_and_is_seeded(lu):
    a, b = lu(8, seed=4), lu(8, seed=4)
    w = a.weight().double()
    assert torch.allclose(w @ w.T, torch.eye(8, dtype=torch.float64), atol=1e-5)
    assert torch.equal(a.weight(), b.weight())
    assert not torch.allclose(a.weight(), lu(8, seed=5).weight())
    assert abs(a.log_scale.sum().item()) < 1e-5  # |det| of an orthogonal matrix is 1


def _perturbed_lu(lu, features=7, seed=0):
    t = lu(features, seed=seed).double()
    with torch.no_grad():
        for p in t.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return t


def test_lu_logabsdet_equals_slogdet_of_assembled_weight(lu):
    t = _perturbed_lu(lu)
    x = torch.randn(5, 7, dtype=torch.float64)
    y, logabsdet = t(x)
    w = t.weight()
    sign, expected = torch.linalg.slogdet(w)
    assert torch.allclose(logabsdet, expected.expand(5), atol=1e-10)
    assert torch.allclose(y, x @ w.T + t.bias, atol=1e-10)
    # W = P L U with L unit lower triangular and U upper triangular.
    lower, upper = t.lower_matrix(), t.upper_matrix()
    assert torch.equal(lower.diagonal(), torch.ones(7, dtype=torch.float64))
    assert torch.equal(lower, lower.tril()) and torch.equal(upper, upper.triu())
    assert torch.allclose(upper.diagonal().abs().log(), t.log_scale)


def test_lu_inverse_is_exact_and_uses_no_deprecated_solver(lu):
    t = _perturbed_lu(lu, features=32, seed=1)
    x = torch.randn(16, 32, dtype=torch.float64)
    y, logabsdet = t(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch.triangular_solve would warn (deprecated)
        x_back, logabsdet_inverse = t.inverse(y)
    assert torch.allclose(x_back, x, atol=1e-9)
    assert torch.allclose(logabsdet_inverse, -logabsdet)


def test_lu_without_bias_and_training_keeps_structure(lu):
    t = lu(6, seed=2, bias=False)
    assert t.bias is None
    opt = torch.optim.Adam(t.parameters(), lr=0.05)
    x = torch.randn(64, 6) * torch.linspace(0.5, 3, 6)
    for _ in range(20):
        z, logabsdet = t(x)
        loss = (0.5 * z.square().sum(1) - logabsdet).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    # Entries of the raw parameters outside the triangles never leak into W.
    w = t.weight().double()
    assert torch.allclose(t(x)[1], torch.linalg.slogdet(w)[1].float().expand(64), atol=1e-4)
    assert torch.allclose(t.inverse(t(x)[0])[0], x, atol=1e-4)
