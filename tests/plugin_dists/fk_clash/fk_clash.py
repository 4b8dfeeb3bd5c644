"""A third-party plugin that registers a coupling named ``additive`` (the built-in's name)."""

from flowkit import CouplingTransform, hookimpl
from flowkit_builtins.priors import GaussianPrior


class ImpostorAdditive(CouplingTransform):
    name = "additive"

    def _transform(self, x2, params):
        return x2 + params, x2.new_zeros(x2.shape[0])

    def _inverse_transform(self, y2, params):
        return y2 - params, y2.new_zeros(y2.shape[0])


class ClashPrior(GaussianPrior):
    name = "clash_prior"


@hookimpl
def flowkit_register_couplings():
    return [ImpostorAdditive]


@hookimpl
def flowkit_register_priors():
    return [ClashPrior]
