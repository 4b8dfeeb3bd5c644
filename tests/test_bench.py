"""The bench harness (flowkit.bench.runner), its HDF5 file, table, figure and speed helpers.

A tiny bench (2 laws x 2 seeds, a few epochs of a small NICE on digits) runs once per module
(glow and maf get one tiny run each);
the tests check what the file holds, never how fast anything was.
"""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from flowkit import load_registry
from flowkit.bench.options import DEFAULT_MODEL, check_law, default_model
from flowkit.bench.report import format_table, save_comparison_figure
from flowkit.bench.runner import BenchOptions, LawResult, round_trip_error, run_bench
from flowkit.bench.throughput import gemm_replay, linear_macs, linear_shapes, matmul_bound
from flowkit.cli import cli
from flowkit.errors import ConfigurationError, RunFileError, UnknownComponentError
from flowkit.io.benchfile import FORMAT, read_bench_file, write_bench_file
from flowkit.metrics import bits_per_dim

LAWS = ("additive", "affine")
TINY_MODEL = {"layers": 3, "hidden": 16, "depth": 1}


@pytest.fixture(scope="module")
def bench(registry, tmp_path_factory):
    options = BenchOptions(
        couplings=LAWS,
        pipeline_options=dict(TINY_MODEL),
        repeats=2,
        epochs=2,
        device="cpu",
        speed_rounds=2,
        speed_seconds=0.01,
        eval_batch_size=500,
    )
    messages = []
    result = run_bench(registry, options, echo=messages.append)
    path = tmp_path_factory.mktemp("bench") / "bench.h5"
    write_bench_file(path, result, command=["flowkit", "bench", "--test"])
    return result, read_bench_file(path), messages


def test_file_holds_every_law_in_order_with_one_value_per_repeat(bench):
    result, record, _ = bench
    assert record.attrs["format"] == FORMAT
    assert record.attrs["pipeline"] == record.pipeline == "nice"
    assert record.couplings == list(LAWS)
    assert record.attrs["options"]["repeats"] == 2
    assert record.attrs["dataset"]["name"] == "digits"
    assert record.attrs["command"] == "flowkit bench --test"
    for law in LAWS:
        arrays = record.arrays[law]
        for name in (
            "seed",
            "test_nll",
            "test_bits_per_dim",
            "best_epoch",
            "epochs",
            "round_trip_error",
            "stop_reason",
        ):
            assert len(arrays[name]) == 2, name
        assert list(arrays["seed"]) == [0, 1]  # the same seeds for every law
        assert list(arrays["epochs"]) == [2, 2]
        assert list(arrays["stop_reason"]) == ["max-epochs", "max-epochs"]
        assert [len(h["epoch"]) for h in record.histories[law]] == [2, 2]
        assert record.summaries[law]["config"]["pipeline_options"]["coupling"] == law


def test_nll_and_bits_per_dim_agree_and_summaries_are_their_mean_and_spread(bench):
    _, record, _ = bench
    features, levels = 64, 17
    for law in LAWS:
        nll = np.asarray(record.arrays[law]["test_nll"])
        bpd = np.asarray(record.arrays[law]["test_bits_per_dim"])
        assert np.all(np.isfinite(nll))
        expected = [bits_per_dim(-v, features, levels) for v in nll]
        np.testing.assert_allclose(bpd, expected, rtol=1e-9)
        summary = record.summaries[law]
        assert summary["test_nll_mean"] == pytest.approx(nll.mean())
        assert summary["test_nll_std"] == pytest.approx(nll.std(ddof=1))
        assert summary["diverged"] == 0 and summary["repeats"] == 2


def test_test_nll_is_that_of_the_evaluation_module(bench, registry):
    """Repeat 0 of the additive law, rebuilt and retrained, gives the stored test NLL."""
    from flowkit.run.config import build_dataset, build_flow
    from flowkit.train.evaluation import mean_log_likelihood
    from flowkit.train.trainer import fit

    result, record, _ = bench
    config = result.options.run_config("additive", 0, registry)
    dataset = build_dataset(registry, config)
    splits = dataset.load()
    torch.manual_seed(config.seed)
    flow = build_flow(registry, config, dataset.features)
    fit(flow, splits, dataset.levels, config.train)
    ll = mean_log_likelihood(flow, splits.test, dataset.levels, batch_size=500)
    assert record.arrays["additive"]["test_nll"][0] == pytest.approx(-ll, rel=1e-6)


def test_parameters_round_trip_speed_and_memory_are_recorded(bench, registry):
    _, record, _ = bench
    pipeline = registry.get("pipeline", "nice")()
    for law in LAWS:
        summary = record.summaries[law]
        flow = pipeline.build(registry, 64, pipeline.resolve(coupling=law, **TINY_MODEL))
        assert summary["parameters"] == sum(p.numel() for p in flow.parameters())
        assert 0 <= summary["round_trip_max_error"] < 1e-4
        for key in (
            "train_samples_per_s",
            "log_prob_samples_per_s",
            "sample_samples_per_s",
            "matmul_bound_samples_per_s",
            "train_fraction_of_matmul_bound",
        ):
            assert summary[key] > 0 and math.isfinite(summary[key]), key
        for name in (
            "train_samples_per_s",
            "log_prob_samples_per_s",
            "sample_samples_per_s",
            "matmul_bound_samples_per_s",
        ):
            assert len(record.arrays[law][name]) == 2  # one value per speed round
        assert summary["peak_memory_bytes"] > 10 * 2**20  # at least the interpreter and torch
    assert record.summaries["affine"]["parameters"] > record.summaries["additive"]["parameters"]


def test_progress_names_every_training_run(bench):
    _, _, messages = bench
    assert messages[0].startswith("data: digits")
    for law in LAWS:
        for seed in (0, 1):
            assert any(m.startswith(f"{law} seed {seed}: test NLL") for m in messages)


def test_table_has_one_row_per_law_and_the_figure_is_written(bench, tmp_path):
    _, record, _ = bench
    lines = format_table(record).splitlines()
    assert lines[0].split()[0] == "law"
    assert [line.split()[0] for line in lines[2:4]] == list(LAWS)
    assert "0/2" in lines[2]  # diverged repeats
    path = save_comparison_figure(record, tmp_path / "bench.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_file_that_is_not_a_bench_file_is_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(RunFileError, match="not a flowkit bench file"):
        read_bench_file(other)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(RunFileError):
        read_bench_file(tmp_path / "junk.h5")
    with pytest.raises(RunFileError, match="no such bench file"):
        read_bench_file(tmp_path / "missing.h5")


def test_a_failed_write_leaves_no_file_behind(bench, tmp_path):
    result, _, _ = bench
    bad = LawResult("a/b", {}, 1)
    broken = type(result)(**{**result.__dict__, "laws": [bad]})
    with pytest.raises(ConfigurationError, match="cannot name an HDF5 group"):
        write_bench_file(tmp_path / "b.h5", broken)
    assert list(tmp_path.iterdir()) == []


def test_diverged_repeats_are_counted_and_left_out_of_the_mean():
    law = LawResult(
        "additive",
        {},
        10,
        seeds=[0, 1, 2],
        test_nll=[1.0, math.nan, 3.0],
        test_bits_per_dim=[1.0, math.nan, 2.0],
        stop_reason=["max-epochs", "non-finite", "non-finite"],
    )
    summary = law.summary()
    assert summary["diverged"] == 2
    assert summary["test_nll_mean"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"couplings": ()}, "at least one coupling"),
        ({"couplings": ("additive", "additive")}, "listed twice"),
        ({"pipeline_options": {"coupling": "affine"}}, "--couplings"),
        ({"repeats": 0}, ">= 1"),
        ({"amp": "int8"}, "--amp"),
        ({"epochs": -1}, "epochs"),
    ],
)
def test_bad_options_are_configuration_errors(options, match):
    with pytest.raises(ConfigurationError, match=match):
        BenchOptions(**options).validate()


@pytest.mark.parametrize(
    ("options", "match"),
    [({"couplings": ("additive", "addditive")}, "'additive'"), ({"pipeline": "glw"}, "'glow'")],
)
def test_an_unknown_law_or_pipeline_fails_before_any_data_loads(registry, options, match):
    messages = []
    with pytest.raises(UnknownComponentError, match=f"did you mean {match}"):
        run_bench(registry, BenchOptions(**options), echo=messages.append)
    assert messages == []


def test_round_trip_error_is_nan_for_a_flow_that_returns_nan(registry):
    pipeline = registry.get("pipeline", "nice")()
    flow = pipeline.build(registry, 8, pipeline.resolve(**TINY_MODEL))
    x = torch.rand(20, 8)
    flow.transform.initialize(x)
    assert round_trip_error(flow, x, 7, "cpu") < 1e-5
    with torch.no_grad():
        flow.transform[len(flow.transform) - 1].log_scale.fill_(math.nan)
    assert math.isnan(round_trip_error(flow, x, 7, "cpu"))


def test_matmul_bound_replays_the_linear_layers_of_a_training_step():
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    assert linear_shapes(model) == [(5, 7), (7, 3)]
    assert linear_macs(model) == 5 * 7 + 7 * 3
    calls = []
    original = torch.mm

    def counting_mm(a, b, *, out):
        calls.append((tuple(a.shape), tuple(b.shape)))
        return original(a, b, out=out)

    replay = gemm_replay(linear_shapes(model), 4, training=True)
    torch.mm = counting_mm
    try:
        replay()
    finally:
        torch.mm = original
    # forward of both layers, both weight gradients, the input gradient of the second only
    assert sorted(calls) == sorted(
        [((4, 5), (5, 7)), ((7, 4), (4, 5)), ((4, 7), (7, 3)), ((4, 3), (3, 7)), ((3, 4), (4, 7))]
    )
    assert matmul_bound(model, 4, training=False, repeats=1) > 0
    with pytest.raises(ValueError, match="no linear layers"):
        gemm_replay([], 4, training=True)


# ---- the speed paths of the coupling layers (split by slices, runs kept in split form) --------
@pytest.mark.parametrize(
    ("features", "options"),
    [
        (8, {}),
        (8, {"partition": "halves"}),
        (7, {}),
        (7, {"partition": "halves"}),
        (8, {"coupling": "affine"}),
        (8, {"permutation": "reverse"}),
    ],
)
def test_split_form_runs_equal_layer_by_layer_calls(registry, features, options):
    pipeline = registry.get("pipeline", "nice")()
    flow = pipeline.build(
        registry, features, pipeline.resolve(hidden=16, depth=2, zero_init=False, **options)
    ).double()
    x = torch.rand(40, features, dtype=torch.float64, requires_grad=True)
    flow.transform.initialize(x.detach())
    layers = list(flow.transform)
    h, logabsdet = flow.transform(x)
    step, total = x, 0.0
    for layer in layers:
        step, part = layer(step)
        total = total + part
    close = dict(rtol=1e-12, atol=1e-12)  # the same arithmetic, up to GEMM blocking order
    torch.testing.assert_close(h, step, **close)
    torch.testing.assert_close(logabsdet, total, **close)
    grads = torch.autograd.grad(h.sum() + logabsdet.sum(), [x, *flow.parameters()])
    reference = torch.autograd.grad(step.sum() + total.sum(), [x, *flow.parameters()])
    for a, b in zip(grads, reference):
        torch.testing.assert_close(a, b, **close)
    back, inverse_logabsdet = flow.transform.inverse(h.detach())
    step, total = h.detach(), 0.0
    for layer in reversed(layers):
        step, part = layer.inverse(step)
        total = total + part
    torch.testing.assert_close(back, step, **close)
    torch.testing.assert_close(inverse_logabsdet, total, **close)
    torch.testing.assert_close(back, x.detach(), rtol=0, atol=1e-12)


def test_couplings_with_hooks_or_own_mechanics_are_called_whole(registry):
    from flowkit import CouplingTransform, LawCoupling

    law = registry.coupling("additive")
    layer = LawCoupling(8, law=law(), hidden=4, depth=1)
    assert layer.split_key == (8, "interleaved")
    assert LawCoupling(7, law=law(), hidden=4, depth=1).split_key is None  # odd: no layout
    calls = []
    layer.register_forward_hook(lambda module, args, out: calls.append(1))
    assert layer.split_key is None

    class OwnForward(LawCoupling):
        def forward(self, inputs, context=None):
            return CouplingTransform.forward(self, inputs, context)

    assert OwnForward(8, law=law(), hidden=4, depth=1).split_key is None


# ---- other pipelines: image (glow), autoregressive (maf) ----------------------------------------
ONE_RUN = {"repeats": 1, "epochs": 1, "device": "cpu", "speed_rounds": 1, "speed_seconds": 0.01}


def bench_cli(*args):
    fixed = ["--epochs", "1", "--repeats", "1", "--speed-rounds", "1", "--device", "cpu"]
    return CliRunner().invoke(cli, ["bench", *fixed, *map(str, args)])


def assert_one_line_error(result, match):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and match in lines[0], lines


def test_glow_bench_end_to_end_records_the_pipeline(registry, tmp_path):
    if "rqspline" not in registry.coupling_names():
        pytest.skip("flowkit-spline (rqspline) not installed")
    out, laws = tmp_path / "glow.h5", ["--pipeline", "glow", "--couplings", "additive,rqspline"]
    result = bench_cli(*laws, "--hidden", 8, "--set", "steps=1", "--set", "levels=1", "--out", out)
    assert result.exit_code == 0, result.output
    record = read_bench_file(out)
    assert record.attrs["pipeline"] == record.pipeline == "glow"
    for law in record.couplings:
        config, summary = record.summaries[law]["config"], record.summaries[law]
        options = config["pipeline_options"]
        assert config["pipeline"] == "glow" and options["coupling"] == law
        assert options["hidden"] == 8 and options["steps"] == 1  # --hidden reaches glow's
        assert "layers" not in options and "depth" not in options
        assert np.isfinite(record.arrays[law]["test_nll"]).all()
        assert summary["round_trip_max_error"] < 1e-3 and summary["train_samples_per_s"] > 0
        # convolutions: no matmul bound, shown as n/a rather than a made-up number
        assert np.isnan(record.arrays[law]["matmul_bound_samples_per_s"]).all()
        assert math.isnan(summary["train_fraction_of_matmul_bound"])
    table = result.stdout.splitlines()
    assert [line.split()[0] for line in table[2:4]] == ["additive", "rqspline"]
    assert " n/a " in table[2] and "pipeline: glow" in table[4]
    assert (tmp_path / "glow.png").read_bytes()[:4] == b"\x89PNG"


def test_maf_bench_times_every_law_with_a_moderate_sample_batch(registry):
    model = {"layers": 2, "hidden": 64, "depth": 1}
    options = BenchOptions(pipeline="maf", pipeline_options=model, **ONE_RUN)
    assert options.sample_batch_size == 100  # sampling inverts one dimension at a time
    result = run_bench(registry, options)
    assert [law.law for law in result.laws] == list(options.couplings)
    for law in result.laws:
        summary = law.summary()
        assert law.config["pipeline"] == "maf" and math.isfinite(summary["test_nll_mean"])
        assert summary["round_trip_max_error"] < 1e-4 and summary["sample_samples_per_s"] > 0
        # MADE is linear layers: the bound applies
        assert math.isfinite(summary["train_fraction_of_matmul_bound"])


def test_each_pipeline_gets_small_default_sizes_of_its_own_options(registry):
    assert BenchOptions().base.pipeline_options == DEFAULT_MODEL
    for pipeline in ("nice", "realnvp", "glow", "maf"):
        declared = registry.get("pipeline", pipeline).defaults
        model = BenchOptions(pipeline=pipeline).base.pipeline_options
        assert model and set(model) <= set(declared), pipeline
        assert default_model(pipeline, declared) == model
    assert "layers" not in BenchOptions(pipeline="glow").base.pipeline_options
    assert default_model("someone-elses") == {}  # a plugin's pipeline: its own defaults


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--pipeline", "glw"], "unknown pipeline 'glw'; did you mean 'glow'?"),
        (["--pipeline", "glow", "--layers", "3"], "--layers: pipeline 'glow' has no option"),
        (["--pipeline", "realnvp", "--depth", "2"], "--depth: pipeline 'realnvp' has no option"),
        (["--pipeline", "glow", "--set", "depth=2"], "pipeline 'glow' has no option(s) depth"),
    ],
)
def test_an_unknown_pipeline_or_an_option_it_lacks_is_a_one_line_error(tmp_path, args, match):
    result = bench_cli(*args, "--out", tmp_path / "b.h5")
    assert_one_line_error(result, match)
    assert "data:" not in result.stderr and list(tmp_path.iterdir()) == []


def test_a_whole_old_style_coupling_layer_is_only_for_nice(install_dists, tmp_path):
    install_dists("fk_oldstyle")
    check_law(load_registry(), "nice", "oldstyle_affine")  # nice builds it, as before
    couplings = ["--couplings", "additive,oldstyle_affine"]
    result = bench_cli("--pipeline", "maf", *couplings, "--out", tmp_path / "b.h5")
    assert_one_line_error(result, "only the 'nice' pipeline can build, not 'maf'")
    assert not (tmp_path / "b.h5").exists()


def test_an_old_bench_file_without_a_pipeline_reads_as_nice(bench, tmp_path):
    path = write_bench_file(tmp_path / "old.h5", bench[0])
    with h5py.File(path, "r+") as handle:  # as written before bench took --pipeline
        del handle.attrs["pipeline"]
        options = json.loads(handle.attrs["options"].removeprefix("json:"))
        del options["pipeline"]
        handle.attrs["options"] = "json:" + json.dumps(options)
    record = read_bench_file(path)
    assert "pipeline" not in record.attrs["options"]
    assert record.pipeline == record.attrs["pipeline"] == "nice"
    assert "pipeline: nice" in format_table(record)
