"""``flowkit show RUN.h5``: a run file at a glance (any flowkit version's run file)."""

from __future__ import annotations

import json

import click

from flowkit.io.runfile import read_run_record
from flowkit.run.summary import summary


@click.command("show")
@click.argument("run_file", metavar="RUN.h5", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def command(run_file: str, as_json: bool) -> None:
    """Print RUN.h5's status, configuration, data identity, best epoch, test numbers and
    timings."""
    info = summary(read_run_record(run_file), run_file)
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True, default=str))
        return
    for line in describe(info):
        click.echo(line)


def describe(info: dict) -> list[str]:
    """The lines of ``flowkit show``."""
    results, data, timings = info["results"], info["data"], info["timings"]
    lines = [f"run file:   {info['path']}"]
    status = info["status"] + (f" ({info['message']})" if info["message"] else "")
    lines.append(f"status:     {status}")
    lines.append(
        f"written:    {info['created']} .. {info['updated']} by flowkit "
        f"{info['flowkit_version'] or '?'} on {info['device'] or '?'}"
    )
    config = info["config"]
    model = {k[len("pipeline.") :]: v for k, v in config.items() if k.startswith("pipeline.")}
    lines.append(f"model:      {config.get('pipeline', '?')}: {_pairs(model)}")
    train = {k[len("train.") :]: v for k, v in config.items() if k.startswith("train.")}
    lines.append(f"training:   {_pairs(train)}")
    dataset = {k[len("dataset.") :]: v for k, v in config.items() if k.startswith("dataset.")}
    shape = "x".join(str(d) for d in data["event_shape"])
    levels = f", {data['levels']} levels" if data["levels"] else ", continuous"
    order = {"train": 0, "validation": 1, "test": 2}
    ranked = sorted(data["sizes"].items(), key=lambda item: order.get(item[0], 3))
    sizes = ", ".join(f"{n} {split}" for split, n in ranked)
    lines.append(f"data:       {data['name']} ({data['variant']}): {sizes}; {shape}{levels}")
    lines.append(f"            {data['checksum']}" + (f"; {_pairs(dataset)}" if dataset else ""))
    other = {
        k: v
        for k, v in config.items()
        if "." not in k and k not in ("pipeline", "dataset", "dataset_options")
    }
    lines.append(f"other:      {_pairs(other)}")
    if "best_epoch" in results:
        best = f"best epoch: {results['best_epoch']} of {results.get('epochs_completed', '?')}"
        valid = results.get("best_valid_log_likelihood_nats")
        if isinstance(valid, (int, float)):
            best += f" (validation log-likelihood {valid:+.2f} nats)"
        lines.append(best)
    if "test_bits_per_dim" in results:
        test = f"test:       {results['test_bits_per_dim']:.4f} bits/dim"
        if "test_log_likelihood_nats" in results:
            test += f", test log-likelihood {results['test_log_likelihood_nats']:+.2f} nats"
        if "test_examples" in results:
            test += f" ({results['test_examples']} examples)"
        lines.append(test)
        extra = {
            k: v
            for k, v in results.items()
            if k.startswith("test_")
            and k not in ("test_bits_per_dim", "test_log_likelihood_nats", "test_examples")
        }
        if extra:
            lines.append(f"            {_pairs(extra)}")
    else:
        lines.append("test:       not evaluated")
    if timings["epochs"]:
        lines.append(
            f"timings:    {timings['epochs']} epochs in {timings['seconds']:.1f} s "
            f"({timings['seconds_per_epoch']:.2f} s/epoch, median "
            f"{timings['samples_per_second']:,.0f} samples/s)"
        )
    if info["resumable"]:
        lines.append(
            "resumable:  yes (flowkit run --resume FILE; a completed run with a larger --epochs)"
        )
    return lines


def _pairs(values: dict) -> str:
    def text(value) -> str:
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, tuple):
            return ",".join(text(v) for v in value)
        return str(value)

    return " ".join(f"{k}={text(v)}" for k, v in values.items()) or "-"
