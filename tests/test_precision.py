"""Mixed-precision training (flowkit.train.precision, --precision): bf16-mixed keeps what is
added to the data and summed in float32, matches float32 training closely on a fixed problem,
evaluates in float32, and is recorded in the run file (also across --resume)."""

from __future__ import annotations

import math

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from flowkit import ConfigurationError, load_registry
from flowkit.cli import cli
from flowkit.io.runfile import read_run_record
from flowkit.nn import MLP
from flowkit.train.precision import PRECISIONS, resolve_precision
from flowkit.train.trainer import Callback, TrainOptions, fit

PLUGIN = "tests.plugins.run_test_plugin"
TINY = ["--dataset", "tiny-grid", "--hidden", "8", "--depth", "1", "--batch-size", "32"]


@pytest.fixture(scope="module")
def registry():
    return load_registry(plugins=[PLUGIN])


@pytest.fixture(scope="module")
def splits(registry):
    return registry.get("dataset", "tiny-grid")().load()


def build(registry, hidden=32, depth=2):
    torch.manual_seed(0)
    pipeline = registry.get("pipeline", "nice")()
    return pipeline.build(registry, 16, pipeline.resolve(hidden=hidden, depth=depth))


def train(registry, splits, precision, epochs=6, callbacks=()):
    flow = build(registry)
    options = TrainOptions(
        epochs=epochs, batch_size=32, seed=3, device="cpu", patience=0, precision=precision
    )
    return flow, fit(flow, splits, 8, options, callbacks=callbacks)


class DtypeProbe(Callback):
    """Records the dtypes the coupling MLPs' layers produce, in training and in evaluation."""

    def __init__(self, flow: nn.Module) -> None:
        self.seen: set[tuple[bool, str, torch.dtype]] = set()
        for mlp in (m for m in flow.modules() if isinstance(m, MLP)):
            linears = [layer for layer in mlp if isinstance(layer, nn.Linear)]
            for role, layer in (("hidden", linears[0]), ("output", linears[-1])):
                layer.register_forward_hook(self._hook(role))

    def _hook(self, role):
        def hook(module, inputs, output):
            self.seen.add((module.training, role, output.dtype))

        return hook


def test_bf16_mixed_trains_like_float32(registry, splits):
    _, fp32 = train(registry, splits, "fp32")
    _, mixed = train(registry, splits, "bf16-mixed")
    a = fp32.history.as_arrays()["valid_bits_per_dim"]
    b = mixed.history.as_arrays()["valid_bits_per_dim"]
    assert len(a) == len(b) == 6
    # The policy really ran (bf16 rounding changes the trajectory) ...
    assert not torch.equal(torch.as_tensor(a), torch.as_tensor(b))
    # ... yet every epoch's validation bits/dim stays close to the float32 run's (observed
    # difference is 1.6e-4 bits/dim here; the tolerance leaves a margin of about 100x).
    assert max(abs(x - y) for x, y in zip(a, b)) < 0.02
    assert math.isclose(
        fp32.best_valid_log_likelihood, mixed.best_valid_log_likelihood, rel_tol=0, abs_tol=0.5
    )


def test_hidden_layers_bf16_output_and_evaluation_float32(registry, splits):
    flow = build(registry)
    probe = DtypeProbe(flow)
    options = TrainOptions(epochs=1, batch_size=32, device="cpu", precision="bf16-mixed")
    fit(flow, splits, 8, options)
    assert (True, "hidden", torch.bfloat16) in probe.seen  # training: hidden layers bf16
    assert (True, "output", torch.float32) in probe.seen  # m(x1) float32 before x2 + m(x1)
    assert (True, "output", torch.bfloat16) not in probe.seen
    evaluation = {dtype for training, _, dtype in probe.seen if not training}
    assert evaluation == {torch.float32}  # validation is float32
    assert all(m.compute_dtype is None for m in flow.modules() if isinstance(m, MLP))
    probe.seen.clear()
    with torch.no_grad():
        values = flow.log_prob(torch.rand(4, 16))
    assert values.dtype == torch.float32 and {d for *_, d in probe.seen} == {torch.float32}


def test_other_conditioners_run_whole_under_autocast_with_float32_output(registry):
    flow = build(registry)
    coupling = next(m for m in flow.modules() if hasattr(m, "net"))
    coupling.net = nn.Sequential(nn.Linear(8, 8))
    with resolve_precision("bf16-mixed", "cpu").training(flow) as lowered:
        assert lowered >= 1 and coupling.conditioner_dtype == torch.bfloat16
        params = coupling._conditioner(torch.rand(3, 8), None)
    assert params.dtype == torch.float32
    assert coupling.conditioner_dtype is None


def test_unknown_or_unavailable_precision_is_a_configuration_error():
    assert PRECISIONS == ("fp32", "bf16-mixed", "tf32")
    with pytest.raises(ConfigurationError, match="needs a CUDA GPU"):
        resolve_precision("tf32", "cpu")
    with pytest.raises(ConfigurationError, match="unknown precision"):
        resolve_precision("fp8", "cpu")
    with pytest.raises(ConfigurationError, match="precision must be"):
        TrainOptions(precision="fp16").validate()
    assert TrainOptions.from_dict({"epochs": 1}).precision == "fp32"  # older run files


def flowkit(*args):
    return CliRunner().invoke(cli, ["-p", PLUGIN, *map(str, args)])


def test_precision_is_recorded_in_the_run_file_and_kept_on_resume(tmp_path):
    out = tmp_path / "run.h5"
    result = flowkit(
        "run", "nice", *TINY, "--epochs", 2, "--precision", "bf16-mixed", "--out", out
    )
    assert result.exit_code == 0, result.output
    record = read_run_record(out)
    assert record.config.train.precision == "bf16-mixed"
    assert math.isfinite(record.results["test_log_likelihood_nats"])
    resumed = flowkit("run", "--resume", out, "--epochs", 3, "-q")
    assert resumed.exit_code == 0, resumed.output
    record = read_run_record(out)
    assert record.config.train.precision == "bf16-mixed"
    assert list(record.history["epoch"]) == [1, 2, 3]
    changed = flowkit("run", "--resume", out, "--epochs", 4, "--precision", "fp32")
    assert changed.exit_code == 2 and "--precision" in changed.stderr


def test_tf32_on_the_cpu_is_a_one_line_error(tmp_path):
    result = flowkit("run", "nice", *TINY, "--precision", "tf32", "--out", tmp_path / "r.h5")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("Error: --precision tf32 needs a CUDA GPU")
    assert not (tmp_path / "r.h5").exists()
