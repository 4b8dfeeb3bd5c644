"""Start-up cost of the command line: ``flowkit --help`` against ``python -c "import torch"``.

Both are run alternately in fresh processes, so the machine's load hits them alike; the ratio of
the medians is the figure (goal: <= 1.2, torch's import being the floor for any torch program).

    python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    flowkit = shutil.which("flowkit") or f"{sys.prefix}/bin/flowkit"
    help_times, torch_times = [], []
    for _ in range(runs):
        help_times.append(seconds([flowkit, "--help"]))
        torch_times.append(seconds([sys.executable, "-c", "import torch"]))
    help_median, torch_median = statistics.median(help_times), statistics.median(torch_times)
    print(
        f"flowkit --help {help_median:.3f} s, import torch {torch_median:.3f} s "
        f"(medians of {runs}); ratio {help_median / torch_median:.2f}"
    )


if __name__ == "__main__":
    main()
