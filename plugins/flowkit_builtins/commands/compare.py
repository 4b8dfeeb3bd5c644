"""``flowkit compare RUN.h5...``: a folder of runs as one table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from flowkit import ConfigurationError, RunFileError
from flowkit.io.runfile import read_run_record
from flowkit.run.summary import compare_rows, sort_rows, summary


@click.command("compare")
@click.argument("run_files", metavar="RUN.h5...", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON list.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV.")
@click.option(
    "--sort",
    "sort_key",
    metavar="COLUMN",
    help="Order the rows by a column (e.g. test_bits_per_dim, pipeline.layers); "
    "-COLUMN for descending.",
)
@click.option(
    "--all", "all_options", is_flag=True, help="Show every option, not only those that differ."
)
def command(
    run_files: tuple[str, ...],
    as_json: bool,
    as_csv: bool,
    sort_key: str | None,
    all_options: bool,
) -> None:
    """One row per run: path, status, the options that differ between the runs, and the
    results (test bits/dim, test log-likelihood in nats, best epoch, epochs, seconds).

    A folder is read as all its *.h5 files; those that are not readable run files (damaged, or
    other HDF5 files such as `flowkit sample -o x.h5` writes) are skipped with one warning line
    each. A file named on the command line must be a run file.
    """
    if as_json and as_csv:
        raise ConfigurationError("give --json or --csv, not both")
    summaries = []
    for name in run_files:
        path = Path(name)
        if not path.is_dir():
            summaries.append(summary(read_run_record(path), path))
            continue
        for found in sorted(path.glob("*.h5")):
            try:
                summaries.append(summary(read_run_record(found), found))
            except RunFileError as err:
                click.echo(f"Warning: {_one_line(err)}; skipped", err=True)  # it names the file
    if not summaries:
        raise ConfigurationError(f"no run files in {', '.join(run_files)}")
    columns, rows = compare_rows(summaries, all_options=all_options)
    if sort_key:
        if sort_key.lstrip("-") not in columns:
            raise ConfigurationError(
                f"--sort {sort_key}: no such column (columns: {', '.join(columns)})"
            )
        rows = sort_rows(rows, sort_key)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=_plain))
    elif as_csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        table = [columns] + [[_cell(row[c]) for c in columns] for row in rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
        for line in table:
            click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)):
        return ",".join(_cell(v) for v in value)
    return str(value)


def _plain(value):
    return list(value) if isinstance(value, tuple) else str(value)
