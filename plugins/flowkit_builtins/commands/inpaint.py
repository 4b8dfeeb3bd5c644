"""``flowkit inpaint RUN.h5 --mask top --out fig.png``: NICE section 5.2 on test images.

Takes the first N images of the run's test split, hides the pixels of the mask, infers them by
projected noisy gradient ascent on the model's log-likelihood
(:func:`flowkit.apps.inpainting.inpaint`) and writes a figure like the paper's Fig. 6 (rows:
original, masked input, inpainted) plus the arrays (``<out>.npz`` by default, or
``--arrays PATH.h5``).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import click
import numpy as np

from flowkit import ConfigurationError, DataError, check_count
from flowkit.apps.inpainting import MASKS, inpaint, make_mask, require_image_shape
from flowkit.cli import get_registry
from flowkit.cli.outputs import (
    FIGURE_SUFFIXES,
    check_new_output,
    check_run_file,
    check_suffix,
    save_arrays,
)
from flowkit.cli.params import SEED, STEPS
from flowkit.train.device import DEVICE_HELP


def model_space(values: np.ndarray, levels: int | None) -> np.ndarray:
    """Raw test values in the model's input space: pixel bin centres ``(x + 1/2) / levels`` for
    quantised data (inside the dequantised range ``[0, 1]``), the values themselves otherwise."""
    values = np.asarray(values, dtype=np.float32)
    return (values + 0.5) / levels if levels is not None else values


def data_bounds(train: np.ndarray, levels: int | None) -> tuple[float, float]:
    """The range hidden pixels are projected onto: ``[0, 1]`` for dequantised data, the
    training data's range for continuous data."""
    if levels is not None:
        return (0.0, 1.0)
    low, high = float(np.min(train)), float(np.max(train))
    return (low, high) if low < high else (low - 0.5, high + 0.5)


@click.command("inpaint")
@click.argument("run_file", type=click.Path(path_type=Path))
@click.option(
    "--mask",
    "mask_name",
    required=True,
    metavar="NAME",
    help=f"Which pixels to hide and infer: {', '.join(MASKS)}.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="The figure (.png, .pdf, .svg, ...).",
)
@click.option(
    "--arrays",
    "arrays_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the arrays (.npz or .h5); default: --out with suffix .npz.",
)
@click.option(
    "-n",
    "--num-examples",
    "count",
    type=int,
    default=10,
    show_default=True,
    help="Number of test images.",
)
@click.option(
    "--steps",
    type=STEPS,
    default=500,
    show_default=True,
    help="Gradient-ascent steps (step size 10 / (100 + i)).",
)
@click.option(
    "--gradient-clip",
    type=float,
    default=1.0,
    show_default=True,
    help="Clip each gradient component to +- this many data ranges; 0 disables "
    "clipping (the paper's literal update, unstable on sharp models).",
)
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seeds the random masks, the initial guess and the noise.",
)
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
def command(
    run_file: Path,
    mask_name: str,
    out: Path,
    arrays_path: Path | None,
    count: int,
    steps: int,
    gradient_clip: float,
    seed: int,
    device: str,
    force: bool,
) -> None:
    """Inpaint test images of RUN_FILE's data under a mask (NICE section 5.2, Fig. 6)."""
    from flowkit.apps.figures import inpainting_figure, save_figure
    from flowkit.io.runfile import load_run

    if mask_name not in MASKS:
        close = difflib.get_close_matches(mask_name, list(MASKS), n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ConfigurationError(f"unknown mask {mask_name!r}{hint} (known: {', '.join(MASKS)})")
    count = check_count(count, "number of examples")
    if gradient_clip < 0:
        raise ConfigurationError(f"gradient clip must be >= 0, got {gradient_clip}")
    check_suffix(out, FIGURE_SUFFIXES, "figure")
    arrays_path = arrays_path or out.with_suffix(".npz")
    check_suffix(arrays_path, (".npz", ".h5", ".hdf5"), "arrays")
    if arrays_path.resolve() == out.resolve():
        raise ConfigurationError("--arrays and --out name the same file")
    check_new_output(out, force)
    check_new_output(arrays_path, force)
    check_run_file(run_file)

    run = load_run(run_file, get_registry(), device=device)
    try:
        shape = require_image_shape(run.event_shape)
    except DataError as err:
        raise DataError(f"cannot inpaint run {run_file.name}: {err}") from None
    splits = run.load_dataset(get_registry()).load()
    test = splits.test.numpy()
    if count > len(test):
        raise ConfigurationError(
            f"asked for {count} examples but the test split has only {len(test)}"
        )
    original = model_space(test[:count], run.levels).reshape(count, *shape)
    masks = make_mask(mask_name, shape, count=count, seed=seed)
    value_range = data_bounds(splits.train.numpy(), run.levels)
    result = inpaint(
        run.flow,
        original,
        masks,
        steps=steps,
        bounds=value_range,
        gradient_clip=gradient_clip or None,
        seed=seed,
    )
    trace = result.log_likelihood.mean(axis=1)

    title = f"inpainting, mask {mask_name}, {steps} steps"
    if not gradient_clip:
        title += " (literal update, no clipping)"
    save_figure(
        inpainting_figure(
            result.original, result.mask, result.inpainted, value_range=value_range, title=title
        ),
        out,
    )
    attrs = {
        "mask_name": mask_name,
        "steps": steps,
        "seed": seed,
        "run_file": str(run_file),
        "gradient_clip": gradient_clip,
        "levels": run.levels,
        "bounds": np.asarray(value_range, dtype=np.float64),
    }
    save_arrays(arrays_path, result.as_dict(), attrs)
    click.echo(
        f"inpainted {count} test images (mask {mask_name}, {steps} steps): mean log-likelihood "
        f"{trace[0]:.2f} -> {trace[-1]:.2f} nats"
    )
    click.echo(f"wrote {out} and {arrays_path}")


__all__ = ["command", "data_bounds", "model_space"]
