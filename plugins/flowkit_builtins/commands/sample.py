"""``flowkit sample RUN.h5 -n 64 --temperature 0.8 --out grid.png``: draw from a trained flow.

The output's suffix decides what is written: a figure (``.png``, ``.pdf``, ``.svg``, ...), an
image grid for image data, a scatter plot for 2-D data; or arrays (``.npy``; ``.npz``; ``.h5``
with dataset ``samples`` and attributes ``temperature``, ``n``, ``seed``, ``levels``).
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import torch

from flowkit import check_count, check_temperature
from flowkit.cli import get_registry
from flowkit.cli.outputs import (
    ARRAY_SUFFIXES,
    FIGURE_SUFFIXES,
    check_new_output,
    check_run_file,
    check_suffix,
    save_arrays,
)
from flowkit.cli.params import SEED
from flowkit.run.checks import check_sample_budget
from flowkit.train.device import DEVICE_HELP


def draw_samples(flow, count: int, temperature: float, seed: int) -> np.ndarray:
    """``count`` samples ``[count, features]`` at ``temperature``, reproducible under ``seed``
    and without disturbing the global random state."""
    device = next(iter(flow.parameters()), torch.zeros(())).device
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        samples = flow.sample(count, temperature=temperature)
    return samples.detach().cpu().numpy().astype(np.float32)


def quantize(samples: np.ndarray, levels: int) -> np.ndarray:
    """Model-space samples in ``[0, 1]`` back to integer levels ``0 .. levels - 1``."""
    return np.clip(np.floor(samples * levels), 0, levels - 1).astype(np.int64)


@click.command("sample")
@click.argument("run_file", type=click.Path(path_type=Path))
@click.option(
    "-n",
    "--num-samples",
    "count",
    type=int,
    default=64,
    show_default=True,
    help="Number of samples.",
)
@click.option(
    "-t",
    "--temperature",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiplies the prior's standard deviation (0.75-0.8 often looks best).",
)
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    help="Output: a figure (.png, .pdf, .svg, ...) or arrays (.npy, .npz, .h5).",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def command(
    run_file: Path, count: int, temperature: float, out: Path, seed: int, device: str, force: bool
) -> None:
    """Draw samples from the model of RUN_FILE (a figure or arrays, by the suffix of --out).

    Arrays hold the samples in the model's space, shape [n, *event_shape]: for quantised data
    that is [0, 1] (pixels dequantised as (x + u) / levels); .h5 files also hold them as
    integer levels (dataset `quantized`).
    """
    from flowkit.io.runfile import load_run

    count = check_count(count)
    temperature = check_temperature(temperature)
    suffix = check_suffix(out, FIGURE_SUFFIXES + ARRAY_SUFFIXES, "output")
    check_new_output(out, force)
    check_run_file(run_file)
    run = load_run(run_file, get_registry(), device=device)
    check_sample_budget(count, run.features)

    samples = draw_samples(run.flow, count, temperature, seed)
    shaped = samples.reshape(count, *run.event_shape)
    if suffix in ARRAY_SUFFIXES:
        arrays = {"samples": shaped}
        if suffix in (".h5", ".hdf5") and run.levels is not None:
            arrays["quantized"] = quantize(shaped, run.levels)
        attrs = {
            "temperature": temperature,
            "n": count,
            "seed": seed,
            "levels": run.levels,
            "run_file": str(run_file),
        }
        save_arrays(out, arrays, attrs)
    else:
        from flowkit.apps.figures import samples_figure, save_figure

        title = f"{count} samples, temperature {temperature:g} ({run.dataset_info['name']})"
        save_figure(samples_figure(samples, run.event_shape, run.levels, title), out)
    click.echo(f"wrote {count} samples (temperature {temperature:g}) to {out}")


__all__ = ["command", "draw_samples", "quantize"]
