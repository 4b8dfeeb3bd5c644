"""A ``flowkit_run_finished`` listener that always raises (a tracker that is down)."""

from flowkit import hookimpl


@hookimpl
def flowkit_run_finished(run_file, status, results):
    raise RuntimeError("tracker is down")
