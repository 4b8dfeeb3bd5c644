"""A light core: what `import flowkit` and `flowkit --help` load, and extras that say what is
missing in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import tomllib
from click.testing import CliRunner

from flowkit.cli import cli
from flowkit.extras import EXTRAS

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("matplotlib", "sklearn", "mlxtend", "pandas", "tensorboard", "mlflow")


def _python(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def _loaded_after(code: str) -> list[str]:
    probe = (
        f"{code}\nimport json, sys\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = _python(probe)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_flowkit_loads_no_heavy_optional_library():
    loaded = _loaded_after("import flowkit")
    assert not set(HEAVY) & set(loaded), sorted(set(HEAVY) & set(loaded))


def test_flowkit_help_imports_no_command_implementation_or_heavy_library():
    code = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from flowkit.cli import cli\n"
        "result = CliRunner().invoke(cli, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    modules = set(json.loads(result.stdout.strip().splitlines()[-1]))
    unwanted = {"h5py", "scipy", "nflows.transforms", "flowkit.run.runner", "flowkit.cli.run_cmd"}
    unwanted |= {m for m in modules if m.startswith("flowkit_builtins.commands.")}
    unwanted |= set(HEAVY)
    assert not modules & unwanted, sorted(modules & unwanted)


def test_nflows_classes_are_shared_when_nflows_is_imported_later():
    code = (
        "import flowkit\n"
        "from nflows.flows.base import Flow as NF\n"
        "from nflows.transforms import Transform as NT, CompositeTransform\n"
        "from nflows.distributions.base import Distribution as ND\n"
        "import nflows.transforms.base as base\n"
        "assert issubclass(flowkit.Transform, NT) and issubclass(flowkit.Flow, NF)\n"
        "assert issubclass(flowkit.Prior, ND) and base.Transform is NT\n"
        "assert issubclass(flowkit.InputOutsideDomain, base.InputOutsideDomain)\n"
        "print('ok')"
    )
    result = _python(code)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_help_lists_builtin_commands_registered_through_the_hook():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("run", "eval", "plugins", "sample", "inpaint", "report", "bench", "new-plugin"):
        assert f"  {name} " in result.output, name


def test_blocking_the_builtin_commands_plugin_removes_its_commands():
    result = CliRunner().invoke(cli, ["-p", "no:flowkit.commands", "sample", "--help"])
    assert result.exit_code == 2
    assert "No such command 'sample'" in result.output
    # the core commands stay
    assert CliRunner().invoke(cli, ["-p", "no:flowkit.commands", "run", "--help"]).exit_code == 0


def test_a_missing_extra_is_one_line_naming_the_extra(runs, tmp_path):
    out = tmp_path / "grid.png"
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if flowkit[plots] were not installed\n"
        "from flowkit.cli import main\n"
        f"sys.argv = ['flowkit', 'sample', {str(runs['digits'])!r}, '-n', '4', '--out', "
        f"{str(out)!r}]\n"
        "main()"
    )
    result = _python(code, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "needs matplotlib: pip install 'flowkit[plots]'" in lines[0]
    assert not out.exists()


def test_extras_in_pyproject_match_flowkit_extras():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for extra, packages in EXTRAS.items():
        names = {
            spec.split(">")[0].split("=")[0].split("[")[0].strip() for spec in declared[extra]
        }
        assert set(packages) <= names, (extra, names)
    everything = declared["all"][0]
    assert all(extra in everything for extra in EXTRAS), everything


def test_core_dependencies_leave_out_the_optional_packages():
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {spec.split(">")[0].split("=")[0].strip() for spec in core}
    assert not names & {"matplotlib", "scikit-learn", "mlxtend", "tensorboard", "mlflow"}
