"""2-D toy densities: exact, normalised log-densities that match their samples; seeded samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from scipy.special import ndtr

from flowkit import ConfigurationError, DataError

EXACT = ["gaussians", "checkerboard", "rings"]
ALL = EXACT + ["moons", "spirals"]
BOX = 4.5  # every toy lies well inside [-4.5, 4.5]^2


def grid(step: float, box: float = BOX) -> tuple[np.ndarray, float]:
    """Cell midpoints of a square grid over [-box, box]^2 and the cell area."""
    centres = np.arange(-box + step / 2, box, step)
    x, y = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([x.ravel(), y.ravel()], axis=1), step * step


@pytest.mark.parametrize("name", EXACT)
def test_log_density_integrates_to_one(registry, name):
    dataset = registry.get("dataset", name)()
    points, area = grid(0.02)
    total = np.exp(dataset.log_density(points)).sum() * area
    assert total == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("name", EXACT)
def test_samples_follow_the_log_density(registry, name):
    """Histogram of 60,000 samples vs. the density integrated over each 0.5 x 0.5 bin."""
    dataset = registry.get("dataset", name)(size=60_000, seed=4)
    samples = np.concatenate([p.numpy() for p in dataset.load()]).astype(np.float64)
    edges = np.arange(-BOX, BOX + 1e-9, 0.5)
    counts, _, _ = np.histogram2d(samples[:, 0], samples[:, 1], bins=[edges, edges])
    assert counts.sum() == len(samples)  # nothing outside the box
    points, area = grid(0.025)  # 20 x 20 points per bin
    mass = np.exp(dataset.log_density(points)) * area
    expected, _, _ = np.histogram2d(points[:, 0], points[:, 1], bins=[edges, edges], weights=mass)
    total_variation = 0.5 * np.abs(counts / counts.sum() - expected / expected.sum()).sum()
    assert total_variation < 0.04


def test_rings_radii_follow_the_exact_radial_law(registry):
    """Kolmogorov-Smirnov against the closed-form CDF of |x| (checks the rejection sampler)."""
    dataset = registry.get("dataset", "rings")(size=20_000, seed=5, rings=2, width=0.4)
    radii = np.linalg.norm(np.concatenate([p.numpy() for p in dataset.load()]), axis=1)
    big_r, w = dataset.radii[None], dataset.width

    def cdf(r):
        # The integral of 2 pi s N(s; R, w^2) from 0 to r, summed over rings.
        z, z0 = (np.asarray(r)[:, None] - big_r) / w, -big_r / w
        pdf = lambda t: np.exp(-0.5 * t**2) / math.sqrt(2 * math.pi)  # noqa: E731
        part = big_r * (ndtr(z) - ndtr(z0)) - w * (pdf(z) - pdf(z0))
        return 2 * math.pi * part.sum(axis=1) / dataset.ring_mass.sum()

    assert cdf(np.array([50.0]))[0] == pytest.approx(1.0)
    assert scipy.stats.kstest(radii, cdf).pvalue > 1e-3


def test_gaussians_density_is_the_mixture(registry):
    dataset = registry.get("dataset", "gaussians")(modes=3, radius=1.5, std=0.3)
    points = np.array([[0.0, 0.0], [1.5, 0.0], [-1.0, 2.0]])
    expected = (
        sum(scipy.stats.multivariate_normal(mean=c, cov=0.09).pdf(points) for c in dataset.centers)
        / 3
    )
    np.testing.assert_allclose(np.exp(dataset.log_density(points)), expected, rtol=1e-10)


def test_checkerboard_density_is_flat_on_dark_squares_only(registry):
    dataset = registry.get("dataset", "checkerboard")()
    inside_dark, inside_light, outside = [-1.5, -1.5], [-0.5, -1.5], [3.0, 3.0]
    values = dataset.log_density(np.array([inside_dark, inside_light, outside]))
    assert values[0] == pytest.approx(-math.log(8.0))  # 8 dark unit squares
    assert np.isneginf(values[1:]).all()
    samples = dataset.load().train.numpy()
    assert np.isfinite(dataset.log_density(samples)).all()


@pytest.mark.parametrize("name", ["moons", "spirals"])
def test_curves_have_no_exact_density(registry, name):
    dataset = registry.get("dataset", name)(size=500)
    assert not hasattr(dataset, "log_density")
    train = dataset.load().train.numpy()
    assert train.shape[1:] == (2,) and np.abs(train).max() < BOX
    assert train.std(axis=0).min() > 0.3  # a spread-out shape, not a point


@pytest.mark.parametrize("name", ALL)
def test_toys_are_continuous_seeded_and_sized(registry, name):
    cls = registry.get("dataset", name)
    a, b, c = cls(size=300, seed=7), cls(size=300, seed=7), cls(size=300, seed=8)
    splits = a.load()
    assert a.levels is None and a.event_shape == (2,) and a.variant == "synthetic"
    assert sum(len(p) for p in splits) == 300 == a.info().extra["examples"]
    assert a.info().checksum == b.info().checksum != c.info().checksum
    assert a.options["size"] == 300
    assert cls(**a.options, seed=7).info().checksum == a.info().checksum  # rebuildable


@pytest.mark.parametrize("name", ALL)
def test_toy_option_errors(registry, name):
    cls = registry.get("dataset", name)
    with pytest.raises(ConfigurationError, match="size"):
        cls(size=0)
    with pytest.raises(ConfigurationError, match="no option 'levels'"):
        cls(levels=3)


def test_toy_shape_specific_option_errors(registry):
    with pytest.raises(ConfigurationError, match="std"):
        registry.get("dataset", "gaussians")(std=-1)
    with pytest.raises(ConfigurationError, match="cells"):
        registry.get("dataset", "checkerboard")(cells=1)
    with pytest.raises(ConfigurationError, match="width"):
        registry.get("dataset", "rings")(width="wide")
    with pytest.raises(DataError, match=r"\[n, 2\]"):
        registry.get("dataset", "rings")().log_density(np.zeros(3))
