"""Figures: image grids, scatter plots, learning curves, the spectrum and the inpainting figure."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest

from flowkit.apps import figures


def read_png(path):
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    return image


def test_tile_images_lays_out_a_near_square_grid():
    images = np.zeros((10, 4, 5))
    grid = figures.tile_images(images, padding=1)
    # 10 images -> 4 columns x 3 rows, each cell plus one pixel of padding, plus the border.
    assert grid.shape == (3 * 5 + 1, 4 * 6 + 1)
    assert grid[0].min() == 1.0 and grid[1:5, 1:6].max() == 0.0
    assert figures.tile_images(np.zeros((3, 2, 2, 3)), columns=3).shape == (4, 10, 3)
    with pytest.raises(ValueError):
        figures.tile_images(np.zeros((4, 4)))


def test_image_grid_png(tmp_path):
    images = np.random.default_rng(0).random((16, 8, 8))
    path = figures.save_figure(figures.image_grid_figure(images, title="t"), tmp_path / "g.png")
    image = read_png(path)
    assert image.shape[0] > 100 and image.shape[1] > 100
    # grey-scale content: the colour channels agree
    assert np.allclose(image[..., 0], image[..., 1], atol=0.02)


def test_scatter_histogram_and_pairs_pngs(tmp_path):
    rng = np.random.default_rng(0)
    paths = [
        figures.save_figure(
            figures.scatter_figure(rng.normal(size=(200, 2)), reference=rng.normal(size=(300, 2))),
            tmp_path / "s.png",
        ),
        figures.save_figure(figures.histogram_figure(rng.normal(size=100)), tmp_path / "h.png"),
        figures.save_figure(figures.pairs_figure(rng.normal(size=(100, 5))), tmp_path / "p.png"),
    ]
    for path in paths:
        read_png(path)
    with pytest.raises(ValueError, match="2-D points"):
        figures.scatter_figure(np.zeros((5, 3)))


def test_samples_figure_fits_the_data():
    rng = np.random.default_rng(0)
    images = figures.samples_figure(rng.random((4, 36)), (6, 6), levels=17)
    assert images.axes[0].get_images()[0].get_array().shape == (15, 15)  # 2 x 2 tiles of 6, 3 pads
    assert images.axes[0].get_images()[0].get_clim() == (0.0, 1.0)
    continuous = figures.samples_figure(rng.normal(size=(4, 6, 6)), (1, 6, 6), levels=None)
    low, high = continuous.axes[0].get_images()[0].get_clim()
    assert low < 0 < high
    scatter = figures.samples_figure(rng.normal(size=(50, 2)), (2,), levels=None)
    assert len(scatter.axes[0].collections) == 1
    assert len(figures.samples_figure(rng.normal(size=(50, 1)), (1,), None).axes) == 1
    assert len(figures.samples_figure(rng.normal(size=(50, 3)), (3,), None).axes) == 9


def test_learning_curves_skip_non_finite_values_and_mark_the_selected_epoch(tmp_path):
    curves = {"train": [5.0, 3.0, np.nan, 2.0], "validation": [5.5, 3.5, 3.0, 2.9]}
    figure = figures.learning_curves_figure(curves, epochs=[1, 2, 3, 4], best_epoch=4)
    axes = figure.axes[0]
    train_line = axes.get_lines()[0]
    assert list(train_line.get_xdata()) == [1, 2, 4]
    assert any(line.get_label().startswith("selected") for line in axes.get_lines())
    read_png(figures.save_figure(figure, tmp_path / "c.png"))
    # No epoch at all (a run interrupted before its first epoch) still gives a figure.
    empty = figures.learning_curves_figure({"train": [], "validation": []})
    read_png(figures.save_figure(empty, tmp_path / "empty.png"))


def test_spectrum_is_sorted_in_decreasing_order(tmp_path):
    scales = np.array([0.5, 4.0, 1.0, 2.0])
    figure = figures.spectrum_figure(scales)
    line = figure.axes[0].get_lines()[0]
    assert list(line.get_ydata()) == [4.0, 2.0, 1.0, 0.5]
    assert figure.axes[0].get_yscale() == "log"
    read_png(figures.save_figure(figure, tmp_path / "spectrum.png"))


def test_inpainting_figure_has_three_rows_and_colours_hidden_pixels(tmp_path):
    rng = np.random.default_rng(1)
    original = rng.random((5, 8, 8))
    hidden = np.zeros((5, 8, 8), dtype=bool)
    hidden[:, :4] = True
    masked = figures.masked_images(original, hidden)
    assert masked.shape == (5, 8, 8, 3)
    assert np.allclose(masked[hidden], figures.HIDDEN_COLOUR)
    assert np.allclose(masked[~hidden][:, 0], original[~hidden])
    figure = figures.inpainting_figure(original, hidden, rng.random((5, 8, 8)), title="top")
    assert [a.get_ylabel() for a in figure.axes] == ["original", "masked input", "inpainted"]
    read_png(figures.save_figure(figure, tmp_path / "inpaint.png"))
    read_png(
        figures.save_figure(
            figures.log_likelihood_trace_figure(rng.random((11, 5))), tmp_path / "trace.png"
        )
    )


def test_save_figure_is_atomic_and_follows_the_suffix(tmp_path):
    figure = figures.scatter_figure(np.zeros((3, 2)))
    figures.save_figure(figure, tmp_path / "f.pdf")
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")
    with pytest.raises(ValueError):
        figures.save_figure(figure, tmp_path / "f.unknownformat")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.pdf"]  # no temporary left behind
