"""A run from start to finish: data, model, training, evaluation, samples and the run file.

:func:`start_run` and :func:`resume_run` are what ``flowkit run`` calls; they are usable from
Python as well. Everything that can be wrong with the input is checked before the run file is
touched, so bad input never writes or changes a file.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from flowkit.datasets import Dataset
from flowkit.errors import ConfigurationError, DataError, FlowkitWarning
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
from flowkit.run.extend import build_start_flow, check_resumable
from flowkit.run.finish import Checkpointer, RunWriter, final_status, results_of
from flowkit.run.signals import hold_signals, sigterm_as_interrupt, stop_signals_request_stop
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

    @property
    def exit_code(self) -> int:
        return {"interrupted": EXIT_INTERRUPTED, "failed": EXIT_FAILED}.get(self.status, 0)


Echo = Callable[[str], None]


#: Where a run without ``--out`` is written: the one folder flowkit creates.
DEFAULT_RUN_FOLDER = Path("runs")


def default_run_path(pipeline: str, directory: str | Path = DEFAULT_RUN_FOLDER) -> Path:
    """``runs/<pipeline>-<local time>.h5``, not colliding with an existing file (the folder
    is created: the one folder flowkit creates, see flowkit.io.space)."""
    check_run_output(Path(directory) / "run.h5", default_folder=True)
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigurationError(f"cannot create the folder {directory}: {err.strerror}") from None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(directory) / f"{pipeline}-{stamp}.h5"
    counter = 2
    while path.exists():
        path = Path(directory) / f"{pipeline}-{stamp}-{counter}.h5"
        counter += 1
    return path


def check_output(path: Path, force: bool) -> None:
    if path.is_dir():
        raise ConfigurationError(f"--out {path} is a directory; give a file name such as run.h5")
    if path.exists() and not force:
        raise ConfigurationError(
            f"{path} already exists; use --force to overwrite it or --resume {path} to continue it"
        )
    check_run_output(path)


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
    if out is None:
        check_run_output(DEFAULT_RUN_FOLDER / "run.h5", default_folder=True)
    else:
        check_output(Path(out), force)
    resolve_device(config.train.device)
    dataset = build_dataset(registry, config)
    splits = dataset.load()
    check_training_data(splits, dataset.info().levels)
    check_model_size(registry, config, dataset.event_shape)
    config.dataset_options = absolute_paths(dataset.options)
    torch.manual_seed(config.seed)  # the model's initial weights
    flow = build_start_flow(registry, config, dataset.event_shape)  # --init-from: its weights
    path = Path(out) if out is not None else default_run_path(config.pipeline)
    created = _now()
    return _execute(
        registry,
        config,
        path,
        dataset,
        splits,
        flow,
        None,
        created,
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
    record = read_run_record(path)
    check_resumable(path, record, overrides or {})  # a completed run: only to go further
    state = read_train_state(record, path)
    check_resume_epochs(state, overrides or {}, path)
    check_run_output(path)
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
    checkpointer = Checkpointer(lambda state: write(running(state)), checkpoint_seconds)
    all_callbacks = [checkpointer, *(progress_callbacks(progress) if main else []), *callbacks]
    open_trackers(all_callbacks, path, config, info, state.epoch if state else 0, main)
    try:
        with stop_signals_request_stop(topology):
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
        failure = f"{type(err).__name__}: {err}"
        if checkpointer.latest is not None:
            with contextlib.suppress(Exception):  # keep the original error in view
                write(running(checkpointer.latest, "failed", failure))
        if main:  # the trackers' runs end too, marked failed
            finish_trackers(all_callbacks, "failed", {"message": failure})
        raise
    status, message = final_status(result)  # "failed" also when no epoch improved
    if status == "failed":
        warnings.warn(message, FlowkitWarning, stacklevel=2)
    else:
        say(f"stopped: {message}")
    results = {**results_of(result, parameters, device), "message": message}
    samples, spectrum = {}, None
    try:
        with sigterm_as_interrupt(topology):
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
    except KeyboardInterrupt:
        status = "interrupted" if status == "completed" else status
        results["message"] = message + "; interrupted: test evaluation skipped"
    # Kept when completed too, so that --resume --epochs N can extend the run.
    checkpoint = result.state if status in ("interrupted", "completed") else None
    final = (result.history, result.best_model, checkpoint, results, samples, spectrum)
    with hold_signals(topology) as held:  # the file is finished whatever arrives now
        write(record(status, *final, message=results["message"]))
        if "test_log_likelihood_nats" in results:
            say(results_summary(results))
        if main:
            notify_finished(registry, all_callbacks, path, status, results)
    if held.received:
        warnings.warn(
            f"{held.describe()} arrived while finishing: {path} is complete ({status})",
            FlowkitWarning,
            stacklevel=2,
        )
    return RunOutcome(path, status, results, result)


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
