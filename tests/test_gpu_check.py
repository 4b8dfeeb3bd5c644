"""benchmarks/gpu_check.sh: the smoke mode runs on a machine without CUDA, skips what needs
CUDA with the reason, and writes one results file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_smoke_mode_writes_one_results_file(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = subprocess.run(
        ["bash", str(SCRIPT), "--smoke"],
        cwd=ROOT,
        env={"OUT": str(out), "PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert set(results) >= {"environment", "contracts", "training", "throughput", "peers", "nccl"}
    runs = results["training"]["runs"]
    assert runs["fp32/eager"]["status"] == "ok"
    assert runs["bf16-mixed/eager"]["status"] == "ok"
    # bf16-mixed trains as well as float32 (a tiny model, one epoch; evaluation in float32).
    fp32, mixed = runs["fp32/eager"], runs["bf16-mixed/eager"]
    assert abs(fp32["test_bits_per_dim"] - mixed["test_bits_per_dim"]) < 0.05
    if not torch.cuda.is_available():
        assert "CUDA is not available here" in done.stdout
        assert runs["tf32/eager"] == {"status": "skipped", "reason": "tf32 needs CUDA"}
        assert results["nccl"]["status"] == "skipped"
        assert results["throughput"]["rows"]["tf32"]["status"] == "skipped"
    row = results["throughput"]["rows"]["fp32/batch64"]
    assert row["train_samples_per_s"] > 0 and row["fraction_of_bound"] > 0
