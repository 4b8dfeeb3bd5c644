"""flowkit's built-in experiment trackers (``flowkit run --track NAME[=DESTINATION]``).

- ``tensorboard`` (:mod:`.tensorboard_tracker`): TensorBoard event files written with
  ``torch.utils.tensorboard``; needs ``pip install 'flowkit[tensorboard]'``.
- ``mlflow`` (:mod:`.mlflow_tracker`): an MLflow run in a tracking store (a local file store
  next to the run file by default); needs ``pip install 'flowkit[mlflow]'``.

Neither package is imported until a run asks for its tracker, so the core stays light.
"""

from __future__ import annotations

from flowkit import hookimpl

from .mlflow_tracker import MLflowTracker
from .tensorboard_tracker import TensorBoardTracker

__all__ = ["MLflowTracker", "TensorBoardTracker", "flowkit_register_trackers"]


@hookimpl
def flowkit_register_trackers() -> list[type]:
    return [TensorBoardTracker, MLflowTracker]
