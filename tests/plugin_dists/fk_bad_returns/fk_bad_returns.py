"""Registration hooks that return the wrong things, and one that is right."""

from flowkit import CouplingTransform, hookimpl
from flowkit_builtins.priors import GaussianPrior


class Nameless(CouplingTransform):
    def _transform(self, x2, params):
        return x2 + params, x2.new_zeros(x2.shape[0])

    def _inverse_transform(self, y2, params):
        return y2 - params, y2.new_zeros(y2.shape[0])


class GoodPrior(GaussianPrior):
    name = "good_prior"


def make_scaling(features):
    return None


@hookimpl
def flowkit_register_couplings():
    return [Nameless]  # a class without `name`


@hookimpl
def flowkit_register_priors():
    return [GoodPrior]


@hookimpl
def flowkit_register_scalings():
    return [make_scaling]  # a function


@hookimpl
def flowkit_register_whitenings():
    return [GoodPrior(2)]  # an instance
