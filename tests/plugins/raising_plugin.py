"""A test plugin whose registration hook raises."""

from flowkit import hookimpl


@hookimpl
def flowkit_register_priors():
    raise RuntimeError("this plugin is broken on purpose")
