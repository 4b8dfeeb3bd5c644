"""`flowkit eval`: bits/dim first with standard errors, --draws K, interrupted runs said so;
and `flowkit run` help and -q as a newcomer meets them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from flowkit.cli import cli
from flowkit.io.runfile import read_run_record
from flowkit.train.trainer import Callback

TINY = ["run", "nice", "--dataset", "digits", "--layers", "3", "--hidden", "8", "--depth", "1",
        "--num-samples", "0", "--progress", "none"]  # fmt: skip


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "run.h5"
    result = CliRunner().invoke(cli, [*TINY, "--epochs", "2", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{out}\n"  # -q: the path alone
    return out


def test_text_leads_with_bits_per_dim_and_standard_errors(run_file):
    result = CliRunner().invoke(cli, ["eval", str(run_file)])
    assert result.exit_code == 0, result.output
    stored = read_run_record(run_file).results
    line = result.stdout.splitlines()[0]
    assert line.startswith(
        f"{stored['test_bits_per_dim']:.4f} ± {stored['test_bits_per_dim_stderr']:.4f} bits/dim"
    )
    assert f"{stored['test_log_likelihood_nats']:+.4f} nats/example" in line
    assert "note:" not in result.stdout  # a completed run


def test_draws_average_over_noise_and_report_the_spread(run_file):
    result = CliRunner().invoke(cli, ["eval", str(run_file), "--draws", "3", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    draws = payload["draws_log_likelihood_nats"]
    assert len(draws) == 3 and draws[0] == pytest.approx(payload["log_likelihood_nats"])
    assert len(set(draws)) == 3  # three different noise draws
    assert payload["draws_mean_log_likelihood_nats"] == pytest.approx(sum(draws) / 3)
    assert payload["draws_std_log_likelihood_nats"] > 0
    text = CliRunner().invoke(cli, ["eval", str(run_file), "--draws", "3"]).stdout
    assert "over 3 dequantisation draws" in text and "spread" in text


class StopAfterFirstEpoch(Callback):
    def on_epoch_end(self, end):
        raise KeyboardInterrupt


def test_eval_says_when_a_run_was_interrupted(tmp_path):
    from flowkit import load_registry
    from flowkit.run.config import RunConfig, resolve_pipeline_options
    from flowkit.run.runner import start_run
    from flowkit.train.options import TrainOptions

    registry = load_registry()
    options = resolve_pipeline_options(registry, "nice", {"layers": 3, "hidden": 8, "depth": 1})
    config = RunConfig(
        pipeline_options=options, dataset="digits", num_samples=0, train=TrainOptions(epochs=5)
    )
    out = tmp_path / "stopped.h5"
    outcome = start_run(registry, config, out, callbacks=[StopAfterFirstEpoch()], progress="none")
    assert outcome.status == "interrupted"
    result = CliRunner().invoke(cli, ["eval", str(out)])
    assert result.exit_code == 0, result.output
    assert "note: this run is interrupted (not completed)" in result.stdout
    assert f"flowkit run --resume {out}" in result.stdout


def test_run_help_shows_the_effective_model_defaults():
    text = CliRunner().invoke(cli, ["run", "--help"], terminal_width=200).stdout
    for flag, default in (("--coupling", "additive"), ("--layers", "4"), ("--hidden", "1000"),
                          ("--depth", "5")):  # fmt: skip
        line = next(row for row in text.splitlines() if row.strip().startswith(flag))
        assert f"[default: ({default})" in line, line


@pytest.mark.parametrize("command", ["eval", "bench"])
def test_every_option_has_help_text(command):
    import click

    group_ctx = cli.make_context("flowkit", [command, "--help"], resilient_parsing=True)
    sub = cli.get_command(group_ctx, command)
    options = [p for p in sub.params if isinstance(p, click.Option)]
    missing = [p.opts[0] for p in options if not p.help]
    assert not missing, f"flowkit {command} options without help: {missing}"
