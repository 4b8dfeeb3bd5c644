#!/usr/bin/env bash
# flowkit's GPU path in one command; writes one JSON results file (see benchmarks/gpu_check.py).
#
#   bash benchmarks/gpu_check.sh                 # on a CUDA machine: the full check (< 8 min)
#   bash benchmarks/gpu_check.sh --small         # tiny sizes: a few minutes on a CPU
#   bash benchmarks/gpu_check.sh --smoke         # seconds; what tests/test_gpu_check.py runs
#   OUT=path.json bash benchmarks/gpu_check.sh   # results file [benchmarks/results/gpu_check.json]
#
# Without CUDA, the parts that need it (tf32, CUDA graphs, NCCL, CUDA contract checks) are
# skipped with a message and the rest runs on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
OUT="${OUT:-benchmarks/results/gpu_check.json}"
if ! "$PYTHON" -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: CUDA is not available here; skipping what needs it, running the rest on CPU"
fi
exec "$PYTHON" benchmarks/gpu_check.py --out "$OUT" "$@"
