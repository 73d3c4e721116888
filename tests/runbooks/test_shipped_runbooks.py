"""The shipped runbooks (``runbooks/*.yaml``) run end to end through the engine against the sandbox.

Aspects covered: ``restore-app`` restores a backup made in primary-east and replicated to dr-west
side by side into dr-west; ``failover-region`` opens dr-west's copy of primary-east's location for
writing, restores both applications and reports; ``verify-backup-storage`` passes when the
replicated location is Available with backups, and fails naming the reason when there are none
or the bucket is gone; ``pre-upgrade-backup`` leaves a Completed backup of the whole cluster;
a dry run of each changes nothing in any cluster or in the store.
"""

from __future__ import annotations

import pytest

from drd.clients.errors import StorageUnavailable
from drd.clients.kube_resources import (
    LEASES,
    NAMESPACES,
    VELERO_BACKUPS,
    VELERO_RESTORES,
    VELERO_STORAGE_LOCATIONS,
)
from drd.outcomes import Phase
from drd.runbooks.engine.planner import plan
from drd.runbooks.steps import default_actions
from tests.runbooks.engine.conftest import (
    APPROVER,
    REQUESTER,
    dr,
    engine,
    make_engine,
    policy_backup,
    primary,
    sandbox,
    settings,
    shipped,
    store,
)
from tests.sandbox.velero.support import eventually, synced

__all__ = ["dr", "engine", "make_engine", "primary", "sandbox", "settings", "shipped", "store"]

REPLICA_BUCKET = "drd-backups-us-west-2"
"""dr-west's bucket: its own backups and the replica of primary-east's, read through location primary-east."""


def replicated_backup(primary, dr, name: str, *, policy: str = "shop", namespace: str = "shop") -> dict:
    """A Completed backup of ``policy`` made in primary-east, once backup sync has brought it into dr-west."""
    policy_backup(primary, name, policy=policy, namespaces=(namespace,))
    return synced(dr, name)


def remove_replica_bucket(sandbox) -> None:
    """Break replication and delete dr-west's bucket (a pass copying into it when paused may still land: retry)."""
    sandbox.pause_replication()

    def removed() -> bool:
        try:
            sandbox.remove_bucket(REPLICA_BUCKET)
        except StorageUnavailable:
            return False
        return True

    eventually(removed, timeout=5)


def step_phases(store, run_id: str) -> dict[str, str]:
    """Latest phase of each step, by step id."""
    return {step.name: step.phase.value for step in store.steps(run_id)}


def location(kube, name: str) -> dict:
    """A BackupStorageLocation of the cluster's Velero."""
    found = kube.find(VELERO_STORAGE_LOCATIONS, name, namespace="velero")
    assert found is not None, name
    return found


# restore-app


def test_restore_app_restores_a_replicated_backup_side_by_side_into_the_dr_cluster(engine, store, shipped, primary, dr):
    """A shop backup made in primary-east and synced to dr-west is restored into dr-west's shop-restored."""
    replicated_backup(primary, dr, "shop-1")
    run = engine.submit(shipped["restore-app"], {"application": "shop", "namespace": "shop"}, requested_by=REQUESTER)
    final = engine.execute(run.id)

    assert final.phase is Phase.COMPLETED, final.details
    assert final.details["outputs"]["backupUsed"] == "shop-1"
    assert final.details["outputs"]["restoredNamespace"] == "shop-restored"
    restores = dr.list_objects(VELERO_RESTORES, namespace="velero").items
    assert [r["metadata"]["name"] for r in restores] == [final.details["outputs"]["restoreName"]]
    assert restores[0]["spec"]["backupName"] == "shop-1"
    assert dr.find(NAMESPACES, "shop-restored") is not None
    assert step_phases(store, run.id)["approve"] == "Skipped"  # a new namespace needs no approval


def test_restore_app_pauses_when_the_dr_cluster_has_no_backup_of_the_application(engine, store, shipped, dr):
    """Without a synced backup, find-backup fails and the incident runbook pauses for a person, restoring nothing."""
    run = engine.submit(shipped["restore-app"], {"application": "shop", "namespace": "shop"}, requested_by=REQUESTER)
    final = engine.execute(run.id)

    assert final.phase is Phase.WAITING
    assert (final.details["waiting"]["reason"], final.details["waiting"]["step"]) == ("paused", "find-backup")
    failed = [s for s in store.steps(run.id) if s.name == "find-backup"][-1]
    assert "no restorable backup of policy 'shop'" in (failed.error_message or "")
    assert dr.list_objects(VELERO_RESTORES, namespace="velero").items == []


# failover-region


def test_failover_region_opens_the_dr_location_restores_both_applications_and_reports(
    engine, store, shipped, primary, dr
):
    """Approved by a second person, failover makes dr-west's copy of primary-east writable and restores both apps."""
    replicated_backup(primary, dr, "shop-1")
    replicated_backup(primary, dr, "catalog-1", policy="catalog-api", namespace="catalog")
    assert location(dr, "primary-east")["spec"]["accessMode"] == "ReadOnly"
    run = engine.submit(shipped["failover-region"], {}, requested_by=REQUESTER)
    assert engine.execute(run.id).details["waiting"]["step"] == "approve"
    engine.approve(run.id, "approve", actor=APPROVER, comment="us-east-1 is down")
    final = engine.execute(run.id)

    assert final.phase is Phase.COMPLETED, final.details
    assert location(dr, "primary-east")["spec"]["accessMode"] == "ReadWrite"
    assert final.details["outputs"] == {
        "backupsVisible": 2,
        "shop": "Succeeded",
        "shopBackup": "shop-1",
        "catalog": "Succeeded",
        "catalogBackup": "catalog-1",
    }
    restored = sorted(r["spec"]["backupName"] for r in dr.list_objects(VELERO_RESTORES, namespace="velero").items)
    assert restored == ["catalog-1", "shop-1"]
    assert dr.find(NAMESPACES, "shop") is not None
    assert dr.find(NAMESPACES, "catalog") is not None
    assert step_phases(store, run.id)["report"] == "Completed"
    assert dr.list_objects(LEASES, namespace="drd").items == []  # the cluster lock is given back


def test_failover_region_waits_for_an_approval_before_changing_anything(engine, shipped, primary, dr):
    """Until a second person approves, the DR location stays read-only and nothing is restored."""
    replicated_backup(primary, dr, "shop-1")
    run = engine.submit(shipped["failover-region"], {}, requested_by=REQUESTER)
    waiting = engine.execute(run.id)

    assert (waiting.details["waiting"]["reason"], waiting.details["waiting"]["step"]) == ("approval", "approve")
    assert location(dr, "primary-east")["spec"]["accessMode"] == "ReadOnly"
    assert dr.list_objects(VELERO_RESTORES, namespace="velero").items == []


def test_a_rejected_failover_fails_without_changing_anything_and_still_reports(engine, store, shipped, primary, dr):
    """A rejection ends the run Failed (not paused), the location stays read-only, and the report is sent."""
    replicated_backup(primary, dr, "shop-1")
    run = engine.submit(shipped["failover-region"], {}, requested_by=REQUESTER)
    engine.execute(run.id)
    engine.approve(run.id, "approve", actor=APPROVER, comment="the primary is back", approve=False)
    final = engine.execute(run.id)

    assert final.phase is Phase.FAILED
    assert final.details["failure"]["step"] == "approve"
    assert location(dr, "primary-east")["spec"]["accessMode"] == "ReadOnly"
    assert dr.list_objects(VELERO_RESTORES, namespace="velero").items == []
    report = [s for s in store.steps(run.id) if s.name == "report"][-1]
    assert report.phase is Phase.COMPLETED, report.error_message
    assert "approval Failed; no backups listed" in report.inputs["message"]


# verify-backup-storage


def test_verify_backup_storage_passes_when_the_replicated_location_is_available_with_backups(
    engine, shipped, primary, dr
):
    """dr-west's copy of primary-east is Available and lists the synced backup: the check completes."""
    replicated_backup(primary, dr, "shop-1")
    run = engine.submit(shipped["verify-backup-storage"], {}, requested_by=REQUESTER)
    final = engine.execute(run.id)

    assert final.phase is Phase.COMPLETED, final.details
    assert final.details["outputs"] == {"backups": 1, "locationPhase": "Available"}


def test_verify_backup_storage_fails_saying_no_backups_are_listed(engine, shipped, dr):
    """An Available location without a single backup fails the check, and the failure says so."""
    run = engine.submit(shipped["verify-backup-storage"], {}, requested_by=REQUESTER)
    final = engine.execute(run.id)

    assert final.phase is Phase.FAILED
    assert final.details["failure"]["step"] == "storage-usable"
    message = final.details["failure"]["message"]
    assert "location primary-east is Available (needs Available), 0 backups listed (needs at least 1)" in message


def test_verify_backup_storage_fails_saying_the_location_is_unavailable_when_its_bucket_is_gone(
    engine, shipped, primary, dr, sandbox
):
    """With the replica bucket removed the location turns Unavailable: the check fails and names that."""
    replicated_backup(primary, dr, "shop-1")
    remove_replica_bucket(sandbox)
    eventually(lambda: (location(dr, "primary-east").get("status") or {}).get("phase") == "Unavailable")
    run = engine.submit(shipped["verify-backup-storage"], {}, requested_by=REQUESTER)
    final = engine.execute(run.id)

    assert final.phase is Phase.FAILED
    message = final.details["failure"]["message"]
    assert "location primary-east is Unavailable (needs Available), 1 backups listed" in message


# pre-upgrade-backup


def test_pre_upgrade_backup_leaves_a_completed_backup_of_the_whole_cluster(engine, shipped, primary):
    """The run backs up every namespace of primary-east, waits, and names the Completed backup in its outputs."""
    run = engine.submit(shipped["pre-upgrade-backup"], {"cluster": "primary-east"}, requested_by=REQUESTER)
    final = engine.execute(run.id)

    assert final.phase is Phase.COMPLETED, final.details
    backup = primary.find(VELERO_BACKUPS, final.details["outputs"]["backup"], namespace="velero")
    assert backup is not None
    assert backup["status"]["phase"] == "Completed"
    assert backup["spec"]["includedNamespaces"] == ["*"]
    assert final.details["outputs"]["itemsBackedUp"] > 0


# dry runs


def snapshot(sandbox) -> dict[str, list[tuple[str, str, str]]]:
    """Every object of every cluster a runbook could touch, with its resourceVersion (a location: its spec).

    Velero rewrites its locations' status on every validation and sync, so their spec stands for them.
    """
    seen = {}
    for name in ("primary-east", "dr-west"):
        kube = sandbox.cluster(name).kube
        objects = []
        for resource in (NAMESPACES, VELERO_BACKUPS, VELERO_RESTORES, VELERO_STORAGE_LOCATIONS, LEASES):
            for obj in kube.list_objects(resource).items:
                meta = obj["metadata"]
                version = str(obj["spec"]) if resource is VELERO_STORAGE_LOCATIONS else meta["resourceVersion"]
                objects.append((resource.plural, f"{meta.get('namespace', '')}/{meta['name']}", version))
        seen[name] = sorted(objects)
    return seen


DRY_RUNS = {
    "restore-app": {"application": "shop", "namespace": "shop"},
    "failover-region": {},
    "verify-backup-storage": {},
    "pre-upgrade-backup": {"cluster": "primary-east"},
}


@pytest.mark.parametrize("name", sorted(DRY_RUNS))
def test_a_dry_run_of_a_shipped_runbook_changes_nothing(make_engine, store, shipped, primary, dr, sandbox, name):
    """Planning the runbook reads for real but leaves every cluster and the store exactly as they were."""
    replicated_backup(primary, dr, "shop-1")
    replicated_backup(primary, dr, "catalog-1", policy="catalog-api", namespace="catalog")
    engine = make_engine()
    before = snapshot(sandbox)
    result = plan(shipped[name], DRY_RUNS[name], env=engine.env, actions=default_actions(), locks=engine.locks)

    assert snapshot(sandbox) == before
    assert store.list_runs() == []
    assert [e.id for e in result.entries if e.fidelity == "error"] == []
