"""A third-party plugin whose entry point is named ``priors``, as flowkit's built-in one was."""

from flowkit import hookimpl
from flowkit_builtins.priors import GaussianPrior


class WidePrior(GaussianPrior):
    name = "wide"


@hookimpl
def flowkit_register_priors():
    return [WidePrior]
