"""The ``mlflow`` tracker: a run as an MLflow run, with parameters, curves and results.

``--track mlflow[=STORE]``: ``STORE`` is an MLflow tracking URI (``sqlite:///mlflow.db``,
``http://host:5000``, ``file:///...``) or a folder, which becomes a local file store; by
default an ``mlruns`` folder next to the run file (``mlflow ui --backend-store-uri`` that
folder shows it). MLflow 3 keeps the file store only on request, so flowkit sets
``MLFLOW_ALLOW_FILE_STORE=true`` for a folder it is asked to use. The experiment is
``$MLFLOW_EXPERIMENT_NAME`` or ``flowkit``; the MLflow run is named after the run file and
tagged ``flowkit.run_file``; a resumed run continues the same MLflow run. Parameters are the
flattened configuration; metrics the :data:`flowkit.trackers.EPOCH_METRICS` with step = epoch
and the results (``test/bits_per_dim``...); the status ends the MLflow run (FINISHED, KILLED
for an interrupted run, FAILED).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowkit import TrackedRun, Tracker, tracker_metrics

RUN_FILE_TAG = "flowkit.run_file"
#: MLflow's status for each flowkit status.
MLFLOW_STATUS = {"completed": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}
#: Longest parameter value sent (older MLflow servers reject more than 500 characters).
MAX_PARAM = 500
BATCH = 100  # MLflow's limit of parameters per log_batch call


def tracking_uri(destination: str | None, run_file: Path) -> str:
    """The MLflow tracking URI for ``destination`` (a URI, a folder, or None: the default)."""
    if destination and ":" in destination and not Path(destination).exists():
        scheme = destination.split(":", 1)[0]
        if len(scheme) > 1:  # not a Windows drive letter
            return destination
    folder = Path(destination).expanduser() if destination else run_file.parent / "mlruns"
    folder.mkdir(parents=True, exist_ok=True)  # an unwritable place fails here, at once
    return folder.resolve().as_uri()


class MLflowTracker(Tracker):
    """One MLflow run per flowkit run, written through ``mlflow.tracking.MlflowClient``."""

    name = "mlflow"
    description = "MLflow tracking store (default: a file store mlruns/ by the run file)"

    def start(self, run: TrackedRun) -> None:
        self.require("mlflow", "mlflow")
        uri = tracking_uri(self.destination, run.run_file)
        if uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        self.client = client = MlflowClient(tracking_uri=uri)
        experiment_name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or "flowkit"
        experiment = client.get_experiment_by_name(experiment_name)
        experiment_id = (
            experiment.experiment_id if experiment else client.create_experiment(experiment_name)
        )
        run_file = str(run.run_file.resolve())
        previous = []
        if run.resumed:
            previous = client.search_runs(
                [experiment_id], filter_string=f"tags.`{RUN_FILE_TAG}` = '{run_file}'"
            )
        if previous:
            self.run_id = previous[0].info.run_id
            client.update_run(self.run_id, status="RUNNING")
            return
        created = client.create_run(
            experiment_id, run_name=run.name, tags={RUN_FILE_TAG: run_file}
        )
        self.run_id = created.info.run_id
        params = [Param(key, str(value)[:MAX_PARAM]) for key, value in run.params.items()]
        for begin in range(0, len(params), BATCH):
            client.log_batch(self.run_id, params=params[begin : begin + BATCH])

    def _log(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(key, float(value), now, step) for key, value in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self._log(metrics, epoch)

    def finish(self, status: str, results: Mapping[str, Any]) -> None:
        self._log(tracker_metrics(results), int(results.get("epochs_completed") or 0))
        self.client.set_tag(self.run_id, "flowkit.status", status)
        self.client.set_terminated(self.run_id, status=MLFLOW_STATUS.get(status, "FINISHED"))


__all__ = ["MLFLOW_STATUS", "MLflowTracker", "tracking_uri"]
