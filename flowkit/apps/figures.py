"""Figures of a run: image grids, 2-D scatter plots, learning curves, the scaling spectrum, and
the inpainting figure (NICE, Dinh, Krueger, Bengio 2014, arXiv 1410.8516: Figs. 5, 6, 8).

Everything draws on :class:`matplotlib.figure.Figure` objects rendered by the Agg canvas: no
pyplot, no display, no global backend switch (importing this module inside a notebook changes
nothing). :func:`save_figure` writes through a temporary file, so an interrupted save never
leaves a half-written image behind.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from flowkit.extras import require
from flowkit.io.atomic import atomic_path

require("matplotlib", extra="plots", feature="figures")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402 - after the check
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from flowkit.apps.inpainting import image_shape  # noqa: E402

#: Colour of hidden pixels in the "masked input" row of the inpainting figure.
HIDDEN_COLOUR = (0.85, 0.25, 0.25)


def new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``figure`` to ``path`` atomically (a temporary file, then ``os.replace``).

    The format follows the suffix (``.png``, ``.pdf``, ``.svg``, ...).
    """
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as temporary, open(temporary, "xb") as stream:
        figure.savefig(stream, format=suffix, bbox_inches="tight")
    return path


def tile_images(
    images: np.ndarray, columns: int | None = None, padding: int = 1, fill: float = 1.0
) -> np.ndarray:
    """Tile ``[n, height, width]`` (or ``[n, height, width, 3]``) images into one array.

    ``columns`` defaults to a near-square grid; gaps and empty cells get ``fill``.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"expected images [n, height, width(, 3)], got shape {images.shape}")
    count, height, width = images.shape[:3]
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding)
        + images.shape[3:],
        fill,
        dtype=np.float32,
    )
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def image_grid_figure(
    images: np.ndarray,
    *,
    value_range: tuple[float, float] = (0.0, 1.0),
    title: str | None = None,
    columns: int | None = None,
) -> Figure:
    """A grid of grey-scale images ``[n, height, width]`` (paper Fig. 5); values outside
    ``value_range`` are clipped."""
    low, high = value_range
    grid = tile_images(np.clip(images, low, high), columns=columns, fill=high)
    aspect = grid.shape[1] / grid.shape[0]
    figure = new_figure(min(12.0, 6.0 * aspect), 6.0)
    axes = figure.add_subplot()
    axes.imshow(grid, cmap="gray", vmin=low, vmax=high, interpolation="nearest")
    axes.set_axis_off()
    if title:
        axes.set_title(title)
    return figure


def scatter_figure(
    points: np.ndarray,
    *,
    reference: np.ndarray | None = None,
    title: str | None = None,
    labels: tuple[str, str] = ("samples", "data"),
) -> Figure:
    """Scatter plot of 2-D points, optionally over ``reference`` points (e.g. the test data)."""
    points = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    if points.shape[1] != 2:
        raise ValueError(f"a scatter plot needs 2-D points, got shape {points.shape}")
    figure = new_figure(6.0, 6.0)
    axes = figure.add_subplot()
    size = max(1.0, min(12.0, 3000.0 / max(len(points), 1)))
    if reference is not None:
        reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
        axes.scatter(
            reference[:, 0],
            reference[:, 1],
            s=size,
            c="0.7",
            alpha=0.6,
            label=labels[1],
            linewidths=0,
        )
    axes.scatter(
        points[:, 0], points[:, 1], s=size, c="tab:blue", alpha=0.8, label=labels[0], linewidths=0
    )
    if reference is not None:
        axes.legend(loc="upper right", markerscale=max(1.0, 30.0 / size))
    axes.set_aspect("equal", adjustable="datalim")
    axes.set_xlabel("x1")
    axes.set_ylabel("x2")
    if title:
        axes.set_title(title)
    return figure


def histogram_figure(values: np.ndarray, *, title: str | None = None) -> Figure:
    """Histogram of 1-D samples."""
    figure = new_figure(6.0, 4.0)
    axes = figure.add_subplot()
    axes.hist(np.asarray(values, dtype=np.float64).ravel(), bins=60, color="tab:blue")
    axes.set_xlabel("x")
    axes.set_ylabel("count")
    if title:
        axes.set_title(title)
    return figure


def pairs_figure(points: np.ndarray, *, title: str | None = None, max_dims: int = 4) -> Figure:
    """Pairwise scatter plots of the first ``max_dims`` coordinates of vector samples; when
    the data has more, the figure says which it shows."""
    points = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    total = points.shape[1]
    points = points[:, :max_dims]
    dims = points.shape[1]
    if total > dims:
        shown = f"dimensions x1-x{dims} of {total}"
        title = f"{title} ({shown})" if title else shown
    figure = new_figure(2.5 * dims, 2.5 * dims)
    size = max(1.0, min(8.0, 2000.0 / max(len(points), 1)))
    for row in range(dims):
        for col in range(dims):
            axes = figure.add_subplot(dims, dims, row * dims + col + 1)
            if row == col:
                axes.hist(points[:, col], bins=40, color="tab:blue")
            else:
                axes.scatter(points[:, col], points[:, row], s=size, alpha=0.6, linewidths=0)
            if row == dims - 1:
                axes.set_xlabel(f"x{col + 1}")
            if col == 0:
                axes.set_ylabel(f"x{row + 1}")
    if title:
        figure.suptitle(title)
    return figure


def samples_figure(
    samples: np.ndarray,
    event_shape: Sequence[int],
    levels: int | None,
    title: str | None = None,
    reference: np.ndarray | None = None,
) -> Figure:
    """The figure that fits the data: an image grid, a 2-D scatter plot, a histogram (1-D) or
    pairwise scatter plots (other vectors)."""
    shape = image_shape(event_shape)
    count = len(samples)
    if shape is not None:
        images = samples.reshape(count, *shape)
        if levels is not None:
            value_range = (0.0, 1.0)  # dequantised pixels: (x + u) / levels
        else:
            finite = images[np.isfinite(images)]
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            value_range = (low, high) if low < high else (low - 0.5, low + 0.5)
        return image_grid_figure(images, value_range=value_range, title=title)
    flat = samples.reshape(count, -1)
    if flat.shape[1] == 2:
        return scatter_figure(flat, reference=reference, title=title)
    if flat.shape[1] == 1:
        return histogram_figure(flat, title=title)
    return pairs_figure(flat, title=title)


def learning_curves_figure(
    curves: Mapping[str, Sequence[float]],
    *,
    epochs: Sequence[float] | None = None,
    ylabel: str = "negative log-likelihood (nats)",
    title: str | None = None,
    best_epoch: int | None = None,
    resumed_after: Sequence[int] = (),
) -> Figure:
    """One line per curve (e.g. ``{"train": [...], "validation": [...]}``) against the epoch.

    ``epochs`` gives the x values (default 1, 2, ...). Non-finite values (a diverged epoch) are
    left out of the line. ``best_epoch`` marks the selected model with a dotted vertical line;
    each epoch of ``resumed_after`` (training stopped after it and was resumed) a dashed one
    between that epoch and the next.
    """
    figure = new_figure(7.0, 4.5)
    axes = figure.add_subplot()
    drawn, recorded = 0, 0
    for label, curve in curves.items():
        values = np.asarray(curve, dtype=np.float64).ravel()
        x = np.arange(1, len(values) + 1)
        if epochs is not None and len(epochs) == len(values):
            x = np.asarray(epochs, dtype=np.float64)
        recorded = max(recorded, len(values))
        finite = np.isfinite(values)
        if finite.any():
            axes.plot(
                x[finite],
                values[finite],
                marker="o" if finite.sum() < 30 else None,
                markersize=3,
                label=label,
            )
            drawn += 1
    if best_epoch is not None:
        axes.axvline(
            best_epoch, color="0.5", linestyle=":", label=f"selected (epoch {best_epoch})"
        )
    for i, epoch in enumerate(resumed_after):
        axes.axvline(
            epoch + 0.5,
            color="tab:red",
            linestyle="--",
            alpha=0.6,
            label="resumed" if i == 0 else "_nolegend_",
        )
    if drawn == 0:
        message = "no finite values recorded" if recorded else "no epoch completed yet"
        axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    if drawn or best_epoch is not None or resumed_after:
        axes.legend()
    if title:
        axes.set_title(title)
    return figure


def spectrum_figure(scales: np.ndarray, *, title: str | None = None) -> Figure:
    """The scaling coefficients ``exp(s)`` sorted in decreasing order (paper Fig. 8).

    A large ``exp(s_d)`` marks a dimension the model treats as unimportant (its latent
    coordinate varies little with the data), like a small eigenvalue in PCA.
    """
    scales = np.sort(np.asarray(scales, dtype=np.float64).ravel())[::-1]
    figure = new_figure(7.0, 4.5)
    axes = figure.add_subplot()
    axes.plot(np.arange(1, len(scales) + 1), scales, color="tab:blue")
    if np.all(scales > 0) and scales[0] > 2 * scales[-1]:
        axes.set_yscale("log")
        if scales[0] < 100 * scales[-1]:  # within two decades: plain numbers, not 2x10^0
            from matplotlib.ticker import FuncFormatter

            plain = FuncFormatter(lambda value, _pos: f"{value:g}")
            axes.yaxis.set_major_formatter(plain)
            axes.yaxis.set_minor_formatter(plain)
    else:  # a narrow range: plain tick labels (a log axis would print 1.804x10^0)
        axes.ticklabel_format(axis="y", style="plain", useOffset=False)
    axes.set_xlabel("dimension (sorted)")
    axes.set_ylabel("scale exp(s)")
    axes.grid(True, alpha=0.3, which="both")
    axes.set_title(title or "scaling spectrum (sorted exp(s), NICE Fig. 8)")
    return figure


def masked_images(
    images: np.ndarray, hidden: np.ndarray, value_range: tuple[float, float] = (0.0, 1.0)
) -> np.ndarray:
    """RGB copies of grey ``images`` ``[n, h, w]`` with the hidden pixels in a flat colour."""
    low, high = value_range
    grey = (np.clip(np.asarray(images, dtype=np.float32), low, high) - low) / (high - low)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    rgb[np.asarray(hidden, dtype=bool)] = HIDDEN_COLOUR
    return rgb


def inpainting_figure(
    original: np.ndarray,
    hidden: np.ndarray,
    inpainted: np.ndarray,
    *,
    value_range: tuple[float, float] = (0.0, 1.0),
    title: str | None = None,
) -> Figure:
    """Rows: the original images, the masked inputs (hidden pixels coloured), the inpainted
    images; one column per example (like paper Fig. 6). Arrays are ``[n, height, width]``."""
    rows = {
        "original": masked_images(original, np.zeros_like(hidden, dtype=bool), value_range),
        "masked input": masked_images(original, hidden, value_range),
        "inpainted": masked_images(inpainted, np.zeros_like(hidden, dtype=bool), value_range),
    }
    count, height, width = np.asarray(original).shape[:3]
    columns = min(count, 16)
    figure = new_figure(max(4.0, 0.9 * columns + 1.5), 3 * 0.9 * height / width + 0.8)
    for row, (label, images) in enumerate(rows.items()):
        strip = tile_images(images[:columns], columns=columns, padding=1, fill=1.0)
        axes = figure.add_subplot(3, 1, row + 1)
        axes.imshow(strip, vmin=0.0, vmax=1.0, interpolation="nearest")
        axes.set_xticks([])
        axes.set_yticks([])
        for spine in axes.spines.values():
            spine.set_visible(False)
        axes.set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        figure.suptitle(title)
    return figure


def log_likelihood_trace_figure(trace: np.ndarray, *, title: str | None = None) -> Figure:
    """The mean log-likelihood of the completed examples along the inpainting steps."""
    trace = np.asarray(trace, dtype=np.float64)
    figure = new_figure(7.0, 4.0)
    axes = figure.add_subplot()
    axes.plot(np.arange(len(trace)), trace.mean(axis=1) if trace.ndim == 2 else trace)
    axes.set_xlabel("step")
    axes.set_ylabel("mean log p(x) (nats)")
    axes.grid(True, alpha=0.3)
    if title:
        axes.set_title(title)
    return figure


__all__ = [
    "HIDDEN_COLOUR",
    "histogram_figure",
    "image_grid_figure",
    "inpainting_figure",
    "learning_curves_figure",
    "log_likelihood_trace_figure",
    "masked_images",
    "new_figure",
    "pairs_figure",
    "samples_figure",
    "save_figure",
    "scatter_figure",
    "spectrum_figure",
    "tile_images",
]
