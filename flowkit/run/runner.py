"""A run from start to finish: data, model, training, evaluation, samples and the run file.

:func:`start_run` and :func:`resume_run` are what ``flowkit run`` calls; they are usable from
Python as well. Everything that can be wrong with the input is checked before the run file is
touched, so bad input never writes or changes a file. A run claims its file first
(:func:`flowkit.io.lock.claim_output`, held until the last write), so two runs never write one
file.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from flowkit.datasets import Dataset
from flowkit.errors import ConfigurationError, DataError, FlowkitWarning
from flowkit.io.lock import claim_output
from flowkit.io.runfile import RunRecord, read_run_record, read_train_state, write_run_file
from flowkit.run.artifacts import collect_environment, draw_samples, scaling_spectrum
from flowkit.run.checks import (
    check_model_size,
    check_option_bounds,
    check_resume_epochs,
    check_run_output,
    check_training_data,
    resumable_flow,
)
from flowkit.run.config import (
    RunConfig,
    absolute_paths,
    build_dataset,
    check_components,
)
from flowkit.run.extend import (
    ExtensionFailedError,
    build_start_flow,
    check_resumable,
    extension_replaces_file,
)
from flowkit.run.finish import Checkpointer, RunWriter, final_status, results_of
from flowkit.run.output import (
    DEFAULT_RUN_FOLDER,
    check_output,
    claim_default_path,
    default_run_path,
)
from flowkit.run.signals import run_signals
from flowkit.run.tracking import finish_trackers, notify_finished, open_trackers
from flowkit.train.device import resolve_device
from flowkit.train.evaluation import EVALUATION_SEED, evaluate
from flowkit.train.progress import progress_callbacks, results_summary
from flowkit.train.state import TrainState
from flowkit.train.topology import Topology, default_topology
from flowkit.train.trainer import Callback, TrainResult, fit

#: Training options that ``--resume`` may change (they do not change the model or the data).
RESUMABLE_OVERRIDES = ("epochs", "patience", "max_seconds", "device", "eval_batch_size", "threads")
#: Exit status of an interrupted run (the shell's convention for SIGINT).
EXIT_INTERRUPTED = 130
#: Exit status of a run that stopped on a non-finite loss.
EXIT_FAILED = 1


@dataclass
class RunOutcome:
    path: Path
    status: str
    results: dict[str, Any]
    train: TrainResult
    #: False when the file was left as it was (an extension of a completed run that did not
    #: complete: the file still holds the completed run).
    written: bool = True

    @property
    def shown(self) -> str:
        """The status to show: the file's, or that the file was left as it was."""
        return self.status if self.written else f"unchanged; extension {self.status}"

    @property
    def exit_code(self) -> int:
        return {"interrupted": EXIT_INTERRUPTED, "failed": EXIT_FAILED}.get(self.status, 0)


Echo = Callable[[str], None]


def start_run(
    registry,
    config: RunConfig,
    out: str | Path | None,
    *,
    force: bool = False,
    callbacks: Iterable[Callback] = (),
    progress: str = "auto",
    checkpoint_seconds: float = 60.0,
    topology: Topology | None = None,
    echo: Echo | None = None,
) -> RunOutcome:
    """Train ``config`` from scratch and write the run file ``out`` (None: a new file in
    ``runs/``, whose folder is created only once the configuration and data are checked)."""
    config.validate()
    check_components(registry, config.pipeline, config.pipeline_options)
    check_option_bounds(config.pipeline_options)
    main = (topology or default_topology()).is_main_process
    with contextlib.ExitStack() as claimed:
        if out is None:
            check_run_output(DEFAULT_RUN_FOLDER / "run.h5", default_folder=True)
        else:
            check_output(Path(out), force)
            claimed.enter_context(claim_output(out, enabled=main))  # until the last write
            if main:
                check_output(Path(out), force)  # again: no other run can create it now
        resolve_device(config.train.device)
        dataset = build_dataset(registry, config)
        splits = dataset.load()
        check_training_data(splits, dataset.info().levels)
        check_model_size(registry, config, dataset.event_shape)
        config.dataset_options = absolute_paths(dataset.options)
        torch.manual_seed(config.seed)  # the model's initial weights
        flow = build_start_flow(registry, config, dataset.event_shape)  # --init-from: weights
        path = Path(out) if out is not None else claim_default_path(config.pipeline, claimed, main)
        return _execute(
            registry,
            config,
            path,
            dataset,
            splits,
            flow,
            None,
            _now(),
            [],
            callbacks,
            progress,
            checkpoint_seconds,
            topology,
            echo,
        )


def resume_run(
    registry,
    path: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    callbacks: Iterable[Callback] = (),
    progress: str = "auto",
    checkpoint_seconds: float = 60.0,
    topology: Topology | None = None,
    echo: Echo | None = None,
) -> RunOutcome:
    """Continue an interrupted (or killed) run from its last checkpoint, in the same file."""
    path = Path(path)
    main = (topology or default_topology()).is_main_process
    if path.exists():
        check_run_output(path)  # the lock file goes next to it
    with claim_output(path, enabled=main and path.exists()):  # read it only once it is ours
        return _resume(
            registry, path, overrides, callbacks, progress, checkpoint_seconds, topology, echo
        )


def _resume(registry, path, overrides, callbacks, progress, checkpoint_seconds, topology, echo):
    record = read_run_record(path)
    check_resumable(path, record, overrides or {})  # a completed run: only to go further
    state = read_train_state(record, path)
    check_resume_epochs(state, overrides or {}, path)
    flow = resumable_flow(registry, record, state, path)  # every tensor checked against it
    config = record.config
    for key, value in (overrides or {}).items():
        if key not in RESUMABLE_OVERRIDES:
            raise ConfigurationError(
                f"--resume continues a run with its own configuration; {key} cannot be changed "
                f"(can be: {', '.join(RESUMABLE_OVERRIDES)})"
            )
        setattr(config.train, key, value)
    config.validate()
    check_components(registry, config.pipeline, config.pipeline_options)
    resolve_device(config.train.device)
    dataset = build_dataset(registry, config)
    splits = dataset.load()
    if dataset.info().checksum != record.dataset_info.checksum:
        raise DataError(
            f"the {config.dataset} data found now differs from the data {path} was trained on "
            "(checksum mismatch); cannot resume on other data"
        )
    return _execute(
        registry,
        config,
        path,
        dataset,
        splits,
        flow,
        state,
        record.created,
        [*record.resumed_after, state.epoch],
        callbacks,
        progress,
        checkpoint_seconds,
        topology,
        echo,
        extending=record.status == "completed",
    )


def _execute(
    registry,
    config,
    path,
    dataset,
    splits,
    flow,
    state,
    created,
    resumed_after,
    callbacks,
    progress,
    checkpoint_seconds,
    topology,
    echo,
    extending=False,
) -> RunOutcome:
    topology = topology or default_topology()
    main = topology.is_main_process
    say = echo if (echo is not None and main) else (lambda _text: None)
    device = resolve_device(config.train.device)
    info = dataset.info()
    environment = collect_environment(registry, config, device, topology)
    parameters = sum(p.numel() for p in flow.parameters())
    say(f"data: {_describe(dataset)}")
    say(
        f"model: {_describe_model(config)}, {parameters:,} parameters, on "
        f"{environment['versions']['device']}"
    )
    say(("continuing " if state is not None else "writing ") + str(path))

    def record(
        status: str,
        history,
        best_model,
        checkpoint,
        results=None,
        samples=None,
        spectrum=None,
        message="",
    ) -> RunRecord:
        return RunRecord(
            status=status,
            created=created,
            updated=_now(),
            config=config,
            dataset_info=info,
            environment=environment,
            history=history,
            model=best_model,
            checkpoint=checkpoint,
            results=results or {},
            samples=samples or {},
            spectrum=spectrum,
            message=message,
            resumed_after=resumed_after,
        )

    def running(state: TrainState, status: str = "running", message: str = "") -> RunRecord:
        return record(status, state.history, state.best_model, state, message=message)

    write = RunWriter(path, write_run_file, main, state.epoch if state is not None else None)
    # Extending a completed run: no checkpoint replaces the completed file (flowkit.run.extend).
    checkpointer = Checkpointer(
        lambda state: None if extending else write(running(state)), checkpoint_seconds
    )
    all_callbacks = [checkpointer, *(progress_callbacks(progress) if main else []), *callbacks]
    open_trackers(all_callbacks, path, config, info, state.epoch if state else 0, main)
    with run_signals(topology) as signals:  # one handler to the end; its phase says what it does
        signals.train()
        try:
            result = fit(
                flow,
                splits,
                info.levels,
                config.train,
                callbacks=all_callbacks,
                state=state,
                topology=topology,
            )
        except Exception as err:
            signals.hold()
            failure = f"{type(err).__name__}: {err}"
            if checkpointer.latest is not None and not extending:
                with contextlib.suppress(Exception):  # keep the original error in view
                    write(running(checkpointer.latest, "failed", failure))
            if main:  # the trackers' runs end too, marked failed
                finish_trackers(all_callbacks, "failed", {"message": failure})
            if extending:
                raise ExtensionFailedError(
                    f"training further failed ({failure}); {_unchanged(path, state)}"
                ) from err
            raise
        status, message, warning = final_status(result, math.prod(info.event_shape))
        if status == "failed" or warning:
            warnings.warn(warning or message, FlowkitWarning, stacklevel=2)
        if status != "failed":
            say(f"stopped: {message}")
        results = {**results_of(result, parameters, device), "message": message}
        samples, spectrum = {}, None
        try:
            signals.finish()  # a stop asked for after the last step interrupts here
            topology.synchronize(flow)  # every process evaluates the weights rank 0 saves
            test = evaluate(
                flow,
                splits.test,
                info.levels,
                topology=topology,
                batch_size=config.train.eval_batch_size,
            )
            results.update(test.as_dict("test_"), evaluation_seed=EVALUATION_SEED)
            samples = draw_samples(flow, config, info.event_shape, device)
            spectrum = scaling_spectrum(flow)
            signals.hold()  # the file is finished whatever arrives now
        except KeyboardInterrupt:
            signals.interrupted()
            status = "interrupted" if status == "completed" else status
            results["message"] = message + "; interrupted: test evaluation skipped"
        # Kept when completed too, so that --resume --epochs N can extend the run.
        checkpoint = result.state if status in ("interrupted", "completed") else None
        final = (result.history, result.best_model, checkpoint, results, samples, spectrum)
        written = not extending or extension_replaces_file(status, results)
        if written:
            write(record(status, *final, message=results["message"]))
        else:
            warnings.warn(f"{status}: {_unchanged(path, state)}", FlowkitWarning, stacklevel=2)
        if written and "test_log_likelihood_nats" in results:
            say(results_summary(results))
        if main:
            notify_finished(registry, all_callbacks, path, status, results)
        signals.report(path, status if written else "unchanged")
    return RunOutcome(path, status, results, result, written)


def _unchanged(path: Path, state: TrainState) -> str:
    return f"{path} is unchanged: it holds the completed run of {state.epoch} epoch(s)"


def _describe(dataset: Dataset) -> str:
    describe = getattr(dataset, "describe", None)
    if callable(describe):
        return describe()
    info = dataset.info()
    return f"{info.name} ({info.variant}): {info.sizes}"


def _describe_model(config: RunConfig) -> str:
    options = config.pipeline_options
    if {"layers", "coupling"} <= set(options):
        return f"{config.pipeline}, {options['layers']} {options['coupling']} coupling layer(s)"
    return config.pipeline


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "RESUMABLE_OVERRIDES",
    "RunOutcome",
    "check_output",
    "collect_environment",
    "default_run_path",
    "draw_samples",
    "resume_run",
    "scaling_spectrum",
    "start_run",
]
