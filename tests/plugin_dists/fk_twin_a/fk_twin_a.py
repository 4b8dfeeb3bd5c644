"""One of two distributions that both name their entry point ``twin``."""

from flowkit import hookimpl
from flowkit_builtins.priors import GaussianPrior


class TwinPrior(GaussianPrior):
    name = "twin_a"


@hookimpl
def flowkit_register_priors():
    return [TwinPrior]
