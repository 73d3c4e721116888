"""``drd runbook run`` as a real process, killed with SIGKILL mid-restore, then ``drd runbook resume`` in another.

The run restores a backup replicated from primary-east into dr-west. Velero is held with the restore
InProgress (``restore_outcome = "Stuck"``) so that the kill lands while the ``restore`` step waits for
it; the only thing the test reads to know where the run is, is the cluster (the Restore appeared) and
the store. After the kill the run is InProgress with an unfinished ``restore`` attempt, and its
target lock still names the dead process as executor, so an immediate resume is refused. Once that
heartbeat is older than the lock's duration (here: its ``renewTime`` is set back, standing for the
30 s a person would wait) ``drd runbook resume`` adopts the Restore the dead process created and
completes the run: one Restore, never two.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drd.clients.kube_resources import LEASES, VELERO_RESTORES
from drd.operations.leases import micro_time
from drd.outcomes import Phase
from drd.runbooks.engine.locks import Target
from drd.runbooks.engine.runner import step_key
from drd.sandbox.files import write_files
from drd.store import open_store
from tests.runbooks.engine.conftest import APPROVER, REQUESTER, RUNBOOKS, policy_backup
from tests.sandbox.fixtures import dr, primary, sandbox
from tests.sandbox.velero.support import eventually, synced

__all__ = ["dr", "primary", "sandbox"]

DRD = Path(sys.executable).with_name("drd")
START_SECONDS = 20.0
"""Interpreter start-up and imports of a fresh process, on a busy machine."""
TARGET = Target("dr-west", "shop-restored")


@pytest.fixture
def environment(sandbox, tmp_path: Path) -> dict[str, str]:
    """What ``source DIR/env`` gives a shell, with the repository's runbooks; nothing of ours leaks in."""
    paths = write_files(sandbox, tmp_path / "sb")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DRD_", "KUBECONFIG", "AWS_", "VAULT_"))}
    return inherited | {
        "DRD_CONFIG": str(paths["config"]),
        "DRD_STATE": str(paths["state"]),
        "KUBECONFIG": str(paths["kubeconfig"]),
        "DRD_RUNBOOKS": str(RUNBOOKS),
    }


@pytest.fixture
def started(environment: dict[str, str], tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes the test starts; any still running at teardown is killed."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def restores(dr) -> list[dict]:
    return dr.list_objects(VELERO_RESTORES, namespace="velero").items


def test_a_run_killed_mid_restore_is_resumed_by_another_process_with_exactly_one_restore(
    sandbox, primary, dr, environment, started, tmp_path
):
    """kill -9 while the restore runs; `drd runbook resume` adopts the Restore and the run completes with one."""
    policy_backup(primary, "shop-1")
    synced(dr, "shop-1")
    sandbox.velero_faults.restore_outcome = "Stuck"
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        started.append(
            subprocess.Popen(
                [str(DRD), "runbook", "run", "restore-app", "-p", "application=shop", "-p", "namespace=shop"],
                env=environment | {"DRD_ACTOR": REQUESTER},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        )
    process = started[0]

    def restoring() -> bool:
        assert process.poll() is None, log.read_text()
        return any((r.get("status") or {}).get("phase") == "InProgress" for r in restores(dr))

    eventually(restoring, timeout=START_SECONDS, interval=0.05)
    process.kill()
    assert process.wait(timeout=10) == -9

    with open_store(environment["DRD_STATE"]) as store:
        (run,) = store.list_runs()
        interrupted = [s for s in store.steps(run.id) if s.name == "restore"]
    assert run.phase is Phase.IN_PROGRESS
    assert [s.finished_at for s in interrupted] == [None]
    assert [r["metadata"]["name"] for r in restores(dr)] == [step_key(run.id, "restore")]

    def resume() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(DRD), "runbook", "resume", run.id, "--reason", "drd was killed"],
            env=environment | {"DRD_ACTOR": APPROVER},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    refused = resume()
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"run {run.id} is being executed by {REQUESTER}/" in refused.stderr

    stale = micro_time(datetime.now(UTC) - timedelta(minutes=5))
    dr.merge_patch(LEASES, TARGET.lease_name, {"spec": {"renewTime": stale}}, namespace="drd")
    sandbox.velero_faults.restore_outcome = None
    resumed = resume()

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "phase Completed" in resumed.stdout.splitlines()[0]
    assert [r["metadata"]["name"] for r in restores(dr)] == [step_key(run.id, "restore")]
    with open_store(environment["DRD_STATE"]) as store:
        attempts = [(s.phase, s.error_class) for s in store.steps(run.id) if s.name == "restore"]
        assert store.get_run(run.id).phase is Phase.COMPLETED
    assert attempts == [(Phase.FAILED, "interrupted"), (Phase.COMPLETED, None)]
    assert dr.find(LEASES, TARGET.lease_name, namespace="drd") is None
