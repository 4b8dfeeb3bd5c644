"""The spline itself: nflows agreement, identity at zero, monotonicity, tails, hard inverses."""

from __future__ import annotations

import pytest
import torch

from flowkit import ConfigurationError
from flowkit_spline import RationalQuadraticSplineCoupling, rational_quadratic_spline
from flowkit_spline.spline import DEFAULT_MIN_DERIVATIVE, derivative_offset

BOUND = 3.0


def random_params(shape, bins, scale=1.0, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    draw = lambda *s: scale * torch.randn(*shape, *s, generator=gen, dtype=dtype)  # noqa: E731
    return draw(bins), draw(bins), draw(bins - 1)


def test_agrees_with_nflows_in_both_directions():
    nflows_splines = pytest.importorskip("nflows.transforms.splines.rational_quadratic")
    gen = torch.Generator().manual_seed(1)
    x = 2.0 * BOUND * torch.randn(500, 3, generator=gen, dtype=torch.float64) / 2
    widths, heights, derivatives = random_params(x.shape, 6, seed=2)
    # nflows uses min_derivative + softplus(raw); ours shifts raw so that 0 means slope 1.
    shifted = derivatives + derivative_offset(DEFAULT_MIN_DERIVATIVE)
    for inverse in (False, True):
        ours = rational_quadratic_spline(
            x, widths, heights, derivatives, bound=BOUND, inverse=inverse
        )
        theirs = nflows_splines.unconstrained_rational_quadratic_spline(
            x, widths, heights, shifted, inverse=inverse, tails="linear", tail_bound=BOUND
        )
        assert torch.allclose(ours[0], theirs[0], atol=1e-10, rtol=0)
        assert torch.allclose(ours[1], theirs[1], atol=1e-10, rtol=0)
    assert ((x.abs() > BOUND).sum() > 0) and ((x.abs() < BOUND).sum() > 0)  # both regimes seen


def test_zero_parameters_are_the_identity():
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    zeros = [torch.zeros(101, k, dtype=torch.float64) for k in (5, 5, 4)]
    for inverse in (False, True):
        y, logabsdet = rational_quadratic_spline(x, *zeros, bound=BOUND, inverse=inverse)
        assert torch.allclose(y, x, atol=1e-12)
        assert logabsdet.abs().max() < 1e-12


def test_strictly_increasing_continuous_and_log_derivative_is_the_slope():
    x = torch.linspace(-4, 4, 80001, dtype=torch.float64)
    midpoints = 0.5 * (x[1:] + x[:-1])
    params = random_params((1,), 7, scale=2.0, seed=3)
    spline = lambda v: rational_quadratic_spline(  # noqa: E731
        v, *[p.expand(len(v), -1) for p in params], bound=BOUND
    )
    y, logabsdet = spline(x)
    steps = y.diff()
    assert (steps > 0).all()
    # central differences vs exp(logabsdet) at the midpoints: a jump of g' at a knot or at
    # +-bound would show as an error of half its size (g'' may jump, hence O(h) at knots)
    _, log_slope = spline(midpoints)
    assert torch.allclose(steps / x.diff(), log_slope.exp(), rtol=5e-3)
    # identity tails: y == x and log-det 0 outside the bound
    outside = x.abs() > BOUND
    assert torch.equal(y[outside], x[outside]) and (logabsdet[outside] == 0).all()


def test_inverse_is_exact_at_knots_bounds_and_extreme_parameters():
    bins = 5
    widths, heights, derivatives = random_params((1,), bins, scale=1.0, seed=4)
    # knot positions themselves, the bounds, points just inside/outside, and far tails
    y_knots, _ = rational_quadratic_spline(
        torch.tensor([-BOUND, BOUND], dtype=torch.float64),
        *[p.expand(2, -1) for p in (widths, heights, derivatives)],
        bound=BOUND,
    )
    assert torch.allclose(y_knots, torch.tensor([-BOUND, BOUND], dtype=torch.float64))
    special = torch.tensor(
        [
            -1e6,
            -BOUND - 1e-12,
            -BOUND,
            -BOUND + 1e-12,
            0.0,
            BOUND - 1e-12,
            BOUND,
            BOUND + 1e-9,
            1e6,
        ],
        dtype=torch.float64,
    )
    for scale in (1.0, 8.0, 30.0):  # 30: bins collapse to the minimum size, derivatives extreme
        params = [p.expand(len(special), -1) for p in random_params((1,), bins, scale, seed=5)]
        y, ld = rational_quadratic_spline(special, *params, bound=BOUND)
        x_back, ld_back = rational_quadratic_spline(y, *params, bound=BOUND, inverse=True)
        assert torch.isfinite(x_back).all() and torch.isfinite(ld_back).all()
        assert torch.allclose(x_back, special, atol=1e-7 * scale, rtol=1e-12)
        assert torch.allclose(ld_back, -ld, atol=1e-6)


def test_float32_inverse_has_no_nan_with_sharp_splines():
    gen = torch.Generator().manual_seed(6)
    y = BOUND * (2 * torch.rand(20000, generator=gen) - 1)
    params = [p.float() for p in random_params((20000,), 8, scale=10.0, seed=7)]
    x, logabsdet = rational_quadratic_spline(y, *params, bound=BOUND, inverse=True)
    assert torch.isfinite(x).all() and torch.isfinite(logabsdet).all()
    assert (x.abs() <= BOUND).all()
    y_back, _ = rational_quadratic_spline(x, *params, bound=BOUND)
    # Bins of the minimum size with slopes near min_derivative are ill-conditioned in float32;
    # the round trip stays within a few float32 ulps of the steepest bins.
    assert (y_back - y).abs().max() < 1e-2


def test_gradients_are_finite_everywhere_including_tails_and_bounds():
    x = torch.tensor([-10.0, -BOUND, -1.0, 0.0, 1.0, BOUND, 10.0], dtype=torch.float64)
    params = [
        p.expand(len(x), -1).clone().requires_grad_() for p in random_params((1,), 4, seed=8)
    ]
    for inverse in (False, True):
        y, ld = rational_quadratic_spline(x, *params, bound=BOUND, inverse=inverse)
        (y.sum() + ld.sum()).backward()
        assert all(torch.isfinite(p.grad).all() for p in params)
        for p in params:
            p.grad = None


@pytest.mark.parametrize(
    "options, message",
    [
        ({"bins": 1}, "bins"),
        ({"bound": 0.0}, "bound"),
        ({"bins": 4, "min_bin_width": 0.3}, "min_bin_width"),
        ({"min_derivative": 0.0}, "min_derivative"),
    ],
)
def test_bad_options_are_configuration_errors(options, message):
    with pytest.raises(ConfigurationError, match=message):
        RationalQuadraticSplineCoupling(4, hidden=8, depth=1, **options)


def test_zero_initialised_coupling_is_the_identity_and_has_3k_minus_1_outputs_per_dim():
    layer = RationalQuadraticSplineCoupling(6, hidden=8, depth=1, bins=5)
    assert layer.net[-1].out_features == 3 * (3 * 5 - 1)
    x = 4 * torch.randn(10, 6)
    y, logabsdet = layer(x)
    assert torch.allclose(y, x, atol=1e-6) and logabsdet.abs().max() < 1e-6
