"""Fault matrix, backup-observation row: the daemon's ``BackupObserver`` watching primary-east's Backups.

Invariants: each Backup is recorded in the store in the phase Velero gave it (a failed one never as
Completed, an unfinished one never as finished), each finished Backup is counted exactly once, and once
the fault is cleared the next backup is observed and counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drd.clients.kube_resources import VELERO_BACKUPS
from drd.clock import SystemClock
from drd.daemon.backup_observer import BackupObserver
from drd.operations.notify import Notifier
from drd.outcomes import Outcome
from drd.policy.loader import load_config
from drd.sandbox.environment import Sandbox
from drd.sandbox.files import write_files
from drd.sandbox.topology import PRIMARY_BUCKET
from drd.store import Store, open_store
from tests.faults.support import cleared
from tests.sandbox.fixtures import primary, sandbox
from tests.sandbox.velero.support import eventually

__all__ = ["primary", "sandbox"]
LABELS = {"drd.dev/policy": "shop", "app.kubernetes.io/managed-by": "drd"}


class Observing:
    """A BackupObserver over primary-east (a new one stands for a restarted daemon), its store and its counts."""

    def __init__(self, sandbox: Sandbox, tmp_path: Path) -> None:
        self.sandbox = sandbox
        self.config = load_config([str(write_files(sandbox, tmp_path / "sb")["config"])])
        self.store: Store = open_store(str(tmp_path / "drd.sqlite"))
        self.counted: list[Outcome] = []
        self.observer: BackupObserver | None = None

    def start(self) -> None:
        self.observer = BackupObserver(
            store=self.store,
            record_metrics=self.counted.append,
            notifier=Notifier(webhook_url=None),
            clock=SystemClock(),
        )
        cluster = self.config.clusters["primary-east"]
        self.observer.watch({"primary-east": (cluster, self.sandbox.cluster("primary-east").kube)})
        assert self.observer.synced(timeout=30)

    def kill(self) -> None:
        """The daemon dies: its informers stop, nothing else happens."""
        assert self.observer is not None
        self.observer.stop()

    def phase(self, name: str) -> str | None:
        found = [b for b in self.store.backups(policy="shop", include_deleted=True) if b.name == name]
        return found[0].phase if found else None

    def counts(self, name: str) -> int:
        return sum(1 for o in self.counted if o.details.get("backup") == name)


@pytest.fixture
def observing(sandbox: Sandbox, tmp_path: Path) -> Iterator[Observing]:
    watcher = Observing(sandbox, tmp_path)
    yield watcher
    if watcher.observer is not None:
        watcher.observer.stop()
    watcher.store.close()


def backup(sandbox: Sandbox, name: str) -> None:
    """A Backup of the shop policy, created in-cluster (not through drd's faulted connection)."""
    body = {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": name, "labels": LABELS},
        "spec": {"includedNamespaces": ["shop"]},
    }
    sandbox.cluster("primary-east").emulator.store.create("backups", body, namespace="velero")


def velero_phase(sandbox: Sandbox, name: str) -> str | None:
    found: dict[str, Any] = sandbox.cluster("primary-east").emulator.store.get("backups", name, namespace="velero")
    return (found.get("status") or {}).get("phase")


def finished(sandbox: Sandbox, name: str) -> str:
    terminal = {"Completed", "PartiallyFailed", "Failed", "FailedValidation"}
    return str(eventually(lambda: (p := velero_phase(sandbox, name)) in terminal and p, timeout=30))


def healthy(observing: Observing, name: str = "after") -> None:
    """The fault cleared, the next backup is observed Completed and counted once."""
    backup(observing.sandbox, name)
    assert finished(observing.sandbox, name) == "Completed"
    eventually(lambda: observing.phase(name) == "Completed" and observing.counts(name) == 1, timeout=30)


def assert_observed_once(observing: Observing, name: str, phase: str) -> None:
    eventually(lambda: observing.phase(name) == phase and observing.counts(name) == 1, timeout=30)
    (outcome,) = [o for o in observing.counted if o.details.get("backup") == name]
    assert outcome.phase.value == phase
    assert outcome.phase.succeeded is (phase == "Completed")


@pytest.mark.parametrize(
    ("fault", "faults"),
    [("500 storm", {"error_rate": 1.0, "status": 500}), ("high latency", {"latency": 0.3})],
)
def test_api_faults_while_a_backup_finishes_are_caught_up_and_counted_once(sandbox, observing, fault, faults):
    """drd's reads of primary-east fail or crawl while a backup completes: recorded Completed, counted once."""
    observing.start()
    with cleared(sandbox):
        sandbox.cluster("primary-east").emulator.set_faults(**faults)
        backup(sandbox, "during")
        assert finished(sandbox, "during") == "Completed"
    assert_observed_once(observing, "during", "Completed")
    healthy(observing)


def test_the_cluster_down_and_back_is_caught_up_without_double_counting(sandbox, observing):
    """primary-east goes down after a backup was counted and comes back with a new one: each counted once."""
    observing.start()
    backup(sandbox, "before")
    assert finished(sandbox, "before") == "Completed"
    assert_observed_once(observing, "before", "Completed")
    emulator = sandbox.cluster("primary-east").emulator
    emulator.go_down()
    emulator.come_up()
    backup(sandbox, "during")
    assert finished(sandbox, "during") == "Completed"
    assert_observed_once(observing, "during", "Completed")
    assert observing.counts("before") == 1
    healthy(observing)


@pytest.mark.parametrize("outcome", ["Failed", "PartiallyFailed"])
def test_a_failed_backup_is_recorded_and_counted_as_failed_never_completed(sandbox, observing, outcome):
    """Velero ends the backup Failed or PartiallyFailed: the store and the count say so; no good backup."""
    observing.start()
    with cleared(sandbox):
        sandbox.velero_faults.backup_outcome = outcome
        backup(sandbox, "bad")
        assert finished(sandbox, "bad") == outcome
    assert_observed_once(observing, "bad", outcome)
    assert observing.store.last_good_backup("shop") is None
    healthy(observing)


def test_a_stuck_backup_is_never_recorded_as_finished(sandbox, observing):
    """Velero leaves the backup InProgress: recorded InProgress, not counted, not a good backup."""
    observing.start()
    with cleared(sandbox):
        sandbox.velero_faults.backup_outcome = "Stuck"
        backup(sandbox, "stuck")
        eventually(lambda: observing.phase("stuck") == "InProgress", timeout=30)
        assert observing.counts("stuck") == 0
        assert observing.store.last_good_backup("shop") is None
    healthy(observing)


def test_the_bucket_gone_fails_backups_and_they_are_recorded_failed(sandbox, observing):
    """The primary's bucket disappears: the next backup fails, recorded and counted as failed."""
    observing.start()
    sandbox.remove_bucket(PRIMARY_BUCKET)
    sandbox.cluster("primary-east").velero.run_periodic_now()
    backup(sandbox, "nowhere")
    phase = finished(sandbox, "nowhere")
    assert phase in ("Failed", "FailedValidation")
    assert_observed_once(observing, "nowhere", phase)
    assert observing.store.last_good_backup("shop") is None
    sandbox.buckets[PRIMARY_BUCKET].create()
    sandbox.cluster("primary-east").velero.run_periodic_now()
    healthy(observing)


def test_a_killed_observer_is_caught_up_by_the_next_one_without_double_counting(sandbox, observing):
    """The daemon dies after counting one backup; another finishes meanwhile; the restarted one counts only it."""
    observing.start()
    backup(sandbox, "before")
    assert finished(sandbox, "before") == "Completed"
    assert_observed_once(observing, "before", "Completed")
    observing.kill()
    backup(sandbox, "while-dead")
    assert finished(sandbox, "while-dead") == "Completed"
    observing.start()  # a restarted daemon on the same store
    assert_observed_once(observing, "while-dead", "Completed")
    assert observing.counts("before") == 1
    assert len(sandbox.cluster("primary-east").kube.list_objects(VELERO_BACKUPS, namespace="velero").items) == 2
    healthy(observing)
