"""``flowkit bench``: compare coupling laws in the same pipeline, data, seeds and budget."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from flowkit import ConfigurationError
from flowkit.bench.options import (
    DEFAULT_MODELS,
    MAX_REPEATS,
    MAX_SPEED_ROUNDS,
    check_law,
    default_model,
)
from flowkit.bench.report import format_table, save_comparison_figure
from flowkit.bench.runner import (
    AMP_DTYPES,
    DEFAULT_COUPLINGS,
    BenchOptions,
    run_bench,
)
from flowkit.cli import get_registry
from flowkit.cli.params import SEED, Count
from flowkit.io.benchfile import read_bench_file, write_bench_file
from flowkit.io.space import check_writable_folder
from flowkit.run.config import parse_assignment, resolve_dataset
from flowkit.train.device import DEVICE_HELP
from flowkit.train.precision import PRECISIONS

_positive = click.IntRange(min=1)
#: Bench's flags that set a model option of the same name, where the pipeline has one.
MODEL_FLAGS = ("layers", "hidden", "depth")


def _bench_default(flag: str) -> str:
    """``--FLAG``'s defaults, per built-in pipeline that has the option (for --help)."""
    shown = [f"{name} {model[flag]}" for name, model in DEFAULT_MODELS.items() if flag in model]
    return ", ".join(shown)


def _check_output(path: Path, force: bool, what: str) -> None:
    if path.is_dir():
        raise ConfigurationError(f"{what} {path} is a folder; give a file name")
    if path.exists() and not force:
        raise ConfigurationError(f"{what} {path} already exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        raise ConfigurationError(f"cannot write {path}: folder {path.parent} does not exist")
    check_writable_folder(path.parent)


def _model_options(pipeline: str, declared: dict, o: dict) -> dict:
    """The pipeline options every law gets: bench's small model for ``pipeline``, then the
    model flags given, then ``--set``. A flag the pipeline has no option for is an error
    (never silently dropped); an unknown ``--set`` name fails when the options are resolved."""
    model = default_model(pipeline, declared)
    for flag in MODEL_FLAGS:
        if o[flag] is None:
            continue
        if flag not in declared:
            raise ConfigurationError(
                f"--{flag}: pipeline {pipeline!r} has no option {flag!r} (its options: "
                f"{', '.join(sorted(declared))}; set them with --set KEY=VALUE)"
            )
        model[flag] = o[flag]
    for text in o["assignments"]:
        key, value = parse_assignment(text)
        model[key] = value
    return model


def _command_line(ctx: click.Context) -> list[str]:
    """``flowkit bench`` with the options the user gave (not the defaults)."""
    words = ["flowkit", "bench"]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if source is None or source == ParameterSource.DEFAULT:
            continue
        value = ctx.params[param.name]
        flag = param.opts[-1] if param.opts[-1].startswith("--") else param.opts[0]
        if getattr(param, "is_flag", False):
            words += [flag] if value else []
        elif getattr(param, "multiple", False):
            for item in value:
                words += [flag, str(item)]
        else:
            words += [flag, str(value)]
    return words


@click.command("bench")
@click.option(
    "--pipeline",
    default="nice",
    show_default=True,
    metavar="NAME",
    help="The model every law is trained in: nice (flat couplings), realnvp or glow (image "
    "couplings: the data must be images), maf (masked autoregressive), or a plugin's.",
)
@click.option(
    "--couplings",
    default=",".join(DEFAULT_COUPLINGS),
    show_default=True,
    metavar="A,B,...",
    help="Coupling laws to compare (any registered by name).",
)
@click.option(
    "--dataset",
    default="digits",
    show_default=True,
    metavar="NAME|PATH",
    help="A registered dataset or a data file (.npy, .npz, .csv, .h5).",
)
@click.option(
    "--data-dir", type=click.Path(file_okay=False), help="Where the dataset looks for its files."
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
    help="Seed of the train/validation/test split (the same for every law and repeat).",
)
@click.option(
    "--repeats",
    type=Count(MAX_REPEATS),
    default=3,
    show_default=True,
    help="Seeds per law (seed, seed+1, ...): the spread is over these.",
)
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seed of the first repeat (the others: seed+1, ...): weights, shuffling, noise.",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Epochs per training run.",
)
@click.option(
    "--max-time",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Training-time budget per run (checked after each epoch); with it, --epochs "
    "is only a cap.",
)
@click.option(
    "--patience",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Early stopping (0 = train the whole budget; the best validation epoch is "
    "kept either way).",
)
@click.option(
    "--layers",
    type=_positive,
    show_default=_bench_default("layers"),
    help="Coupling layers of every compared model (an error for a pipeline without a "
    "layers option, e.g. glow: --set steps=N).",
)
@click.option(
    "--hidden",
    type=_positive,
    show_default=_bench_default("hidden"),
    help="Width of the conditioners (NICE paper, MNIST: 1000).",
)
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    show_default=_bench_default("depth"),
    help="Hidden layers of the conditioner MLPs (NICE paper: 5; not in realnvp or glow).",
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any other option of the chosen pipeline (JSON values), for every law.",
)
@click.option(
    "--batch-size",
    type=_positive,
    default=256,
    show_default=True,
    help="Examples per optimiser step.",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-3,
    show_default=True,
    help="Adam learning rate.",
)
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option(
    "--speed-rounds",
    type=Count(MAX_SPEED_ROUNDS),
    default=3,
    show_default=True,
    help="Interleaved timing rounds (the median is reported).",
)
@click.option(
    "--compile",
    "use_compile",
    is_flag=True,
    help="Time the training step and log_prob through torch.compile.",
)
@click.option(
    "--amp",
    type=click.Choice(sorted(AMP_DTYPES)),
    help="Time under torch.autocast with this dtype (training stays float32: NICE "
    "trained with bf16 MLPs lost 0.4 bits/dim on MNIST).",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="fp32",
    show_default=True,
    help="Training precision of every run (bf16-mixed: hidden MLP layers in bfloat16; "
    "tf32: CUDA); test likelihoods are evaluated in float32.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default="bench.h5",
    show_default=True,
    help="The bench file to write.",
)
@click.option(
    "--figure",
    type=click.Path(dir_okay=False),
    help="Comparison figure [default: next to --out, .png].",
)
@click.option("--no-figure", is_flag=True, help="Do not draw the figure.")
@click.option("--force", is_flag=True, help="Overwrite --out and the figure.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the table.")
@click.pass_context
def command(ctx: click.Context, **o) -> None:
    """Train the same model (--pipeline, NICE by default) once per coupling law; compare them.

    Every law gets the same data, split, seeds, model size and budget. Reports test NLL
    (nats, bits/dim; mean and spread over --repeats seeds), training / log_prob / sampling
    speed, round-trip error, peak memory, parameters and diverged runs; writes the bench file
    (--out) and a comparison figure.
    """
    registry = get_registry(ctx)
    pipeline = o["pipeline"]
    declared = registry.get("pipeline", pipeline).defaults  # a typo fails here, with suggestions
    model = _model_options(pipeline, declared, o)
    couplings = tuple(name.strip() for name in o["couplings"].split(",") if name.strip())
    for law in couplings:
        check_law(registry, pipeline, law)  # a typo fails here, with suggestions
    out = Path(o["out"])
    figure = None if o["no_figure"] else Path(o["figure"] or out.with_suffix(".png"))
    _check_output(out, o["force"], "--out")
    if figure is not None:
        _check_output(figure, o["force"], "--figure")
        if figure.resolve() == out.resolve():
            raise ConfigurationError("--figure and --out name the same file")
    dataset, dataset_options = resolve_dataset(registry, o["dataset"])
    for text in o["dataset_assignments"]:
        key, value = parse_assignment(text)
        dataset_options[key] = value
    options = BenchOptions(
        couplings=couplings,
        pipeline=pipeline,
        pipeline_options=model,
        dataset=dataset,
        dataset_options=dataset_options,
        data_dir=o["data_dir"],
        split_seed=o["split_seed"],
        repeats=o["repeats"],
        seed=o["seed"],
        epochs=o["epochs"],
        max_seconds=o["max_time"],
        patience=o["patience"],
        batch_size=o["batch_size"],
        lr=o["lr"],
        device=o["device"],
        speed_rounds=o["speed_rounds"],
        compile=o["use_compile"],
        amp=o["amp"],
        precision=o["precision"],
    )
    echo = None if o["quiet"] else (lambda text: click.echo(text, err=True))
    result = run_bench(registry, options, echo=echo)
    write_bench_file(out, result, command=_command_line(ctx))
    record = read_bench_file(out)
    click.echo(format_table(record))
    if figure is not None:
        save_comparison_figure(record, figure)
    if not o["quiet"]:
        shown = f" and {figure}" if figure is not None else ""
        click.echo(f"bench file: {out}{shown} ({result.seconds:.0f} s)", err=True)
