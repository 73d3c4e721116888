"""Restore operations against the sandbox (the Velero simulator restores real backups over real HTTP).

Aspects: the manifest in Velero's field names; a primary backup restored in
the DR cluster into a mapped namespace and waited for; creating a Restore
again is idempotent by name, and refused for another backup; waiting for a
missing or stuck Restore; summaries of Completed and PartiallyFailed
restores; deletion; choosing restorable backups (policy, phase, newest first,
pending deletions).
"""

from __future__ import annotations

from typing import Any

import pytest

from drd.clients.kube_resources import DEPLOYMENTS, VELERO_BACKUPS, VELERO_RESTORES
from drd.errors import PermanentError
from drd.operations import restores, velero, waiting

NS = "velero"
SHOP = {"app.kubernetes.io/managed-by": "drd", "drd.dev/policy": "shop"}


def backed_up(kube, name: str, *, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A Backup of namespace shop made by the simulated Velero, labelled as policy shop's unless told otherwise."""
    manifest = {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": name, "labels": SHOP if labels is None else labels},
        "spec": {"includedNamespaces": ["shop"], **spec},
    }
    velero.create_backup(kube, manifest, namespace=NS)
    return velero.wait_for_backup(kube, name, namespace=NS, timeout_seconds=10)


def started_at(kube, name: str, timestamp: str) -> None:
    """Pin a Backup's startTimestamp (Velero CRs have no status subresource: status is written through the object)."""
    kube.merge_patch(VELERO_BACKUPS, name, {"status": {"startTimestamp": timestamp}}, namespace=NS)


def names(backups: list[dict[str, Any]]) -> list[str]:
    return [b["metadata"]["name"] for b in backups]


def test_restore_manifest_uses_velero_field_names():
    """The manifest spells backupName, includedNamespaces, namespaceMapping, existingResourcePolicy, restorePVs."""
    manifest = restores.restore_manifest(
        "drill-1",
        backup="b-1",
        included_namespaces=["shop"],
        namespace_mapping={"shop": "drill-shop"},
        existing_resource_policy="update",
        restore_pvs=True,
        labels={"drd.dev/run": "run-1"},
    )
    assert manifest == {
        "apiVersion": "velero.io/v1",
        "kind": "Restore",
        "metadata": {
            "name": "drill-1",
            "labels": {"app.kubernetes.io/managed-by": "drd", "drd.dev/run": "run-1"},
        },
        "spec": {
            "backupName": "b-1",
            "includedNamespaces": ["shop"],
            "namespaceMapping": {"shop": "drill-shop"},
            "existingResourcePolicy": "update",
            "restorePVs": True,
        },
    }
    assert restores.restore_manifest("r", backup="b")["spec"] == {"backupName": "b"}


def test_restore_manifest_refuses_an_unknown_existing_resource_policy():
    """existingResourcePolicy other than none/update is refused up front, naming the accepted values."""
    with pytest.raises(PermanentError, match="expected one of none, update"):
        restores.restore_manifest("r", backup="b", existing_resource_policy="overwrite")


def test_a_primary_backup_is_restored_in_the_dr_cluster_into_a_mapped_namespace(primary, dr):
    """The synced backup is the newest restorable one in DR; restoring it with a mapping completes with evidence."""
    backed_up(primary, "shop-1")
    waiting.wait_for(
        dr, VELERO_BACKUPS, "shop-1", namespace=NS, until=lambda b: b, timeout_seconds=10, what="backup sync"
    )
    newest = restores.newest_restorable_backup(dr, policy="shop", namespace=NS)
    assert newest is not None
    assert newest["metadata"]["name"] == "shop-1"
    phases: list[str] = []
    manifest = restores.restore_manifest("drill-shop-1", backup="shop-1", namespace_mapping={"shop": "drill-shop"})
    restores.create_restore(dr, manifest, namespace=NS)
    done = restores.wait_for_restore(
        dr,
        "drill-shop-1",
        namespace=NS,
        timeout_seconds=10,
        on_phase=lambda r: phases.append((r.get("status") or {}).get("phase", "")),
    )
    summary = restores.restore_summary(done)
    assert (summary.phase, summary.backup, summary.errors) == ("Completed", "shop-1", 0)
    assert summary.succeeded
    assert summary.items_restored == summary.total_items > 0
    assert summary.started is not None
    assert summary.completed is not None
    assert phases[-1] == "Completed"
    assert dr.get(DEPLOYMENTS, "storefront", namespace="drill-shop")["metadata"]["labels"]["velero.io/restore-name"]


def test_creating_the_same_restore_again_returns_the_existing_one(primary):
    """A second create of the same name and backup returns the first Restore (same uid) instead of failing."""
    backed_up(primary, "b-idem")
    manifest = restores.restore_manifest("r-idem", backup="b-idem", namespace_mapping={"shop": "shop-idem"})
    first = restores.create_restore(primary, manifest, namespace=NS)
    again = restores.create_restore(primary, manifest, namespace=NS)
    assert again["metadata"]["uid"] == first["metadata"]["uid"]
    assert len(primary.list_objects(VELERO_RESTORES, namespace=NS).items) == 1


def test_a_restore_name_taken_by_another_backup_is_refused(primary):
    """Reusing a Restore name for another backup raises RestoreNameTaken naming both backups."""
    backed_up(primary, "b-one")
    restores.create_restore(primary, restores.restore_manifest("r-taken", backup="b-one"), namespace=NS)
    with pytest.raises(restores.RestoreNameTaken, match='for backup "b-one", not "b-two"'):
        restores.create_restore(primary, restores.restore_manifest("r-taken", backup="b-two"), namespace=NS)


def test_waiting_for_a_missing_restore_raises_restore_gone(primary):
    """A Restore that does not exist is RestoreGone (a KubeNotFound), not a timeout."""
    with pytest.raises(restores.RestoreGone, match='restore "nope" not found in namespace velero'):
        restores.wait_for_restore(primary, "nope", namespace=NS, timeout_seconds=5)


def test_a_stuck_restore_times_out_naming_its_phase(sandbox, primary):
    """A Restore that never finishes raises WaitTimedOut saying it is still InProgress."""
    backed_up(primary, "b-stuck")
    sandbox.velero_faults.restore_outcome = "Stuck"
    manifest = restores.restore_manifest("r-stuck", backup="b-stuck", namespace_mapping={"shop": "shop-stuck"})
    restores.create_restore(primary, manifest, namespace=NS)
    with pytest.raises(waiting.WaitTimedOut) as raised:
        restores.wait_for_restore(primary, "r-stuck", namespace=NS, timeout_seconds=0.5)
    assert 'waiting for restore "r-stuck" in namespace velero to finish; last seen: phase InProgress' in str(
        raised.value
    )
    sandbox.velero_faults.clear()


def test_a_partially_failed_restore_is_summarised_with_its_errors(sandbox, primary):
    """The summary of a PartiallyFailed restore has its error count and does not count as succeeded."""
    backed_up(primary, "b-partial")
    sandbox.velero_faults.restore_outcome = "PartiallyFailed"
    manifest = restores.restore_manifest("r-partial", backup="b-partial", namespace_mapping={"shop": "shop-partial"})
    restores.create_restore(primary, manifest, namespace=NS)
    summary = restores.restore_summary(
        restores.wait_for_restore(primary, "r-partial", namespace=NS, timeout_seconds=10)
    )
    assert (summary.phase, summary.errors, summary.succeeded, summary.finished) == ("PartiallyFailed", 1, False, True)
    assert summary.fields()["phase"] == "PartiallyFailed"


def test_a_restore_of_a_missing_backup_is_failed_validation_with_its_reason(primary):
    """Waiting returns FailedValidation restores too; the summary carries Velero's validation errors."""
    restores.create_restore(primary, restores.restore_manifest("r-nobackup", backup="absent"), namespace=NS)
    summary = restores.restore_summary(
        restores.wait_for_restore(primary, "r-nobackup", namespace=NS, timeout_seconds=10)
    )
    assert summary.phase == "FailedValidation"
    assert summary.validation_errors == ('Error retrieving backup: backups.velero.io "absent" not found',)


def test_deleting_a_restore_is_true_once_and_false_when_absent(primary):
    """delete_restore removes the Restore (Velero's finalizer lets it go) and answers False for a missing one."""
    backed_up(primary, "b-del")
    manifest = restores.restore_manifest("r-del", backup="b-del", namespace_mapping={"shop": "shop-del"})
    restores.create_restore(primary, manifest, namespace=NS)
    restores.wait_for_restore(primary, "r-del", namespace=NS, timeout_seconds=10)
    assert restores.delete_restore(primary, "r-del", namespace=NS) is True
    waiting.wait_for(
        primary, VELERO_RESTORES, "r-del", namespace=NS, until=lambda r: r is None or None, timeout_seconds=10, what="x"
    )
    assert restores.find_restore(primary, "r-del", namespace=NS) is None
    assert restores.delete_restore(primary, "r-del", namespace=NS) is False


def test_restorable_backups_are_the_policys_completed_ones_newest_first(sandbox, primary):
    """Completed backups of the policy come back by startTimestamp, newest first; failed and others' are left out."""
    backed_up(primary, "b-older")
    backed_up(primary, "b-newer")
    backed_up(primary, "b-other", labels={"app.kubernetes.io/managed-by": "drd", "drd.dev/policy": "catalog"})
    backed_up(primary, "b-not-ours", labels={"drd.dev/policy": "shop"})
    sandbox.velero_faults.backup_outcome = "Failed"
    backed_up(primary, "b-failed")
    sandbox.velero_faults.clear()
    started_at(primary, "b-older", "2026-06-01T01:00:00Z")
    started_at(primary, "b-newer", "2026-06-01T02:00:00Z")
    found = restores.restorable_backups(primary, policy="shop", namespace=NS)
    assert names(found) == ["b-newer", "b-older"]


def test_partially_failed_backups_are_restorable_only_when_allowed(sandbox, primary):
    """A PartiallyFailed backup is skipped by default and included with allow_partially_failed."""
    backed_up(primary, "b-complete")
    sandbox.velero_faults.backup_outcome = "PartiallyFailed"
    backed_up(primary, "b-partly")
    sandbox.velero_faults.clear()
    started_at(primary, "b-complete", "2026-06-01T01:00:00Z")
    started_at(primary, "b-partly", "2026-06-01T02:00:00Z")
    assert names(restores.restorable_backups(primary, policy="shop", namespace=NS)) == ["b-complete"]
    allowed = restores.restorable_backups(primary, policy="shop", namespace=NS, allow_partially_failed=True)
    assert names(allowed) == ["b-partly", "b-complete"]


def test_a_backup_with_a_pending_deletion_is_not_restorable(sandbox, primary):
    """While Velero has not processed its DeleteBackupRequest, a backup is no longer offered for restore."""
    doomed = backed_up(primary, "b-doomed")
    sandbox.velero_faults.paused = True
    velero.request_backup_deletion(primary, doomed, namespace=NS)
    assert restores.newest_restorable_backup(primary, policy="shop", namespace=NS) is None
    sandbox.velero_faults.clear()


def test_without_backups_there_is_no_newest_restorable_backup(primary):
    """A policy with no backups has no newest restorable backup (None, not an error)."""
    assert restores.newest_restorable_backup(primary, policy="shop", namespace=NS) is None
