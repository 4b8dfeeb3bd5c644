"""`flowkit bench` on the command line, and the peer-comparison script's smoke mode."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from flowkit.cli import cli
from flowkit.io.benchfile import read_bench_file

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--dataset",
    "digits",
    "--layers",
    "3",
    "--hidden",
    "8",
    "--depth",
    "1",
    "--epochs",
    "1",
    "--repeats",
    "1",
    "--speed-rounds",
    "1",
    "--device",
    "cpu",
]


def flowkit(*args):
    return CliRunner().invoke(cli, [*map(str, args)])


def assert_one_line_error(result, match):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert match in lines[0]


def test_bench_writes_file_table_and_figure(tmp_path):
    out = tmp_path / "b.h5"
    result = flowkit("bench", *TINY, "--couplings", "additive,multiplicative", "--out", out)
    assert result.exit_code == 0, result.output
    rows = [line.split()[0] for line in result.stdout.splitlines()[2:4]]
    assert rows == ["additive", "multiplicative"]
    assert "additive seed 0: test NLL" in result.stderr
    record = read_bench_file(out)
    assert record.couplings == ["additive", "multiplicative"]
    assert record.attrs["command"].startswith("flowkit bench --couplings additive,multiplicative")
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_unknown_coupling_is_one_line_error_and_writes_nothing(tmp_path):
    result = flowkit("bench", *TINY, "--couplings", "additive,afine", "--out", tmp_path / "b.h5")
    assert_one_line_error(result, "unknown coupling 'afine'; did you mean 'affine'?")
    assert list(tmp_path.iterdir()) == []


def test_existing_out_needs_force(tmp_path):
    out = tmp_path / "b.h5"
    out.write_bytes(b"keep me")
    result = flowkit("bench", *TINY, "--couplings", "additive", "--out", out)
    assert_one_line_error(result, "already exists; pass --force")
    assert out.read_bytes() == b"keep me"
    result = flowkit(
        "bench", *TINY, "--couplings", "additive", "--out", out, "--force", "--no-figure", "-q"
    )
    assert result.exit_code == 0, result.output
    assert h5py.is_hdf5(out) and not (tmp_path / "b.png").exists()
    assert result.stderr == ""


def test_existing_figure_needs_force_too(tmp_path):
    (tmp_path / "b.png").write_bytes(b"old")
    result = flowkit("bench", *TINY, "--out", tmp_path / "b.h5")
    assert_one_line_error(result, "--figure")
    assert not (tmp_path / "b.h5").exists()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--epochs", "-1"], "-1"),
        (["--repeats", "0"], "0"),
        (["--amp", "int8"], "int8"),
    ],
)
def test_bad_numbers_are_usage_errors(tmp_path, args, match):
    result = flowkit("bench", *TINY, *args, "--out", tmp_path / "b.h5")
    assert result.exit_code == 2 and match in result.output
    assert not (tmp_path / "b.h5").exists()


PEERS = ("normflows", "zuko", "FrEIA")


@pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in PEERS),
    reason="peer libraries not installed (pip install -e .[peers])",
)
def test_peer_comparison_quick_mode(tmp_path):
    out = tmp_path / "peers.h5"
    script = ROOT / "benchmarks" / "compare_peers.py"
    done = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "same function:" in done.stdout
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "flowkit-peer-comparison" and f.attrs["quick"]
        builds = set(f["check"])
        assert builds == {"flowkit", "torch", "nflows", "normflows", "zuko", "freia"}
        for name in builds:
            assert f["check"][name].attrs["log_prob_max_abs_diff"] < 1e-2
            assert f["check"][name].attrs["round_trip_max_abs_error"] < 1e-4
        assert f["summary"]["flowkit"].attrs["flowkit_train_ratio"] == pytest.approx(1.0)
        assert f["summary"]["zuko:adam-fused"].attrs["train_samples_per_s"] > 0


def test_peer_comparison_refuses_to_overwrite(tmp_path, capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "compare_peers", ROOT / "benchmarks" / "compare_peers.py"
    )
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "compare_peers", module)  # dataclasses look it up
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script prepends benchmarks/
    spec.loader.exec_module(module)
    out = tmp_path / "peers.h5"
    out.write_bytes(b"keep")
    assert module.main(["--quick", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == b"keep"
