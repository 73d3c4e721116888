"""Sandbox start-up time (target ≤ 5 s): three clusters with Velero, moto S3 with replication, OpenBao.

Run: ``.venv/bin/python benchmarks/sandbox_start.py [--runs N]``. Prints each run's
start and stop time, the median, and its ratio to the target. Each run is a
fresh process-level sandbox (moto server included), as ``drd sandbox up`` does.
"""

from __future__ import annotations

import argparse
import statistics
import time

from drd import logs
from drd.sandbox.environment import Sandbox, SandboxOptions

TARGET_SECONDS = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logs.configure(level="WARNING", fmt="console")
    starts = []
    for run in range(1, args.runs + 1):
        began = time.perf_counter()
        sandbox = Sandbox(SandboxOptions()).start()
        started = time.perf_counter()
        sandbox.stop()
        stopped = time.perf_counter()
        starts.append(started - began)
        print(f"run {run}: start {started - began:.2f}s  stop {stopped - started:.2f}s")
    median = statistics.median(starts)
    print(f"median start {median:.2f}s; target <= {TARGET_SECONDS:.0f}s; ratio {median / TARGET_SECONDS:.2f}")


if __name__ == "__main__":
    main()
