"""The ``tensorboard`` tracker: a run's curves and results as TensorBoard event files.

``--track tensorboard[=LOGDIR]`` writes into ``LOGDIR/<run name>/`` (default ``LOGDIR``: a
``tensorboard`` folder next to the run file), so ``tensorboard --logdir LOGDIR`` shows every run
side by side. Scalars: the :data:`flowkit.trackers.EPOCH_METRICS` at step = epoch, and the test
results (``test/bits_per_dim``, ``test/log_likelihood_nats``...) at the last epoch; the resolved
configuration is a text entry. A resumed run appends to the same folder, first purging the
steps after the epoch it resumes from (they are trained again).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowkit import TrackedRun, Tracker, tracker_metrics


class TensorBoardTracker(Tracker):
    """TensorBoard event files through ``torch.utils.tensorboard.SummaryWriter``."""

    name = "tensorboard"
    description = "TensorBoard event files (LOGDIR/<run>/; default: tensorboard/ by the run file)"

    def start(self, run: TrackedRun) -> None:
        self.require("tensorboard", "tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        root = Path(self.destination) if self.destination else run.run_file.parent / "tensorboard"
        self.logdir = root.expanduser() / run.name
        self.logdir.mkdir(parents=True, exist_ok=True)  # an unwritable place fails here, at once
        purge = run.start_epoch + 1 if run.resumed else None
        self.writer = SummaryWriter(str(self.logdir), purge_step=purge)
        self.last_step = run.start_epoch
        text = json.dumps(run.config, indent=2, sort_keys=True, default=str)
        # TensorBoard renders text as Markdown: indenting keeps the JSON verbatim.
        self.writer.add_text("config", "\n".join("    " + line for line in text.splitlines()))
        self.writer.flush()

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, epoch)
        self.last_step = epoch

    def finish(self, status: str, results: Mapping[str, Any]) -> None:
        step = int(results.get("epochs_completed") or self.last_step)
        for key, value in tracker_metrics(results).items():
            if key.startswith("test/"):
                self.writer.add_scalar(key, value, step)
        self.writer.add_text("status", f"{status}: {results.get('message', '')}", step)
        self.writer.close()


__all__ = ["TensorBoardTracker"]
