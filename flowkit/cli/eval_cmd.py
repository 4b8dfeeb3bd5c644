"""``flowkit eval RUN.h5``: the mean log-likelihood of a run's selected model."""

from __future__ import annotations

import json

import click
import numpy as np
import torch

from flowkit.cli import get_registry
from flowkit.cli.params import Count
from flowkit.errors import DataError
from flowkit.io.runfile import load_run
from flowkit.metrics import bits_per_dim
from flowkit.run.config import RunConfig, require_data_range, resolve_dataset
from flowkit.train.device import DEVICE_HELP, resolve_device
from flowkit.train.evaluation import EVALUATION_SEED, evaluate

#: Most dequantisation draws of one ``eval`` (each is a pass over the test set).
MAX_DRAWS = 1000


@click.command("eval")
@click.argument("run_file", type=click.Path(dir_okay=False))
@click.option(
    "--data",
    metavar="NAME|PATH",
    help="Evaluate on every example (all splits) of "
    "this dataset or data file instead of the run's test split.",
)
@click.option(
    "--data-dir", type=click.Path(file_okay=False), help="Directory the --data dataset reads from."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Examples per forward pass (memory only: the numbers do not change).",
)
@click.option(
    "--draws",
    type=Count(MAX_DRAWS),
    default=1,
    show_default=True,
    metavar="K",
    help="Average the log-likelihood over K dequantisation noise draws (seeds 0..K-1) and "
    "report their spread; 1: the fixed draw of the run file's results.",
)
@click.pass_context
def command(
    ctx: click.Context,
    run_file: str,
    data: str | None,
    data_dir: str | None,
    as_json: bool,
    device: str,
    batch_size: int,
    draws: int,
) -> None:
    """Mean test log-likelihood (nats per example) and bits/dim of RUN_FILE's selected model.

    Quantised data is dequantised with a fixed seed, so the numbers repeat exactly and match the
    run file's results.
    """
    registry = get_registry(ctx)
    target = resolve_device(device)
    run = load_run(run_file, registry, device=target)
    if data is None:
        values = run.load_dataset(registry).load().test
        levels, source, split = run.levels, run.dataset_info["name"], "test"
    else:
        values, levels = _all_examples(registry, data, data_dir, run.run_config)
        source, split = data, "all"
        _check_compatible(run, values, levels, data)
    result = evaluate(run.flow, values, levels, batch_size=batch_size, device=target)
    draws = draws if levels is not None else 1  # continuous data has no noise to draw
    extra = [
        evaluate(run.flow, values, levels, batch_size=batch_size, device=target, seed=seed)
        for seed in range(EVALUATION_SEED + 1, EVALUATION_SEED + draws)
    ]
    per_draw = np.array([e.log_likelihood_nats for e in [result, *extra]])
    spread = float(per_draw.std(ddof=1)) if draws > 1 else float("nan")
    payload = {
        **result.as_dict(),
        "data": source,
        "split": split,
        "levels": levels,
        "features": run.features,
        "evaluation_seed": EVALUATION_SEED,
        "run_file": str(run.path),
        "status": run.status,
        "best_epoch": run.results.get("best_epoch"),
    }
    if draws > 1:
        mean = float(per_draw.mean())
        payload.update(
            draws=draws,
            draws_log_likelihood_nats=per_draw.tolist(),
            draws_mean_log_likelihood_nats=mean,
            draws_mean_bits_per_dim=bits_per_dim(mean, run.features, levels),
            draws_std_log_likelihood_nats=spread,
        )
    if as_json:
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(
        f"{result.bits_per_dim:.4f} ± {result.bits_per_dim_stderr:.4f} bits/dim, log-likelihood "
        f"{result.log_likelihood_nats:+.4f} nats/example ± {result.log_likelihood_stderr_nats:.2f}"
        f" (± one standard error over {result.examples} examples: {split} of {source})"
    )
    if draws > 1:
        mean = payload["draws_mean_log_likelihood_nats"]
        click.echo(
            f"over {draws} dequantisation draws: {payload['draws_mean_bits_per_dim']:.4f} "
            f"bits/dim, log-likelihood {mean:+.4f} nats/example (spread ± {spread:.4f} nats "
            f"between draws; the fixed draw above is {per_draw[0] - mean:+.4f} from the mean)"
        )
    if run.status != "completed":
        click.echo(
            f"note: this run is {run.status} (not completed): the model is the best of the "
            f"epochs trained so far (epoch {run.results.get('best_epoch', '?')}); "
            f"`flowkit run --resume {run.path}` continues it"
        )


def _all_examples(
    registry, spec: str, data_dir: str | None, config: RunConfig
) -> tuple[torch.Tensor, int | None]:
    name, options = resolve_dataset(registry, spec)
    dataset = registry.get("dataset", name)(data_dir=data_dir, **options)
    splits = require_data_range(registry, dataset, config).load()
    return torch.cat(list(splits)), dataset.levels


def _check_compatible(run, values: torch.Tensor, levels: int | None, spec: str) -> None:
    features = int(np.prod(values.shape[1:]))
    if features != run.features:
        raise DataError(
            f"{spec} has {features} dimensions per example (shape {tuple(values.shape[1:])}) "
            f"but the model of {run.path.name} takes {run.features} "
            f"(shape {run.event_shape})"
        )
    if levels != run.levels:

        def describe(n):
            return "continuous" if n is None else f"{n} levels"

        raise DataError(
            f"{spec} is {describe(levels)} but {run.path.name} was trained on "
            f"{describe(run.levels)} data: the densities are not comparable"
        )
