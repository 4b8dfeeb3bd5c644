"""A ``flowkit_run_finished`` listener that records its calls."""

from flowkit import hookimpl

CALLS: list[tuple[str, str]] = []


@hookimpl
def flowkit_run_finished(run_file, status):
    CALLS.append((run_file, status))
