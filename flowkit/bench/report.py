"""Showing a bench file: the comparison table (one row per coupling law) and figure.

Both read a :class:`flowkit.io.benchfile.BenchRecord`, so what is shown is what the file holds;
both name the pipeline the laws were trained in.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from flowkit.io.benchfile import BenchRecord

_MIB = 1024.0 * 1024.0


def _spread(mean: float, std: float, digits: int) -> str:
    if not math.isfinite(mean):
        return "n/a"
    if not math.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _rate(value: float) -> str:
    return f"{value:,.0f}" if math.isfinite(value) else "n/a"


def format_table(record: BenchRecord) -> str:
    """A plain-text table, laws in rows; the note under it names the pipeline and says what
    each number is."""
    header = [
        "law",
        "params",
        "test NLL (nats)",
        "bits/dim",
        "train/s",
        "% bound",
        "log_prob/s",
        "sample/s",
        "round trip",
        "peak MiB",
        "diverged",
    ]
    rows = []
    for law, s in record.summaries.items():
        fraction = s.get("train_fraction_of_matmul_bound", math.nan)
        rows.append(
            [
                law,
                f"{int(s['parameters']):,}",
                _spread(s["test_nll_mean"], s["test_nll_std"], 2),
                _spread(s["test_bits_per_dim_mean"], s["test_bits_per_dim_std"], 3),
                _rate(s["train_samples_per_s"]),
                f"{fraction:.0%}" if math.isfinite(fraction) else "n/a",
                _rate(s["log_prob_samples_per_s"]),
                _rate(s["sample_samples_per_s"]),
                f"{s['round_trip_max_error']:.1e}"
                if math.isfinite(s["round_trip_max_error"])
                else "n/a",
                f"{s['peak_memory_bytes'] / _MIB:,.0f}",
                f"{int(s['diverged'])}/{int(s['repeats'])}",
            ]
        )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        return "  ".join([first] + [f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:])])

    attrs = record.attrs
    options = attrs.get("options", {})
    repeats = options.get("repeats", "?")
    notes = [
        f"pipeline: {record.pipeline}, every law with the same model options and budget. "
        f"NLL: mean ± sd over {repeats} seed(s) of the selected (best validation) model on the "
        "test split; speeds in examples/s, median of "
        f"{options.get('speed_rounds', '?')} interleaved round(s) on {attrs.get('device', '?')}; "
        "% bound: training speed over the matmul bound of its own linear layers (n/a: not a "
        "model of linear layers only, e.g. convolutions); round trip: "
        "largest |x - f^-1(f(x))| on test data; peak memory: "
        f"{attrs.get('memory_kind', '?')}.",
    ]
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows), *notes])


def comparison_figure(record: BenchRecord):
    """Four panels: test bits/dim per law, speeds, round-trip error, validation curves."""
    from flowkit.apps.figures import new_figure

    laws = record.couplings
    figure = new_figure(16.0, 4.0)
    axes = figure.subplots(1, 4)
    positions = np.arange(len(laws))
    colours = [f"C{i % 10}" for i in range(len(laws))]

    ax = axes[0]
    for i, law in enumerate(laws):
        values = np.asarray(record.arrays[law]["test_bits_per_dim"], dtype=float)
        finite = values[np.isfinite(values)]
        if len(finite):
            std = float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
            ax.errorbar(
                i,
                float(np.mean(finite)),
                yerr=std,
                fmt="o",
                color=colours[i],
                markersize=9,
                capsize=6,
            )
            ax.plot(np.full(len(finite), i + 0.15), finite, "k.", markersize=4)
    ax.set_xticks(positions, laws)
    ax.set_xlim(-0.5, len(laws) - 0.5)
    ax.set_ylabel("test bits/dim (lower is better)")
    ax.set_title("test bits/dim: mean ± sd, dots = seeds")

    ax = axes[1]
    width = 0.27
    for offset, (key, label) in enumerate(
        [
            ("train_samples_per_s", "train step"),
            ("log_prob_samples_per_s", "log_prob"),
            ("sample_samples_per_s", "sample"),
        ]
    ):
        speeds = [record.summaries[law][key] for law in laws]
        ax.bar(positions + (offset - 1) * width, speeds, width, label=label)
    ax.set_xticks(positions, laws)
    ax.set_yscale("log")
    ax.set_ylabel("examples / s (median of rounds)")
    ax.set_title(f"speed on {record.attrs.get('device', '?')}")
    ax.legend(fontsize=8)

    ax = axes[2]
    for i, law in enumerate(laws):
        errors = np.asarray(record.arrays[law]["round_trip_error"], dtype=float)
        shown = errors[np.isfinite(errors) & (errors > 0)]
        ax.plot(np.full(len(shown), i), shown, "o", color=colours[i])
    ax.set_xticks(positions, laws)
    ax.set_xlim(-0.5, len(laws) - 0.5)
    ax.set_yscale("log")
    ax.set_ylabel("max |x - f⁻¹(f(x))| (per seed)")
    ax.set_title("round-trip error on test data")

    ax = axes[3]
    for i, law in enumerate(laws):
        for repeat, history in enumerate(record.histories.get(law, [])):
            if len(history.get("epoch", [])):
                ax.plot(
                    history["epoch"],
                    history["valid_bits_per_dim"],
                    ".-",
                    color=colours[i],
                    alpha=1.0 if repeat == 0 else 0.35,
                    label=law if repeat == 0 else None,
                )
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation bits/dim")
    ax.set_title("learning curves (all seeds)")
    if laws:
        ax.legend(fontsize=8)
    dataset = record.attrs.get("dataset", {})
    name = dataset.get("name", "?") if isinstance(dataset, dict) else "?"
    figure.suptitle(f"flowkit bench: coupling laws in the {record.pipeline} pipeline, on {name}")
    figure.tight_layout()
    return figure


def save_comparison_figure(record: BenchRecord, path: str | Path) -> Path:
    from flowkit.apps.figures import save_figure

    return save_figure(comparison_figure(record), path)


__all__ = ["comparison_figure", "format_table", "save_comparison_figure"]
