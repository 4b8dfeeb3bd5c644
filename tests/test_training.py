"""The trainer (flowkit.train.trainer.fit), evaluation and device selection, on tiny models."""

from __future__ import annotations

import io
import math

import pytest
import torch

from flowkit import ConfigurationError, load_registry
from flowkit.train.device import resolve_device
from flowkit.train.evaluation import (
    evaluate,
    fixed_dequantization,
    mean_log_likelihood,
    sum_log_likelihood,
)
from flowkit.train.progress import progress_callbacks
from flowkit.train.trainer import Callback, TrainOptions, fit, make_optimizer

PLUGIN = "tests.plugins.run_test_plugin"
NLL_COLUMNS = ("train_nll_nats", "valid_nll_nats", "train_bits_per_dim", "valid_bits_per_dim")


@pytest.fixture(scope="module")
def registry():
    return load_registry(plugins=[PLUGIN])


@pytest.fixture(scope="module")
def splits(registry):
    return registry.get("dataset", "tiny-grid")().load()


def build(registry, seed=0, **options):
    torch.manual_seed(seed)
    pipeline = registry.get("pipeline", "nice")()
    config = pipeline.resolve(**{"hidden": 8, "depth": 1, **options})
    return pipeline.build(registry, 16, config)


def train(registry, splits, *, flow=None, callbacks=(), state=None, **options):
    flow = flow or build(registry)
    options = TrainOptions(
        **{"epochs": 4, "batch_size": 32, "seed": 3, "device": "cpu", **options}
    )
    return flow, fit(flow, splits, 8, options, callbacks=callbacks, state=state)


class InterruptAfter(Callback):
    """Raises KeyboardInterrupt at the end of epoch ``epoch``, as Ctrl-C would; with
    ``save=True`` it first asks for a snapshot, as a checkpoint writer does."""

    def __init__(self, epoch: int, save: bool = True) -> None:
        self.epoch, self.save = epoch, save

    def on_epoch_end(self, end) -> None:
        if end.epoch == self.epoch:
            if self.save:
                end.snapshot()
            raise KeyboardInterrupt


def test_fit_learns_and_keeps_the_best_model(registry, splits):
    flow, result = train(registry, splits, epochs=5)
    history = result.history
    assert history["epoch"] == [1, 2, 3, 4, 5]
    assert result.stop_reason == "max-epochs" and result.epochs_completed == 5
    assert history["valid_nll_nats"][-1] < -result.initial_valid_log_likelihood
    best = max(range(5), key=lambda i: -history["valid_nll_nats"][i])
    assert result.best_epoch == best + 1
    # the returned flow holds the selected weights, in eval mode
    assert not flow.training
    valid = mean_log_likelihood(flow, splits.validation, 8)
    assert valid == pytest.approx(result.best_valid_log_likelihood, rel=1e-6)
    assert all(math.isfinite(v) and v > 0 for v in history["samples_per_second"])


def test_fit_is_deterministic_on_cpu(registry, splits):
    flow_a, a = train(registry, splits)
    flow_b, b = train(registry, splits)
    for column in NLL_COLUMNS:
        assert a.history[column] == b.history[column]
    for key, value in flow_a.state_dict().items():
        assert torch.equal(value, flow_b.state_dict()[key]), key
    _, c = train(registry, splits, seed=4)
    assert c.history["train_nll_nats"] != a.history["train_nll_nats"]


@pytest.mark.parametrize("save", [True, False], ids=["snapshot-asked", "latest-snapshot"])
def test_resume_continues_exactly_where_training_stopped(registry, splits, save):
    flow_full, full = train(registry, splits, epochs=4)
    _, stopped = train(registry, splits, epochs=4, callbacks=[InterruptAfter(2, save)])
    assert stopped.interrupted
    saved = stopped.state.epoch
    # without a request the state is the latest automatic snapshot: epoch 2 or an earlier one
    assert saved == 2 if save else 0 <= saved <= 2
    assert stopped.epochs_completed == saved
    assert stopped.state.history["epoch"] == list(range(1, saved + 1))
    resumed_flow = build(registry, seed=99)  # other initial weights: all must come from state
    _, resumed = train(registry, splits, flow=resumed_flow, state=stopped.state, epochs=4)
    assert resumed.history["epoch"] == [1, 2, 3, 4]
    for column in NLL_COLUMNS:
        assert resumed.history[column] == full.history[column]
    for key, value in flow_full.state_dict().items():
        assert torch.equal(value, resumed_flow.state_dict()[key]), key


def test_non_finite_loss_stops_and_keeps_the_best_model(registry, splits):
    flow = build(registry, coupling="nan-after", coupling_options={"after": 14})
    flow, result = train(registry, splits, flow=flow, epochs=6)
    assert result.diverged and result.stop_reason == "non-finite"
    assert result.epochs_completed == 2 and result.best_epoch == 2
    assert "epoch 2" in result.message
    weights = [v for v in flow.state_dict().values() if v.is_floating_point()]
    assert all(torch.isfinite(v).all() for v in weights)
    assert math.isfinite(mean_log_likelihood(flow, splits.test, 8))


def test_early_stopping_without_improvement(registry, splits):
    # A learning rate of 1e-30 leaves every weight bit-identical: no epoch improves.
    _, result = train(registry, splits, epochs=50, lr=1e-30, patience=3)
    assert result.stop_reason == "early-stopping"
    assert result.epochs_completed == 3 and result.best_epoch == 0


def test_time_budget_stops_after_the_epoch(registry, splits):
    _, result = train(registry, splits, epochs=50, max_seconds=1e-9)
    assert result.stop_reason == "time-limit" and result.epochs_completed == 1


def test_data_dependent_initialisation_happens_before_training(registry, splits):
    flow = build(registry)
    assert flow.transform.needs_initialization
    train(registry, splits, flow=flow, epochs=0)
    assert not flow.transform.needs_initialization


@pytest.mark.parametrize(
    "options",
    [
        {"epochs": -1},
        {"batch_size": 0},
        {"lr": 0.0},
        {"lr": -1e-3},
        {"lr": float("nan")},
        {"betas": (0.9, 1.0)},
        {"eps": 0.0},
        {"patience": -2},
        {"max_seconds": 0.0},
    ],
)
def test_nonsense_options_are_configuration_errors(options):
    with pytest.raises(ConfigurationError):
        TrainOptions(**options).validate()


def test_optimizer_is_fused_where_supported_and_configurable():
    params = [torch.nn.Parameter(torch.zeros(3))]
    optimizer, name = make_optimizer(params, TrainOptions())
    assert name in ("adam-fused", "adam")
    assert optimizer.defaults["betas"] == (0.9, 0.99) and optimizer.defaults["eps"] == 1e-4
    _, name = make_optimizer(params, TrainOptions(fused=False))
    assert name == "adam"


def test_evaluation_is_repeatable_and_restores_the_mode(registry, splits):
    flow = build(registry)
    flow.train()
    first = mean_log_likelihood(flow, splits.test, 8)
    assert flow.training
    assert mean_log_likelihood(flow, splits.test, 8, batch_size=7) == pytest.approx(first)
    assert mean_log_likelihood(flow, splits.test, 8, seed=1) != first
    # two halves evaluated apart add up to the whole (what a data-parallel evaluation does)
    inputs = fixed_dequantization(splits.test, 8)
    whole, count = sum_log_likelihood(flow, inputs)
    half = len(inputs) // 2
    parts = [sum_log_likelihood(flow, inputs[:half]), sum_log_likelihood(flow, inputs[half:])]
    assert sum(p[0] for p in parts) == pytest.approx(whole) and count == len(splits.test)
    result = evaluate(flow, splits.test, 8)
    assert result.log_likelihood_nats == pytest.approx(first) and result.examples == count
    expected_bpd = (-first / 16 + math.log(8)) / math.log(2)
    assert result.bits_per_dim == pytest.approx(expected_bpd)


def test_continuous_data_is_not_dequantised():
    values = torch.randn(5, 2)
    assert torch.equal(fixed_dequantization(values, None), values)
    quantised = fixed_dequantization(torch.zeros(4, 3), 4)
    assert ((quantised >= 0) & (quantised < 0.25)).all()


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("tpu", "gpu0", "cuda:99"):
        with pytest.raises(ConfigurationError):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigurationError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.parametrize("mode", ["bar", "lines"])
def test_progress_shows_every_epoch(registry, splits, mode):
    stream = io.StringIO()
    train(registry, splits, epochs=2, callbacks=progress_callbacks(mode, stream))
    text = stream.getvalue()
    assert "epoch 1" in text and "epoch 2" in text
    assert "valid" in text and "bits/dim" in text and "samples/s" in text
    assert progress_callbacks("none") == []
