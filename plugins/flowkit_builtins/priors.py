"""Factorised priors of NICE (section 3.1): standard logistic and standard Gaussian."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from flowkit import Prior, hookimpl


class LogisticPrior(Prior):
    """Standard logistic: ``log p(h_d) = -softplus(h_d) - softplus(-h_d)``.

    The paper's choice for MNIST, SVHN and CIFAR-10 (better-behaved gradients than a Gaussian).
    Its standard deviation is ``pi / sqrt(3)``.
    """

    name = "logistic"
    stddev = math.pi / math.sqrt(3.0)

    def _log_prob(self, inputs: Tensor, context: Tensor | None) -> Tensor:
        return -(F.softplus(inputs) + F.softplus(-inputs)).sum(dim=1)

    def _sample_standard(self, num_samples: int) -> Tensor:
        anchor = self._anchor
        # Inverse CDF: log u - log(1 - u); u kept off 0 and 1 so that samples stay finite.
        tiny = torch.finfo(anchor.dtype).tiny
        u = torch.rand(num_samples, self.features, device=anchor.device, dtype=anchor.dtype)
        u = u.clamp(tiny, 1.0 - torch.finfo(anchor.dtype).eps)
        return torch.log(u) - torch.log1p(-u)

    def scipy_reference(self):
        import scipy.stats  # only the contract kit needs it; keep plugin loading light

        return scipy.stats.logistic()


class GaussianPrior(Prior):
    """Standard normal: ``log p(h_d) = -(h_d^2 + log 2 pi) / 2`` (the paper's choice for TFD)."""

    name = "gaussian"
    stddev = 1.0
    _log_2pi = math.log(2.0 * math.pi)

    def _log_prob(self, inputs: Tensor, context: Tensor | None) -> Tensor:
        return -0.5 * (inputs.square().sum(dim=1) + self.features * self._log_2pi)

    def _sample_standard(self, num_samples: int) -> Tensor:
        anchor = self._anchor
        return torch.randn(num_samples, self.features, device=anchor.device, dtype=anchor.dtype)

    def scipy_reference(self):
        import scipy.stats

        return scipy.stats.norm()


@hookimpl
def flowkit_register_priors():
    return [LogisticPrior, GaussianPrior]
