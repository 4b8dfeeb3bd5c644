"""A plugin with a misspelled hook name (the hook is flowkit_register_priors)."""

from flowkit import hookimpl


@hookimpl
def flowkit_register_prior():
    return []
