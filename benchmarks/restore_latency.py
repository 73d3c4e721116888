"""Measure ``drd restore`` as a person feels it, against the sandbox, through a pseudo-terminal.

Two figures, medians of N runs (each a fresh ``drd`` process restoring the shop side by side into its own
namespace, answering the confirmation like a person):

* **start-up to plan**: from starting the process to the confirmation question being on the screen
  (the plan is printed just before it); target ≤ 1.5 s;
* **Enter to Restore**: from pressing Enter at the question to the Velero ``Restore`` existing in the
  target cluster (re-checking the backup, recording the run, taking the target's lock, the first step,
  creating the Restore); target ≤ 1 s.

Run: ``.venv/bin/python benchmarks/restore_latency.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drd import logs
from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_RESTORES
from drd.sandbox.environment import Sandbox, SandboxOptions
from drd.sandbox.files import write_files
from drd.sandbox.topology import default_topology

PLAN_TARGET = 1.5
ENTER_TARGET = 1.0
DRD = str(Path(sys.executable).with_name("drd"))
PROMPT = b"[y/N]"


def one_run(environment: dict[str, str], sandbox: Sandbox, index: int) -> tuple[float, float]:
    """(start-up → question, Enter → Restore exists) of one ``drd restore`` in a pseudo-terminal."""
    kube = sandbox.cluster("primary-east").kube
    before = {r["metadata"]["name"] for r in kube.list_objects(VELERO_RESTORES, namespace="velero").items}
    controller, terminal = pty.openpty()
    started = time.perf_counter()
    process = subprocess.Popen(
        [DRD, "restore", "shop", "--as", f"shop-bench-{index}"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=environment,
        close_fds=True,
    )
    os.close(terminal)
    seen = b""
    while PROMPT not in seen:
        ready, _, _ = select.select([controller], [], [], 30)
        if not ready:
            raise TimeoutError(f"no confirmation question after 30 s: {seen.decode(errors='replace')[-400:]}")
        seen += os.read(controller, 65536)
    plan_seconds = time.perf_counter() - started
    pressed = time.perf_counter()
    os.write(controller, b"y\r")
    while True:
        names = {r["metadata"]["name"] for r in kube.list_objects(VELERO_RESTORES, namespace="velero").items}
        if names - before:
            break
        if time.perf_counter() - pressed > 30:
            raise TimeoutError("no Restore 30 s after Enter")
        time.sleep(0.002)
    enter_seconds = time.perf_counter() - pressed
    _drain(controller, process)
    return plan_seconds, enter_seconds


def _drain(controller: int, process: subprocess.Popen[bytes]) -> None:
    """Read the terminal until the process ends (it would block writing otherwise)."""
    while process.poll() is None:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                os.read(controller, 65536)
            except OSError:
                break
    process.wait(timeout=60)
    os.close(controller)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    logs.configure(level="WARNING", fmt="console")
    options = SandboxOptions.fast()
    options.vault = False
    options.topology = default_topology(canary=False)
    with Sandbox(options) as sandbox, tempfile.TemporaryDirectory() as directory:
        paths = write_files(sandbox, Path(directory) / "sb")
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DRD_", "KUBECONFIG", "VAULT_"))},
            "DRD_CONFIG": str(paths["config"]),
            "DRD_STATE": str(Path(directory) / "drd.sqlite"),
            "KUBECONFIG": str(paths["kubeconfig"]),
            "TERM": "xterm",
        }
        kube = sandbox.cluster("primary-east").kube
        body = {
            "apiVersion": "velero.io/v1",
            "kind": "Backup",
            "metadata": {
                "name": "shop-bench",
                "labels": {"drd.dev/policy": "shop", "app.kubernetes.io/managed-by": "drd"},
            },
            "spec": {"includedNamespaces": ["shop"]},
        }
        kube.create(VELERO_BACKUPS, body, namespace="velero")
        deadline = time.monotonic() + 30
        while (
            (kube.get(VELERO_BACKUPS, "shop-bench", namespace="velero").get("status") or {}).get("phase")
        ) != "Completed":
            if time.monotonic() > deadline:
                raise TimeoutError("the benchmark's backup did not complete")
            time.sleep(0.05)
        one_run(environment, sandbox, 0)  # warm-up: page cache, discovery caches
        samples = [one_run(environment, sandbox, i) for i in range(1, args.runs + 1)]
    plans = [s[0] for s in samples]
    enters = [s[1] for s in samples]
    print(f"{'figure':<28} {'median':>9} {'min':>9} {'max':>9} {'target':>8}")
    for name, values, target in (("start-up to plan", plans, PLAN_TARGET), ("Enter to Restore", enters, ENTER_TARGET)):
        median = statistics.median(values)
        verdict = "ok" if median <= target else "OVER"
        print(
            f"{name:<28} {median * 1000:7.0f}ms {min(values) * 1000:7.0f}ms {max(values) * 1000:7.0f}ms"
            f" {target * 1000:6.0f}ms {verdict}"
        )
    print(f"{args.runs} runs, median; the sandbox in-process, drd as a separate process in a pseudo-terminal")


if __name__ == "__main__":
    main()
