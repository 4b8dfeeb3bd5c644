"""Going on from an earlier run: extending a completed run (``flowkit run --resume RUN.h5
--epochs N``) and starting a new run from a run's weights (``flowkit run --init-from RUN.h5``).

A completed run keeps its final training state (weights, Adam's moments, generator states,
learning-rate schedule) in the run file's ``checkpoint`` group, so extending it continues
exactly where it stopped: on the CPU, training 10 epochs and then extending to 20 gives the
weights of a 20-epoch run. Files written before that (flowkit 0.1) have no final state; they
can still seed a new run with ``--init-from``.

A completed run keeps its completed results until an extension completes: while it trains, the
file is not rewritten, and it is replaced only by a version that has test results again
(completed, or interrupted after its final evaluation; :func:`extension_replaces_file`). An
extension that fails (an error, a non-finite loss) or is killed leaves the completed file as
it was, and can be tried again from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowkit.errors import ConfigurationError, FlowkitError, RunFileError

if TYPE_CHECKING:  # pragma: no cover
    from flowkit.flows import Flow
    from flowkit.io.runfile import RunRecord
    from flowkit.registry import Registry
    from flowkit.run.config import RunConfig


class ExtensionFailedError(FlowkitError):
    """Training further raised an error; the completed run file is unchanged."""


def extension_replaces_file(status: str, results: Mapping[str, Any]) -> bool:
    """Whether an extension of a completed run that ended with ``status`` and ``results``
    replaces the completed file (only by a version with test results)."""
    tested = "test_log_likelihood_nats" in results
    return status == "completed" or (status == "interrupted" and tested)


def check_resumable(path: Path, record: RunRecord, overrides: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigurationError` unless ``--resume`` can continue ``record``: an
    unfinished run with a checkpoint, or a completed one given room to train further."""
    state = record.checkpoint
    if state is None:
        if record.status == "completed":
            raise ConfigurationError(
                f"{path} is a completed run without its final training state (written by an "
                f"older flowkit); start a new run from its weights with --init-from {path}"
            )
        raise ConfigurationError(
            f"{path} cannot be resumed ({record.status}: {record.message}); start a new run"
        )
    if record.status != "completed":
        return
    train = record.config.train
    epochs = overrides.get("epochs", train.epochs)
    if epochs <= state.epoch:
        raise ConfigurationError(
            f"{path} is a completed run of {state.epoch} epochs; to train it further give "
            f"--epochs larger than {state.epoch}"
        )
    budget = overrides.get("max_seconds", train.max_seconds)
    if budget is not None and state.elapsed_seconds >= budget:
        raise ConfigurationError(
            f"{path} used up its time budget ({budget:g} s); give a larger --max-time to "
            "train it further"
        )


def load_initial_weights(flow: Flow, config: RunConfig) -> None:
    """Load the selected model of ``config.init_from`` into ``flow`` (same architecture).

    Its data-dependent layers are loaded as fitted (their ``initialized`` flags are buffers),
    so the new run does not fit them again.
    """
    if not config.init_from:
        return
    from flowkit.io.runfile import read_run_record

    source = read_run_record(config.init_from)
    try:
        flow.load_state_dict(source.model, strict=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:200]
        raise ConfigurationError(
            f"--init-from {config.init_from}: its weights do not fit the model this "
            f"configuration builds (give the same pipeline options as that run): {detail}"
        ) from None


def build_start_flow(registry: Registry, config: RunConfig, event_shape: Any) -> Flow:
    """The new run's model: freshly initialised, or from ``config.init_from``'s weights."""
    from flowkit.run.config import build_flow

    flow = build_flow(registry, config, event_shape)
    load_initial_weights(flow, config)
    return flow


def check_init_source(path: str) -> str:
    """``--init-from PATH`` as an absolute path, checked to be a readable run file."""
    from flowkit.io.runfile import read_run_record

    try:
        read_run_record(path)
    except RunFileError as err:
        raise ConfigurationError(f"--init-from: {err}") from None
    return str(Path(path).resolve())


__all__ = [
    "ExtensionFailedError",
    "build_start_flow",
    "check_init_source",
    "check_resumable",
    "extension_replaces_file",
    "load_initial_weights",
]
