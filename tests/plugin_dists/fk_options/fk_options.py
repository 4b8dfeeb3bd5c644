"""Components whose constructors take options: a prior (``scale``), a permutation
(``shift``), and a dataset that takes its options as keyword arguments (``size``, ``slope``)."""

import math

import numpy as np
import torch

from flowkit import Dataset, Prior, Transform, hookimpl


class ScaledLaplace(Prior):
    """Laplace(0, scale) in every coordinate."""

    name = "opt_laplace"

    def __init__(self, features, *, scale=1.0):
        super().__init__(features)
        self.scale = float(scale)
        self.stddev = math.sqrt(2.0) * self.scale

    def _log_prob(self, inputs, context):
        return -(inputs.abs() / self.scale + math.log(2.0 * self.scale)).sum(dim=1)

    def _sample_standard(self, num_samples):
        a = self._anchor
        u = torch.rand(num_samples, self.features, device=a.device, dtype=a.dtype) - 0.5
        u = u.clamp(-0.5 + torch.finfo(a.dtype).eps, 0.5 - torch.finfo(a.dtype).eps)
        return -self.scale * torch.sign(u) * torch.log1p(-2 * u.abs())


class ShiftPermutation(Transform):
    """Rolls the features by ``seed + shift`` places."""

    name = "opt_roll"

    def __init__(self, features, seed=0, *, shift=1):
        super().__init__(features)
        order = torch.roll(torch.arange(self.features), seed + shift)
        self.register_buffer("order", order)
        self.register_buffer("inverse_order", torch.argsort(order))

    def forward(self, inputs, context=None):
        return inputs[:, self.order], inputs.new_zeros(inputs.shape[0])

    def inverse(self, inputs, context=None):
        return inputs[:, self.inverse_order], inputs.new_zeros(inputs.shape[0])


class NoisyLine(Dataset):
    """``size`` points near the line ``y = slope * x``."""

    name = "opt_line"

    def __init__(self, *, size=300, slope=2.0, **common):
        super().__init__(**common)
        self.size, self.slope = int(size), float(slope)

    def _load(self):
        self.levels, self.variant = None, f"size-{self.size}"
        rng = np.random.default_rng(self.seed)
        x = rng.normal(size=(self.size, 1))
        return np.concatenate([x, self.slope * x + 0.1 * rng.normal(size=(self.size, 1))], 1)


@hookimpl
def flowkit_register_priors():
    return [ScaledLaplace]


@hookimpl
def flowkit_register_permutations():
    return [ShiftPermutation]


@hookimpl
def flowkit_register_datasets():
    return [NoisyLine]
