"""2-D toy densities: seeded samples of continuous data, with the exact density where one exists.

``gaussians``, ``checkerboard`` and ``rings`` have a closed-form, normalised density:
``log_density(x)`` returns it, so a flow's test log-likelihood can be compared with the best
possible (the negative entropy, estimated by ``log_density(test).mean()``). ``moons`` and
``spirals`` are noisy curves with no closed form; they have no ``log_density`` attribute (test
with ``hasattr``). All are continuous (``levels`` is ``None``): never dequantised.
"""

from __future__ import annotations

import math

import numpy as np

from flowkit import DataError, Dataset

from .common import claim_options, positive_float, positive_int

DEFAULT_SIZE = 10_000
#: Samples are drawn from their own stream of the seed, independent of the split's shuffle.
_SAMPLE_STREAM = 1
_LOG_2PI = math.log(2.0 * math.pi)


def _points(x) -> np.ndarray:
    points = np.asarray(x, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise DataError(f"log_density expects points of shape [n, 2], got {points.shape}")
    return points


class ToyDataset(Dataset):
    """Base of the 2-D toys: ``size`` samples from :meth:`_sample`, split like any dataset."""

    def __init__(self, *, size: int = DEFAULT_SIZE, **common) -> None:
        super().__init__(**common)
        self.size = positive_int(size, "size", minimum=3)

    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError

    def _load(self) -> np.ndarray:
        rng = np.random.default_rng([self.seed, _SAMPLE_STREAM])
        self.levels = None
        self.variant = "synthetic"
        self.extra = {"examples": self.size}
        return self._sample(rng, self.size)


class GaussianMixture(ToyDataset):
    """``modes`` isotropic Gaussians (std ``std``) evenly spaced on a circle of radius ``radius``.

    ``p(x) = (1/K) sum_k N(x; mu_k, std^2 I)``.
    """

    name = "gaussians"
    description = "2-D mixture of Gaussians on a circle (exact density)"

    def __init__(
        self,
        *,
        size: int = DEFAULT_SIZE,
        modes: int = 8,
        radius: float = 2.0,
        std: float = 0.2,
        **common,
    ) -> None:
        super().__init__(size=size, **common)
        self.modes = positive_int(modes, "modes")
        self.radius = positive_float(radius, "radius")
        self.std = positive_float(std, "std")
        claim_options(self, size=self.size, modes=self.modes, radius=self.radius, std=self.std)
        angles = 2.0 * math.pi * np.arange(self.modes) / self.modes
        self.centers = self.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)

    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        modes = rng.integers(self.modes, size=n)
        return self.centers[modes] + self.std * rng.standard_normal((n, 2))

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """Exact ``log p(x)`` of points ``[n, 2]``."""
        points = _points(x)
        sq = ((points[:, None, :] - self.centers[None]) ** 2).sum(-1) / (2.0 * self.std**2)
        from scipy.special import logsumexp  # imported when used: plugin loading stays light

        return logsumexp(-sq, axis=1) - math.log(self.modes) - _LOG_2PI - 2.0 * math.log(self.std)


class Checkerboard(ToyDataset):
    """Uniform on the dark squares of a ``cells`` x ``cells`` board covering ``[-2, 2]^2``.

    The square in column ``i``, row ``j`` (from the lower left) is dark when ``i + j`` is even;
    the density is ``1 / (dark squares x square area)`` there and 0 elsewhere.
    """

    name = "checkerboard"
    description = "2-D checkerboard, uniform on the dark squares (exact density)"
    half_width = 2.0

    def __init__(self, *, size: int = DEFAULT_SIZE, cells: int = 4, **common) -> None:
        super().__init__(size=size, **common)
        self.cells = positive_int(cells, "cells", minimum=2)
        claim_options(self, size=self.size, cells=self.cells)
        i, j = np.meshgrid(np.arange(self.cells), np.arange(self.cells), indexing="ij")
        dark = (i + j) % 2 == 0
        self.dark_squares = np.stack([i[dark], j[dark]], axis=1)
        self.square = 2.0 * self.half_width / self.cells

    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        squares = self.dark_squares[rng.integers(len(self.dark_squares), size=n)]
        return -self.half_width + (squares + rng.random((n, 2))) * self.square

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """Exact ``log p(x)`` of points ``[n, 2]`` (``-inf`` off the dark squares)."""
        points = _points(x)
        index = np.floor((points + self.half_width) / self.square)
        inside = ((index >= 0) & (index < self.cells)).all(axis=1)
        dark = inside & (index.sum(axis=1) % 2 == 0)
        value = -math.log(len(self.dark_squares) * self.square**2)
        return np.where(dark, value, -np.inf)


class Rings(ToyDataset):
    """Concentric rings of radii ``1, 2, ..., rings`` with a Gaussian radial profile.

    ``p(x) = sum_k N(|x|; R_k, width^2) / Z`` with ``Z = 2 pi sum_k (R_k Phi(R_k/width) +
    width phi(R_k/width))`` (the integral of ``r N(r; R, width^2)`` over ``r > 0``), so the
    density is exact and normalised, finite everywhere, and every ring has the same peak height
    (ring ``k`` holds a share ``~ R_k`` of the mass).
    """

    name = "rings"
    description = "2-D concentric rings with a Gaussian radial profile (exact density)"

    def __init__(
        self, *, size: int = DEFAULT_SIZE, rings: int = 3, width: float = 0.1, **common
    ) -> None:
        super().__init__(size=size, **common)
        self.rings = positive_int(rings, "rings")
        self.width = positive_float(width, "width")
        claim_options(self, size=self.size, rings=self.rings, width=self.width)
        self.radii = np.arange(1, self.rings + 1, dtype=np.float64)
        a = self.radii / self.width
        phi = np.exp(-0.5 * a**2) / math.sqrt(2.0 * math.pi)
        from scipy.special import ndtr

        self.ring_mass = 2.0 * math.pi * (self.radii * ndtr(a) + self.width * phi)
        self.log_normaliser = math.log(self.ring_mass.sum())

    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        ring = rng.choice(self.rings, size=n, p=self.ring_mass / self.ring_mass.sum())
        radius = self._sample_radius(rng, self.radii[ring])
        angle = rng.uniform(0.0, 2.0 * math.pi, size=n)
        return radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)

    def _sample_radius(self, rng: np.random.Generator, centre: np.ndarray) -> np.ndarray:
        """Radii with density ``~ r N(r; R, width^2)`` on ``r > 0``, by rejection sampling.

        With ``r = R + width z`` the target is ``~ (R + width z) phi(z)`` for ``z > -R/width``.
        The proposal ``~ (R + width |z|) phi(z)`` dominates it and is a mixture of a normal
        (mass ``R``) and a Rayleigh with a random sign (mass ``width sqrt(2/pi)``); a draw is
        kept with probability ``(R + width z) / (R + width |z|)``.
        """
        radius = np.empty_like(centre)
        todo = np.arange(len(centre))
        while todo.size:
            r0, m = centre[todo], todo.size
            rayleigh_mass = self.width * math.sqrt(2.0 / math.pi)
            from_rayleigh = rng.random(m) < rayleigh_mass / (r0 + rayleigh_mass)
            signs = rng.choice([-1.0, 1.0], size=m)
            z = np.where(from_rayleigh, signs * rng.rayleigh(size=m), rng.standard_normal(m))
            keep = rng.random(m) < (r0 + self.width * z) / (r0 + self.width * np.abs(z))
            radius[todo[keep]] = r0[keep] + self.width * z[keep]
            todo = todo[~keep]
        return radius

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """Exact ``log p(x)`` of points ``[n, 2]``."""
        r = np.linalg.norm(_points(x), axis=1)
        sq = (r[:, None] - self.radii[None]) ** 2 / (2.0 * self.width**2)
        from scipy.special import logsumexp

        log_profile = logsumexp(-sq, axis=1) - 0.5 * _LOG_2PI - math.log(self.width)
        return log_profile - self.log_normaliser


class Moons(ToyDataset):
    """Two interleaving half circles, Gaussian noise of std ``noise``; no closed-form density."""

    name = "moons"
    description = "2-D two moons (no exact density)"

    def __init__(self, *, size: int = DEFAULT_SIZE, noise: float = 0.1, **common) -> None:
        super().__init__(size=size, **common)
        self.noise = positive_float(noise, "noise")
        claim_options(self, size=self.size, noise=self.noise)

    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        t = rng.uniform(0.0, math.pi, size=n)
        lower = rng.random(n) < 0.5
        x = np.where(lower, 1.0 - np.cos(t), np.cos(t))
        y = np.where(lower, 0.5 - np.sin(t), np.sin(t))
        # Centred on the origin and doubled, to span about [-3, 3] x [-1.5, 1.5].
        curve = 2.0 * (np.stack([x, y], axis=1) - [0.5, 0.25])
        return curve + self.noise * rng.standard_normal((n, 2))


class Spirals(ToyDataset):
    """Two interleaved spiral arms of ``turns`` turns out to radius 3, with Gaussian noise.

    Points are spread evenly along the arc length; no closed-form density.
    """

    name = "spirals"
    description = "2-D two spirals (no exact density)"
    outer_radius = 3.0

    def __init__(
        self, *, size: int = DEFAULT_SIZE, turns: float = 1.5, noise: float = 0.1, **common
    ) -> None:
        super().__init__(size=size, **common)
        self.turns = positive_float(turns, "turns")
        self.noise = positive_float(noise, "noise")
        claim_options(self, size=self.size, turns=self.turns, noise=self.noise)

    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        # On an Archimedean spiral the arc length grows ~ t^2, so t = sqrt(u) is ~uniform along it.
        t = np.sqrt(rng.random(n))
        angle = 2.0 * math.pi * self.turns * t + math.pi * rng.integers(2, size=n)
        curve = self.outer_radius * t[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        return curve + self.noise * rng.standard_normal((n, 2))
