"""A test plugin with a misspelled hook name."""

from flowkit import hookimpl


@hookimpl
def flowkit_register_coupling():  # the hook is flowkit_register_couplings
    return []
