"""Measure how fast ``drd --help`` (and other cheap commands) start; target ≤ 0.3 s.

Run: ``.venv/bin/python benchmarks/cli_startup.py [--runs N]``. Prints the median
and minimum wall time of each command over N runs, the bare interpreter for
reference, and the ratio of the median to the target.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.3
DRD = str(Path(sys.executable).with_name("drd"))
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "drd --help": [DRD, "--help"],
    "drd --version": [DRD, "--version"],
    "drd policies --help": [DRD, "policies", "--help"],
}


def time_command(argv: list[str], runs: int) -> list[float]:
    """Wall time of each of ``runs`` executions (after one warm-up)."""
    subprocess.run(argv, check=True, capture_output=True)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(f"{'command':<24} {'median':>8} {'min':>8} {'vs target':>10}")
    for name, argv in COMMANDS.items():
        samples = time_command(argv, args.runs)
        median = statistics.median(samples)
        ratio = "" if name.startswith("python") else f"{median / TARGET_SECONDS:.2f}x"
        print(f"{name:<24} {median * 1000:7.1f}ms {min(samples) * 1000:7.1f}ms {ratio:>10}")
    print(f"target: drd --help median <= {TARGET_SECONDS * 1000:.0f} ms (ratio <= 1.00x)")


if __name__ == "__main__":
    main()
