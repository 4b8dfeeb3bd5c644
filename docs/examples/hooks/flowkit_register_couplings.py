"""A coupling law y2 = x2 * exp(tanh(u)) + t, with (u, t) = m(x1) (NICE section 3.2)."""

import torch

from flowkit import CouplingTransform, hookimpl


class TanhAffineCoupling(CouplingTransform):
    name = "tanh_affine"
    params_per_dim = 2  # u and t for every transformed dimension
    contract_examples = [
        {"hidden": 16, "depth": 1},
        {"hidden": 16, "depth": 2, "partition": "halves", "parity": 1, "bound": 0.5},
    ]

    def __init__(self, features, *, bound=1.0, **kwargs):
        super().__init__(features, **kwargs)
        self.bound = float(bound)  # --coupling-option bound=0.5

    def _transform(self, x2, params):
        u, t = self._split_params(params)  # columns [0, |x2|) are u, [|x2|, 2|x2|) are t
        s = self.bound * torch.tanh(u)
        return x2 * torch.exp(s) + t, s.sum(dim=1)

    def _inverse_transform(self, y2, params):
        u, t = self._split_params(params)
        s = self.bound * torch.tanh(u)
        return (y2 - t) * torch.exp(-s), -s.sum(dim=1)


@hookimpl
def flowkit_register_couplings():
    return [TanhAffineCoupling]
