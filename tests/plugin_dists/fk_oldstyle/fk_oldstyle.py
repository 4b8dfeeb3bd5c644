"""A coupling plugin written before coupling laws were parts: a whole ``CouplingTransform``
subclass with ``_transform``/``_inverse_transform``, its own option and ``params_per_dim = 2``,
registered with ``flowkit_register_couplings``. It must keep working, unchanged, in ``nice``."""

import torch

from flowkit import ConfigurationError, CouplingTransform, hookimpl


class SoftAffineCoupling(CouplingTransform):
    """``y2 = x2 * exp(c * tanh(u)) + t``, the way plugins were written for flowkit 0.1."""

    name = "oldstyle_affine"
    params_per_dim = 2

    def __init__(self, features, *, strength=1.0, **kwargs):
        if not strength > 0:
            raise ConfigurationError(f"strength must be > 0, got {strength!r}")
        super().__init__(features, **kwargs)
        self.strength = float(strength)

    def _transform(self, x2, params):
        u, shift = self._split_params(params)
        s = self.strength * torch.tanh(u)
        return x2 * torch.exp(s) + shift, s.sum(dim=1)

    def _inverse_transform(self, y2, params):
        u, shift = self._split_params(params)
        s = self.strength * torch.tanh(u)
        return (y2 - shift) * torch.exp(-s), -s.sum(dim=1)


@hookimpl
def flowkit_register_couplings():
    return [SoftAffineCoupling]
