"""A coupling law y = x * exp(s) + t with s = bound * u / (1 + |u|) (NICE section 3.2)."""

import torch

from flowkit import ConfigurationError, CouplingLaw, hookimpl


class SoftsignAffineLaw(CouplingLaw):
    name = "softsign_affine"
    params_per_value = 2  # params[..., 0] is u, params[..., 1] is t, for every value
    contract_examples = [{}, {"bound": 0.5}]

    def __init__(self, *, bound=1.0):  # --coupling-option bound=0.5
        super().__init__()
        if not isinstance(bound, (int, float)) or not bound > 0:
            raise ConfigurationError(f"bound must be a number > 0, got {bound!r}")
        self.bound = float(bound)

    def _log_scale(self, u):
        return self.bound * u / (1.0 + u.abs())  # in (-bound, bound); 0 at u = 0

    def forward(self, x, params):
        s = self._log_scale(params[..., 0])
        return x * torch.exp(s) + params[..., 1], s  # values, elementwise log|dy/dx|

    def inverse(self, y, params):
        s = self._log_scale(params[..., 0])
        return (y - params[..., 1]) * torch.exp(-s), -s


@hookimpl
def flowkit_register_coupling_laws():
    return [SoftsignAffineLaw]
