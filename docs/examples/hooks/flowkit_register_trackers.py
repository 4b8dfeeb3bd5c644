"""A tracker that prints one line per epoch (``flowkit run --track print``)."""

from flowkit import Tracker, hookimpl


class PrintTracker(Tracker):
    name = "print"

    def start(self, run):
        print(f"start {run.name}")

    def log_epoch(self, epoch, metrics):
        print(f"epoch {epoch}: {metrics['valid/bits_per_dim']:.4f} bits/dim")

    def finish(self, status, results):
        print(f"{status}: {results.get('test_bits_per_dim')}")


@hookimpl
def flowkit_register_trackers():
    return [PrintTracker]
