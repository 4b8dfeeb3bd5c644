"""Every component kind takes options the same way, from the CLI and from Python; they are
checked against the constructor, recorded in the run file and applied again on reload.

Datasets follow one contract: options are keyword arguments of the constructor, unknown ones
are an error, and the resolved options (defaults included) are recorded automatically.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from flowkit import ConfigurationError, Dataset, dataset_options, load_registry
from flowkit.cli import cli
from flowkit.io.runfile import load_run, read_run_record
from flowkit.options import check_options, constructor_options
from flowkit.run.config import RunConfig
from flowkit.run.runner import resume_run, start_run
from flowkit.train.options import TrainOptions
from flowkit.train.topology import default_topology
from flowkit.train.trainer import Callback

TINY = ["--layers", "3", "--hidden", "8", "--depth", "1", "--num-samples", "2",
        "--device", "cpu", "-q"]  # fmt: skip


def flowkit(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    return errors[0]


def nice(registry, **options):
    pipeline = registry.get("pipeline", "nice")()
    config = pipeline.resolve(**{"layers": 3, "hidden": 8, "depth": 1, **options})
    return pipeline.build(registry, 4, config)


# ---- every kind the NICE pipeline composes ------------------------------------------------------


def test_python_options_reach_every_kind(registry):
    flow = nice(
        registry,
        coupling="affine",
        coupling_options={"scale_bound": "exp"},
        permutation="lu",
        permutation_options={"bias": False},
        scaling="diagonal",
        scaling_options={"min_std": 1e-3},
        whitening="zca",
        whitening_options={"eps": 1e-3},
    )
    layers = {type(t).__name__: t for t in flow.transform}
    assert layers["LawCoupling"].law.scale_bound == "exp"
    assert "bias" not in dict(layers["LULinear"].named_parameters())
    assert layers["DiagonalScaling"].min_std == 1e-3
    assert layers["ZCAWhitening"].eps == 1e-3


def test_python_unknown_option_lists_the_known_ones(registry):
    with pytest.raises(
        ConfigurationError,
        match=r"permutation 'lu' has no option 'biass'; "
        r"did you mean 'bias'\? \(its options: bias=True\)",
    ):
        nice(registry, permutation="lu", permutation_options={"biass": False})
    with pytest.raises(ConfigurationError, match="gets 'hidden' from the pipeline"):
        nice(registry, coupling_options={"hidden": 4})
    with pytest.raises(ConfigurationError, match="no scaling"):
        nice(registry, scaling="none", scaling_options={"min_std": 1.0})


@pytest.mark.parametrize(
    ("flag", "value", "match"),
    [
        ("--coupling-option", "bogus=1", "coupling 'additive' has no option 'bogus'"),
        ("--permutation-option", "bogus=1", "permutation 'reverse' has no option 'bogus'"),
        ("--scaling-option", "bogus=1", "scaling 'diagonal' has no option 'bogus'"),
        ("--whitening-option", "bogus=1", "whitening 'zca' has no option 'bogus'"),
        ("--prior-option", "bogus=1", "prior 'logistic' has no option 'bogus'"),
    ],
)
def test_cli_unknown_component_option_is_one_line_before_any_data(tmp_path, flag, value, match):
    out = tmp_path / "run.h5"
    result = flowkit(
        "run",
        "nice",
        "--dataset",
        "moons",
        "--permutation",
        "reverse",
        "--whitening",
        "zca",
        flag,
        value,
        *TINY,
        "--out",
        out,
    )
    assert match in one_line_error(result) and "its options:" in result.stderr
    assert not out.exists()


def test_cli_prior_option_is_recorded_and_applied_by_eval_and_sample(install_dists, tmp_path):
    install_dists("fk_options")
    out = tmp_path / "run.h5"
    result = flowkit(
        "run",
        "nice",
        "--dataset",
        "moons",
        "--prior",
        "opt_laplace",
        "--prior-option",
        "scale=2",
        "--permutation",
        "opt_roll",
        "--permutation-option",
        "shift=2",
        "--epochs",
        1,
        *TINY,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    options = read_run_record(out).config.pipeline_options
    assert options["prior_options"] == {"scale": 2}
    assert options["permutation_options"] == {"shift": 2}
    run = load_run(out, load_registry())
    assert run.flow.prior.scale == 2.0 and run.flow.prior.stddev == pytest.approx(2 * 2**0.5)
    evaluated = flowkit("eval", out, "--json", "--device", "cpu")
    assert evaluated.exit_code == 0, evaluated.output
    recorded = run.results["test_log_likelihood_nats"]
    assert json.loads(evaluated.stdout)["log_likelihood_nats"] == pytest.approx(recorded)
    sampled = flowkit("sample", out, "--device", "cpu", "--out", tmp_path / "s.npy", "-n", 3)
    assert sampled.exit_code == 0, sampled.output


class _StopAfterFirstEpoch(Callback):
    def __init__(self, topology) -> None:
        self.topology = topology

    def on_epoch_end(self, end) -> None:
        self.topology.request_stop()


def test_resume_applies_the_recorded_component_options(install_dists, tmp_path):
    install_dists("fk_options")
    registry = load_registry()
    config = RunConfig(
        pipeline="nice",
        pipeline_options=registry.get("pipeline", "nice")().resolve(
            layers=3, hidden=8, depth=1, prior="opt_laplace", prior_options={"scale": 0.5}
        ),
        dataset="opt_line",
        dataset_options={"size": 150},
        train=TrainOptions(epochs=5, patience=0, device="cpu"),
        num_samples=0,
    )
    topology = default_topology()
    out = tmp_path / "run.h5"
    first = start_run(
        registry,
        config,
        out,
        progress="none",
        topology=topology,
        callbacks=[_StopAfterFirstEpoch(topology)],
    )
    assert first.status == "interrupted"
    resumed = resume_run(load_registry(), out, progress="none")
    assert resumed.status == "completed"
    record = read_run_record(out)
    assert record.config.pipeline_options["prior_options"] == {"scale": 0.5}
    assert load_run(out, load_registry()).flow.prior.scale == 0.5


# ---- datasets: keyword arguments, checked, recorded --------------------------------------------


def test_dataset_option_unknown_is_an_error(install_dists, tmp_path):
    error = one_line_error(
        flowkit(
            "run",
            "nice",
            "--dataset",
            "digits",
            "--dataset-option",
            "colour=red",
            *TINY,
            "--out",
            tmp_path / "a.h5",
        )
    )
    assert "dataset 'digits' has no option 'colour'" in error
    install_dists("fk_options")
    error = one_line_error(
        flowkit(
            "run",
            "nice",
            "--dataset",
            "opt_line",
            "--dataset-option",
            "sise=10",
            *TINY,
            "--out",
            tmp_path / "b.h5",
        )
    )
    assert "did you mean 'size'?" in error and "size=300, slope=2.0" in error


def test_dataset_options_are_recorded_and_eval_rebuilds_the_same_data(install_dists, tmp_path):
    install_dists("fk_options")
    out = tmp_path / "run.h5"
    result = flowkit(
        "run",
        "nice",
        "--dataset",
        "opt_line",
        "--dataset-option",
        "size=120",
        "--epochs",
        1,
        *TINY,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    record = read_run_record(out)
    assert record.config.dataset_options == {"size": 120, "slope": 2.0}
    assert sum(record.dataset_info.sizes.values()) == 120
    evaluated = flowkit("eval", out, "--json", "--device", "cpu")
    assert evaluated.exit_code == 0, evaluated.output
    assert "differs" not in evaluated.stderr
    assert json.loads(evaluated.stdout)["examples"] == record.dataset_info.sizes["test"]


def test_dataset_options_helper_is_public_and_resolves_defaults(install_dists):
    install_dists("fk_options")
    line = load_registry().get("dataset", "opt_line")
    assert dataset_options(line, {"slope": 3}) == {"size": 300, "slope": 3}
    with pytest.raises(ConfigurationError, match="gets 'seed' from the pipeline"):
        dataset_options(line, {"seed": 3})
    with pytest.raises(ConfigurationError, match="has no option 'colour'"):
        line(colour="red")  # straight from Python too


def test_constructor_options_follow_kwargs_into_the_base_class():
    class Base(Dataset):
        name = "base"

        def __init__(self, *, size=1, **common):
            super().__init__(**common)

    class Child(Base):
        name = "child"

        def __init__(self, *, noise=0.5, **common):
            super().__init__(**common)

    known = constructor_options(Child, reserved=["data_dir", "seed"], last=Dataset)
    assert {"noise", "size", "validation_fraction", "test_fraction"} == set(known)
    check_options(Child, {"size": 3, "noise": 1.0}, what="dataset 'child'", last=Dataset)
    with pytest.raises(ConfigurationError, match=r"its options: noise=0.5, size=1"):
        check_options(Child, {"nois": 1.0}, what="dataset 'child'", last=Dataset)
