"""What a person reads while a run trains: epoch lines, the run's clock, the final test line."""

from __future__ import annotations

import io
import math
import types

import pytest
import torch

from flowkit.train.evaluation import evaluate, fixed_dequantization, log_likelihoods
from flowkit.train.options import TrainOptions
from flowkit.train.progress import (
    EpochLines,
    ProgressBar,
    RunClock,
    format_duration,
    results_summary,
)
from flowkit.train.state import EpochRecord
from flowkit.train.trainer import FitStart

FEATURES, LEVELS = 784, 256


def fit_start(**options) -> FitStart:
    state = types.SimpleNamespace(elapsed_seconds=0.0)
    return FitStart(
        TrainOptions(**options), 0, 4, 1000, FEATURES, LEVELS, -291.56, torch.device("cpu"),
        state,  # type: ignore[arg-type]
    )  # fmt: skip


def epoch_end(epoch: int, seconds: float = 2.0, best: bool = True):
    record = EpochRecord(epoch, -800.0 - epoch, -790.0 - epoch, 6.52, 6.55, seconds, 1234.0)
    return types.SimpleNamespace(record=record, epoch=epoch, is_best=best)


def lines_of(callback_class, start, ends, **kw):
    stream = io.StringIO()
    callback = callback_class(stream)
    callback.on_train_start(start)
    for end in ends:
        callback.on_batch_end(250)
        callback.on_epoch_end(end)
    callback.on_train_end(None)
    return [line for line in stream.getvalue().replace("\r", "\n").splitlines() if line]


def test_lines_lead_with_bits_per_dim_and_show_the_clock():
    lines = lines_of(EpochLines, fit_start(epochs=10, patience=0), [epoch_end(1), epoch_end(2)])
    assert lines[0] == "initial validation 8.537 bits/dim (log-likelihood -291.6 nats)"
    assert lines[1] == (
        "epoch 1/10: valid 6.550 bits/dim, train 6.520 bits/dim (log-likelihood valid +791.0, "
        "train +801.0 nats), 1,234 samples/s *; 00:02 elapsed, ~00:18 left (9 epochs)"
    )
    assert lines[2].endswith("; 00:04 elapsed, ~00:16 left (8 epochs)")


def test_early_stopping_makes_the_estimate_an_upper_bound():
    lines = lines_of(EpochLines, fit_start(epochs=3, patience=5), [epoch_end(1), epoch_end(2)])
    assert lines[1].endswith("00:02 elapsed, at most ~00:04 left (2 epochs)")
    assert lines[2].endswith("00:04 elapsed, at most ~00:02 left (1 epoch)")


def test_time_budget_caps_the_estimate_in_whole_epochs():
    clock = RunClock(fit_start(epochs=1500, max_seconds=5.0, patience=0))
    assert clock.text() == "00:00 elapsed, estimate after the first epoch"
    clock.update(epoch_end(1).record)  # 2 s used, 3 s of budget left: two more epochs
    assert clock.text() == "00:02 elapsed, ~00:04 left (time budget 00:05)"
    clock.update(epoch_end(2).record)
    clock.update(epoch_end(3).record)
    assert clock.text() == "00:06 elapsed, last epoch done"


def test_bar_prints_the_same_lines_and_keeps_the_initial_validation_line():
    start, ends = fit_start(epochs=2), [epoch_end(1), epoch_end(2, best=False)]
    plain = lines_of(EpochLines, start, ends)
    bar = lines_of(ProgressBar, start, ends)
    assert plain[0].startswith("initial validation") and plain[0] in bar
    for line in plain[1:]:
        assert line in bar  # the bar's own frames come and go around them
    assert not plain[2].split(";")[0].endswith("*")


def test_format_duration():
    assert format_duration(75) == "01:15" and format_duration(3725) == "1:02:05"
    assert format_duration(-1) == "00:00"


def test_results_summary_gives_both_numbers_with_standard_errors():
    results = {
        "test_bits_per_dim": 6.52571,
        "test_bits_per_dim_stderr": 0.00412,
        "test_log_likelihood_nats": 801.171,
        "test_log_likelihood_stderr_nats": 2.236,
        "test_examples": 10000,
        "best_epoch": 7,
    }
    assert results_summary(results) == (
        "test 6.5257 ± 0.0041 bits/dim, test log-likelihood +801.17 ± 2.24 nats per example "
        "(± one standard error over 10000 test examples; model of epoch 7)"
    )
    del results["test_bits_per_dim_stderr"], results["test_log_likelihood_stderr_nats"]
    assert "±" not in results_summary(results).split("(")[0]  # run files of flowkit 0.1


class Gaussian(torch.nn.Module):
    """A standard normal 'flow' with a learnable shift: enough for evaluate()."""

    def __init__(self):
        super().__init__()
        self.shift = torch.nn.Parameter(torch.tensor(0.3))

    def log_prob(self, x):
        return torch.distributions.Normal(self.shift, 1.0).log_prob(x).sum(1)


def test_evaluation_reports_the_standard_error_over_examples():
    flow = Gaussian()
    values = torch.randint(0, 8, (500, 3)).float()
    result = evaluate(flow, values, 8, batch_size=64)
    per_example = log_likelihoods(flow, fixed_dequantization(values, 8))
    expected = float(per_example.std() / math.sqrt(len(per_example)))
    assert result.log_likelihood_stderr_nats == pytest.approx(expected, rel=1e-9)
    assert result.bits_per_dim_stderr == pytest.approx(expected / (3 * math.log(2)), rel=1e-9)
    assert result.as_dict("test_")["test_log_likelihood_stderr_nats"] == pytest.approx(expected)
    single = evaluate(flow, values[:1], 8)
    assert math.isnan(single.log_likelihood_stderr_nats)


def test_device_name_grammar(monkeypatch):
    from flowkit.train.device import describe_device

    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert describe_device(torch.device("cpu")) == "cpu (1 thread)"
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert describe_device(torch.device("cpu")) == "cpu (2 threads)"
