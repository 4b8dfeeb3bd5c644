"""``flowkit report RUN.h5 --out DIR``: the figures of a run as PNG files.

- ``learning_curves.png``: train and validation NLL (nats per example) per epoch;
- ``bits_per_dim.png``: the same in bits/dim;
- ``samples.png``: an image grid, or a scatter plot over the test data for 2-D data;
- ``spectrum.png``: the sorted scaling coefficients ``exp(s)`` (NICE, arXiv 1410.8516, Fig. 8),
  when the model has a scaling layer.

Works on any readable run file, an interrupted one included (curves of the epochs so far,
samples of the best model so far).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import click
import numpy as np

from flowkit import ConfigurationError, FlowkitError, check_count, check_temperature
from flowkit.apps.inpainting import image_shape
from flowkit.cli import get_registry
from flowkit.cli.outputs import check_new_output, check_run_file
from flowkit.cli.params import SEED
from flowkit.io.space import check_writable_folder
from flowkit.run.checks import check_sample_budget
from flowkit.train.device import DEVICE_HELP
from flowkit_builtins.commands.sample import draw_samples

FILES = ("learning_curves.png", "bits_per_dim.png", "samples.png", "spectrum.png")


def metric_curves(metrics: dict[str, np.ndarray], quantity: str) -> dict[str, np.ndarray]:
    """The per-epoch metrics whose name contains ``quantity`` (``nll``, ``bits_per_dim``),
    labelled ``train`` / ``validation`` by their prefix (``train_nll_nats``, ``valid_nll_nats``)
    and by their own name otherwise."""
    curves = {}
    for name, values in sorted(metrics.items(), key=lambda item: not item[0].startswith("train")):
        if quantity not in name:
            continue
        label = (
            "train"
            if name.startswith("train")
            else ("validation" if name.startswith("valid") else name)
        )
        curves[label if label not in curves else name] = np.asarray(values, dtype=np.float64)
    return curves


def model_spectrum(run) -> np.ndarray | None:
    """The run's stored spectrum, else that of the loaded model's last scaling layer."""
    if run.spectrum is not None and np.size(run.spectrum):
        return np.asarray(run.spectrum)
    layers = [m for m in run.flow.transform.modules() if callable(getattr(m, "spectrum", None))]
    if not layers:
        return None
    return np.asarray(layers[-1].spectrum().detach().cpu(), dtype=np.float64).ravel()


def reference_points(run, registry, limit: int = 2000) -> np.ndarray | None:
    """Test points drawn under the samples of 2-D data (None when the data cannot be loaded)."""
    if run.features != 2 or len(run.event_shape) != 1:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            test = run.load_dataset(registry).load().test.numpy()
    except FlowkitError:
        return None
    return test[:limit].reshape(-1, 2)


@click.command("report")
@click.argument("run_file", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for the figures (created if missing).",
)
@click.option(
    "-n",
    "--num-samples",
    "count",
    type=int,
    default=None,
    help="Samples to draw [default: 64 for images, 1000 otherwise].",
)
@click.option(
    "-t",
    "--temperature",
    type=float,
    default=1.0,
    show_default=True,
    help="Sampling temperature (multiplies the prior's standard deviation).",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Sampling seed.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--force", is_flag=True, help="Overwrite figures already in the folder.")
def command(
    run_file: Path,
    out_dir: Path,
    count: int | None,
    temperature: float,
    seed: int,
    device: str,
    force: bool,
) -> None:
    """Write learning curves, samples and the scaling spectrum of RUN_FILE as PNG files."""
    from flowkit.apps import figures
    from flowkit.io.runfile import load_run

    if count is not None:
        count = check_count(count)
    temperature = check_temperature(temperature)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigurationError(f"output {out_dir} exists and is not a folder")
    if not out_dir.parent.is_dir():
        raise ConfigurationError(
            f"cannot create {out_dir}: folder {out_dir.parent} does not exist"
        )
    check_writable_folder(out_dir if out_dir.is_dir() else out_dir.parent)
    if out_dir.is_dir():
        for name in FILES:
            check_new_output(out_dir / name, force)
    check_run_file(run_file)
    registry = get_registry()
    run = load_run(run_file, registry, device=device)
    if count is not None:
        check_sample_budget(count, run.features)

    name = f"{run.dataset_info['name']}, {run.config.get('pipeline', 'run')} ({run.status})"
    epochs = run.metrics.get("epoch")
    best_epoch = run.results.get("best_epoch")
    best_epoch = int(best_epoch) if best_epoch is not None and best_epoch > 0 else None
    valid = metric_curves(run.metrics, "nll").get("validation", np.array([]))
    if best_epoch is None and np.isfinite(valid).any():  # interrupted: the best epoch so far
        best = int(np.nanargmin(np.where(np.isfinite(valid), valid, np.nan)))
        best_epoch = int(epochs[best]) if epochs is not None and len(epochs) > best else best + 1
    pending = {
        "learning_curves.png": figures.learning_curves_figure(
            metric_curves(run.metrics, "nll"),
            epochs=epochs,
            best_epoch=best_epoch,
            resumed_after=run.record.resumed_after,
            ylabel="negative log-likelihood (nats per example)",
            title=f"learning curves: {name}",
        ),
        "bits_per_dim.png": figures.learning_curves_figure(
            metric_curves(run.metrics, "bits_per_dim"),
            epochs=epochs,
            best_epoch=best_epoch,
            resumed_after=run.record.resumed_after,
            ylabel="bits/dim",
            title=f"bits/dim: {name}",
        ),
    }
    count = count or (64 if image_shape(run.event_shape) is not None else 1000)
    samples = draw_samples(run.flow, count, temperature, seed)
    pending["samples.png"] = figures.samples_figure(
        samples,
        run.event_shape,
        run.levels,
        f"{count} samples, temperature {temperature:g}: {name}",
        reference=reference_points(run, registry),
    )
    spectrum = model_spectrum(run)
    if spectrum is not None:
        pending["spectrum.png"] = figures.spectrum_figure(
            spectrum, title=f"scaling spectrum exp(s), sorted: {name}"
        )

    out_dir.mkdir(exist_ok=True)
    for file_name, figure in pending.items():
        figures.save_figure(figure, out_dir / file_name)
        click.echo(str(out_dir / file_name))


__all__ = ["FILES", "command", "metric_curves", "model_spectrum"]
