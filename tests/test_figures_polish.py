"""Figures say what they show: spectrum ticks on a narrow range, the pair plot's dimensions."""

from __future__ import annotations

import matplotlib
import numpy as np

matplotlib.use("Agg")

from flowkit.apps.figures import pairs_figure, spectrum_figure


def test_spectrum_on_a_narrow_range_has_plain_linear_ticks():
    figure = spectrum_figure(np.linspace(1.80, 1.81, 20))
    axes = figure.axes[0]
    assert axes.get_yscale() == "linear"
    figure.canvas.draw()
    labels = [t.get_text() for t in axes.get_yticklabels() if t.get_text()]
    assert labels and all("10^" not in t and "times" not in t for t in labels)


def test_spectrum_over_decades_stays_logarithmic():
    assert spectrum_figure(np.logspace(-2, 2, 50)).axes[0].get_yscale() == "log"


def test_spectrum_within_a_decade_has_plain_log_tick_labels():
    figure = spectrum_figure(np.array([0.5, 4.0, 1.0, 2.0]))
    axes = figure.axes[0]
    assert axes.get_yscale() == "log"
    figure.canvas.draw()
    labels = [t.get_text() for t in axes.get_yticklabels(minor=True) if t.get_text()]
    assert labels and all("10^" not in t and "times" not in t for t in labels)


def test_pair_plot_says_which_dimensions_it_shows():
    points = np.random.default_rng(0).normal(size=(100, 10))
    assert pairs_figure(points, title="samples")._suptitle.get_text() == (
        "samples (dimensions x1-x4 of 10)"
    )
    assert pairs_figure(points[:, :3])._suptitle is None  # all of them: nothing to say
