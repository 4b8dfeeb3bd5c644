"""A Laplace prior with a scale option: log p(x) = -sum(|x| / b + log 2b)."""

import math

import scipy.stats
import torch

from flowkit import Prior, hookimpl


class LaplacePrior(Prior):
    name = "laplace"
    contract_examples = [{}, {"scale": 2.0}]

    def __init__(self, features, *, scale=1.0):
        super().__init__(features)
        self.scale = float(scale)  # --prior-option scale=2
        self.stddev = math.sqrt(2.0) * self.scale

    def _log_prob(self, inputs, context):
        return -(inputs.abs() / self.scale + math.log(2.0 * self.scale)).sum(dim=1)

    def _sample_standard(self, num_samples):
        a = self._anchor  # samples are created where the model lives
        u = torch.rand(num_samples, self.features, device=a.device, dtype=a.dtype) - 0.5
        u = u.clamp(-0.5 + torch.finfo(a.dtype).eps, 0.5 - torch.finfo(a.dtype).eps)
        return -self.scale * torch.sign(u) * torch.log1p(-2 * u.abs())

    def scipy_reference(self):
        return scipy.stats.laplace(scale=self.scale)


@hookimpl
def flowkit_register_priors():
    return [LaplacePrior]
