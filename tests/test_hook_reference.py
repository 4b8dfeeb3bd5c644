"""The hook reference cannot disagree with flowkit/hookspecs.py, and what it says is true.

docs/plugins.md's hook reference is generated from the hookspec docstrings and the example
plugins under docs/examples/hooks/ (docs/hook_reference.py); here it is regenerated and
compared, every example is loaded as a plugin, checked with the contract kit and used the way
its docstring says the CLI accepts it, and the claims the manual makes about
``contract_examples`` and ``_split_params`` are checked on real layers.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from flowkit import CouplingTransform, Transform, hookspecs, load_registry
from flowkit.cli import cli
from flowkit.cli.component_options import OPTION_KINDS
from flowkit.hookspecs import REGISTRATION_HOOKS
from flowkit.io.runfile import read_run_record
from flowkit.testing import ContractError, check_component, check_transform

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import hook_reference  # noqa: E402

sys.path.remove(str(ROOT / "docs"))

HOOKS = [name for name, _ in hook_reference.hooks()]


def example(hook: str, monkeypatch) -> str:
    """Import docs/examples/hooks/<hook>.py as module ``example_<hook>``; returns its name."""
    name = f"example_{hook}"
    spec = importlib.util.spec_from_file_location(name, hook_reference.EXAMPLES / f"{hook}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, name, module)
    return name


def test_the_guide_holds_the_generated_reference():
    guide = hook_reference.GUIDE.read_text(encoding="utf-8")
    block = hook_reference.current_block(guide)
    assert block is not None, "docs/plugins.md lacks the hook reference markers"
    assert block == hook_reference.render(), "run: python docs/hook_reference.py"


def test_every_hook_is_in_the_reference_with_signature_and_example():
    assert set(HOOKS) == {
        name for name, value in vars(hookspecs).items() if hasattr(value, "flowkit_spec")
    }
    reference = hook_reference.render()
    for name, function in hook_reference.hooks():
        assert (hook_reference.EXAMPLES / f"{name}.py").exists(), f"no example for {name}"
        assert hook_reference.signature(name, function) in reference
        assert "Then " in (function.__doc__ or ""), f"{name}: say what the CLI then accepts"


def test_docstrings_state_what_the_nice_pipeline_passes(registry):
    nice = registry.get("pipeline", "nice")
    for kind, passed in nice.component_arguments.items():
        hook = next(h for h, k in REGISTRATION_HOOKS.items() if k == kind)
        doc = inspect.getdoc(getattr(hookspecs, hook))
        if kind in OPTION_KINDS:  # kinds with a --KIND-option flag
            assert f"**{kind}_options" in doc and f"--{kind}-option" in doc, hook
            for argument in passed:
                assert f"{argument}=" in doc, f"{hook} does not say it passes {argument}"
        else:  # chosen with --set KIND=NAME, options in KIND_options
            assert f"{kind}_options" in doc and f"--set {kind}=" in doc, hook
            for argument in passed:
                assert re.search(rf"\b{argument}\b", doc), (
                    f"{hook} does not say it passes {argument}"
                )
    priors = inspect.getdoc(hookspecs.flowkit_register_priors)
    assert "_log_prob(inputs, context)" in priors and "_sample_standard(num_samples)" in priors
    assert "**dataset_options" in inspect.getdoc(hookspecs.flowkit_register_datasets)
    assert "is an error at start-up" not in hookspecs.__doc__
    assert "did-you-mean" in hookspecs.__doc__


@pytest.mark.parametrize("hook", sorted(set(HOOKS) & set(REGISTRATION_HOOKS)))
def test_registration_example_registers_a_component_that_passes_the_kit(hook, monkeypatch):
    module = example(hook, monkeypatch)
    kind = REGISTRATION_HOOKS[hook]
    registry = load_registry(plugins=[module])
    entries = [entry for entry in registry if entry.plugin == module]
    assert entries and {entry.kind for entry in entries} == {kind}
    if kind != "tracker":  # trackers have no contract checks
        for entry in entries:
            check_component(kind, entry.component, registry)


def test_examples_work_together_as_the_cli_says(monkeypatch, tmp_path):
    kinds = ["couplings", "permutations", "scalings", "whitenings", "priors", "datasets"]
    plugins = [example(f"flowkit_register_{k}", monkeypatch) for k in kinds]
    out = tmp_path / "run.h5"
    result = CliRunner().invoke(
        cli,
        [*[a for p in plugins for a in ("-p", p)], "run", "nice",
         "--coupling", "tanh_affine", "--coupling-option", "bound=0.5",
         "--permutation", "roll", "--permutation-option", "shift=2",
         "--scaling", "start_scale", "--whitening", "center",
         "--prior", "laplace", "--prior-option", "scale=2",
         "--dataset", "line", "--dataset-option", "size=200",
         "--layers", "3", "--hidden", "8", "--depth", "1", "--epochs", "1",
         "--num-samples", "0", "--device", "cpu", "-q", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = read_run_record(out)
    options = record.config.pipeline_options
    assert options["coupling_options"] == {"bound": 0.5}
    assert options["prior_options"] == {"scale": 2}
    assert record.config.dataset_options == {"size": 200, "slope": 2.0}


TINY_RUN = ["--epochs", "1", "--num-samples", "0", "--device", "cpu", "--threads", "1", "-q"]
#: Each pipeline at a tiny size, on data it models: flat pipelines on 2-D points, image ones on
#: the 8x8 digits.
TINY_PIPELINES = {
    "nice": ["--dataset", "moons", "--layers", "3", "--hidden", "8", "--depth", "1"],
    "maf": ["--dataset", "moons", "--layers", "2", "--hidden", "8", "--depth", "1"],
    "realnvp": ["--dataset", "digits", "--set", "levels=1", "--set", "steps=1", "--hidden", "4"],
    "glow": ["--dataset", "digits", "--set", "levels=1", "--set", "steps=1", "--hidden", "4"],
}


@pytest.mark.parametrize("pipeline", list(TINY_PIPELINES))
def test_law_example_trains_in_every_pipeline(pipeline, monkeypatch, tmp_path):
    module = example("flowkit_register_coupling_laws", monkeypatch)
    out = tmp_path / "run.h5"
    result = CliRunner().invoke(
        cli,
        ["-p", module, "run", pipeline, "--coupling", "softsign_affine",
         "--coupling-option", "bound=0.5", *TINY_PIPELINES[pipeline], *TINY_RUN,
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read_run_record(out).config.pipeline_options["coupling_options"] == {"bound": 0.5}


def test_conditioner_example_is_chosen_with_set(monkeypatch, tmp_path):
    module = example("flowkit_register_conditioners", monkeypatch)
    out = tmp_path / "run.h5"
    result = CliRunner().invoke(
        cli,
        ["-p", module, "run", "nice", "--coupling", "affine", "--set", "conditioner=skip_tanh",
         "--set", 'conditioner_options={"skip": false}', *TINY_PIPELINES["nice"], *TINY_RUN,
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    options = read_run_record(out).config.pipeline_options
    assert options["conditioner"] == "skip_tanh"
    assert options["conditioner_options"] == {"skip": False}


def test_pipeline_example_runs_as_flowkit_run_name(monkeypatch, tmp_path):
    plugins = [example(h, monkeypatch) for h in ("flowkit_register_pipelines",
                                                  "flowkit_register_priors")]  # fmt: skip
    result = CliRunner().invoke(
        cli,
        [*[a for p in plugins for a in ("-p", p)], "run", "single", "--set", "hidden=8",
         "--set", "prior=laplace", "--set", 'prior_options={"scale": 2}', "--dataset", "moons",
         "--epochs", "1", "--num-samples", "0", "--device", "cpu", "-q",
         "--out", str(tmp_path / "run.h5")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_commands_example(monkeypatch):
    module = example("flowkit_register_commands", monkeypatch)
    result = CliRunner().invoke(cli, ["-p", module, "count-params", "additive", "--features", "4"])
    assert result.exit_code == 0, result.output
    assert int(result.stdout) > 0


def test_run_finished_example(monkeypatch, tmp_path):
    module = example("flowkit_run_finished", monkeypatch)
    monkeypatch.chdir(tmp_path)
    sys.modules[module].flowkit_run_finished("r.h5", "completed", {"test_bits_per_dim": 1.5})
    assert (tmp_path / "finished-runs.csv").read_text().strip() == "r.h5,completed,1.5"


# ---- the manual's claims about contract_examples and _split_params -----------------------------


class Householder(Transform):
    """``H = H_k ... H_1`` with ``H_i = I - 2 v v^T / |v|^2``; ``wrong_order`` inverts badly."""

    name = "householder_test"

    def __init__(self, features, *, reflections=1, wrong_order=False):
        super().__init__(features)
        self.vectors = torch.nn.Parameter(torch.randn(reflections, self.features))
        self.wrong_order = wrong_order

    def _reflect(self, x, order):
        for v in order:
            v = v / v.norm()
            x = x - 2 * (x @ v)[:, None] * v
        return x

    def forward(self, inputs, context=None):
        return self._reflect(inputs, self.vectors), inputs.new_zeros(inputs.shape[0])

    def inverse(self, inputs, context=None):
        order = self.vectors if self.wrong_order else self.vectors.flip(0)
        return self._reflect(inputs, order), inputs.new_zeros(inputs.shape[0])


def test_a_wrong_inverse_order_passes_with_one_reflection_and_fails_with_three():
    check_transform(lambda: Householder(6, reflections=1, wrong_order=True), 6)
    check_transform(lambda: Householder(6, reflections=3), 6)
    with pytest.raises(ContractError, match="invert"):
        check_transform(lambda: Householder(6, reflections=3, wrong_order=True), 6)


def test_split_params_order_is_as_documented():
    class Two(CouplingTransform):
        name = "two"
        params_per_dim = 2

    layer = Two(6, hidden=4, depth=1)  # |x2| = 3
    params = torch.arange(6.0).expand(2, 6)
    first, second = layer._split_params(params)
    assert first[0].tolist() == [0.0, 1.0, 2.0] and second[0].tolist() == [3.0, 4.0, 5.0]


# ---- the tutorial's plugin, written from docs/plugin-tutorial.md alone -------------------------


@pytest.mark.slow
def test_tutorial_plugin_passes_its_own_test_file(tmp_path):
    """Every file the tutorial shows, written out and tested with the tutorial's test file
    (not installed: the test file loads it with `-p` and `contract_test` by module name)."""
    text = (ROOT / "docs" / "plugin-tutorial.md").read_text(encoding="utf-8")
    files = re.findall(r"^`([\w./-]+)`:\n\n```\w*\n(.*?)^```", text, re.S | re.M)
    names = {name for name, _ in files}
    assert {
        "pyproject.toml",
        "flowkit_bounded/plugin.py",
        "tests/test_flowkit_bounded.py",
    } <= names
    for name, body in files:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path,  # the tutorial's pyproject.toml puts "." on pytest's path: no install
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"(\d+) passed", result.stdout)
    assert int(re.search(r"(\d+) passed", result.stdout).group(1)) >= 20
