"""Backup sync across clusters (velero.md §2.3), DeleteBackupRequests (§1.6) and garbage collection (§2.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_DELETE_REQUESTS, VELERO_RESTORES, VELERO_STORAGE_LOCATIONS
from drd.velero.layout import BucketLayout
from drd.velero.timefmt import rfc3339
from tests.sandbox.velero.support import backup, create, eventually, restore, synced

PRIMARY = BucketLayout("primary-east")


def delete_request(kube, backup_name: str) -> dict:
    uid = kube.get(VELERO_BACKUPS, backup_name, namespace="velero")["metadata"]["uid"]
    body = {
        "apiVersion": "velero.io/v1",
        "kind": "DeleteBackupRequest",
        "metadata": {
            "generateName": f"{backup_name}-",
            "labels": {"velero.io/backup-name": backup_name, "velero.io/backup-uid": uid},
        },
        "spec": {"backupName": backup_name},
    }
    return kube.create(VELERO_DELETE_REQUESTS, body, namespace="velero")


def test_synced_backup_keeps_its_status_and_labels_but_points_at_the_local_location(primary, dr):
    """§2.3: the synced CR keeps phase, timestamps and labels; storageLocation and its label become the local BSL."""
    original = backup(primary, "b-sync", includedNamespaces=["shop"])
    copy = synced(dr, "b-sync")
    assert copy["status"]["phase"] == "Completed"
    assert copy["status"]["completionTimestamp"] == original["status"]["completionTimestamp"]
    assert copy["status"]["expiration"] == original["status"]["expiration"]
    assert copy["spec"]["storageLocation"] == "primary-east"
    assert copy["metadata"]["labels"]["velero.io/storage-location"] == "primary-east"
    assert copy["metadata"]["uid"] != original["metadata"]["uid"]


def test_sync_stamps_last_synced_time_on_the_location(dr):
    """§2.3: every sync pass patches status.lastSyncedTime."""
    bsl = eventually(
        lambda: dr.get(VELERO_STORAGE_LOCATIONS, "primary-east", namespace="velero")["status"].get("lastSyncedTime")
    )
    assert bsl.endswith("Z")


def test_nothing_syncs_while_replication_is_paused(sandbox, primary, dr):
    """Replication lag: a backup not yet in the replica bucket does not exist in the DR cluster."""
    sandbox.pause_replication()
    backup(primary, "b-lag")
    sandbox.cluster("dr-west").velero.run_periodic_now()
    assert dr.find(VELERO_BACKUPS, "b-lag", namespace="velero") is None
    sandbox.resume_replication()
    assert synced(dr, "b-lag")


def test_a_backup_deleted_from_the_bucket_is_removed_from_the_dr_cluster(sandbox, primary, dr):
    """§2.3 orphan deletion: a Completed synced backup whose files are gone from the bucket is deleted."""
    backup(primary, "b-orphan")
    synced(dr, "b-orphan")
    delete_request(primary, "b-orphan")
    eventually(lambda: dr.find(VELERO_BACKUPS, "b-orphan", namespace="velero") is None)


def test_delete_backup_request_removes_data_restores_and_the_backup(sandbox, primary):
    """§1.6: the data under backups/<b>/, the backup's Restores and the Backup CR all go."""
    backup(primary, "b-del", includedNamespaces=["shop"])
    restore(primary, "r-del", backupName="b-del", namespaceMapping={"shop": "shop-del"})
    delete_request(primary, "b-del")
    eventually(lambda: primary.find(VELERO_BACKUPS, "b-del", namespace="velero") is None)
    assert not list(sandbox.buckets["drd-backups-us-east-1"].objects(PRIMARY.backup_dir("b-del")))
    eventually(lambda: primary.find(VELERO_RESTORES, "r-del", namespace="velero") is None)


def test_deleting_through_a_read_only_location_is_refused(primary, dr):
    """§1.6: a DeleteBackupRequest for a backup on a ReadOnly BSL is Processed with Velero's error."""
    backup(primary, "b-ro")
    synced(dr, "b-ro")
    request = delete_request(dr, "b-ro")
    name = request["metadata"]["name"]
    done = eventually(
        lambda: (
            (r := dr.find(VELERO_DELETE_REQUESTS, name, namespace="velero"))
            and r.get("status", {}).get("phase") == "Processed"
            and r
        )
    )
    assert done["status"]["errors"] == [
        "cannot delete backup because backup storage location primary-east is currently in read-only mode"
    ]
    assert dr.find(VELERO_BACKUPS, "b-ro", namespace="velero") is not None


def test_kubectl_delete_of_a_backup_does_not_delete_data_and_it_syncs_back(sandbox, primary):
    """§1.6, §5.7: deleting the Backup CR leaves the data; sync re-creates the CR."""
    backup(primary, "b-back")
    primary.delete(VELERO_BACKUPS, "b-back", namespace="velero")
    sandbox.cluster("primary-east").velero.run_periodic_now()
    assert synced(primary, "b-back")["status"]["phase"] == "Completed"


def test_gc_deletes_expired_backups_through_a_delete_request(sandbox, primary):
    """§2.4: an expired backup gets a DeleteBackupRequest and disappears with its data."""
    backup(primary, "b-expire")
    expired = rfc3339(datetime.now(UTC) - timedelta(minutes=1))
    primary.merge_patch(VELERO_BACKUPS, "b-expire", {"status": {"expiration": expired}}, namespace="velero")
    sandbox.cluster("primary-east").velero.run_periodic_now()
    eventually(lambda: primary.find(VELERO_BACKUPS, "b-expire", namespace="velero") is None)
    assert not list(sandbox.buckets["drd-backups-us-east-1"].objects(PRIMARY.backup_dir("b-expire")))


def test_gc_never_deletes_through_a_read_only_location(sandbox, primary, dr):
    """§2.4: an expired synced backup on a ReadOnly BSL is labelled gc-failure=BSLReadOnly instead."""
    backup(primary, "b-ro-gc")
    for replicator in sandbox.replicators:
        replicator.replicate_once()
    synced(dr, "b-ro-gc")
    expired = rfc3339(datetime.now(UTC) - timedelta(minutes=1))
    dr.merge_patch(VELERO_BACKUPS, "b-ro-gc", {"status": {"expiration": expired}}, namespace="velero")
    sandbox.cluster("dr-west").velero.run_periodic_now()
    labelled = eventually(
        lambda: (
            (b := dr.get(VELERO_BACKUPS, "b-ro-gc", namespace="velero"))["metadata"]["labels"].get(
                "velero.io/gc-failure"
            )
            and b
        )
    )
    assert labelled["metadata"]["labels"]["velero.io/gc-failure"] == "BSLReadOnly"


def test_foreign_top_level_directory_makes_the_location_unavailable(sandbox, primary):
    """§1.4: a directory other than backups/restores/… under the prefix makes the BSL Unavailable."""
    sandbox.buckets["drd-backups-us-east-1"].put("primary-east/junk/file", b"x")
    sandbox.cluster("primary-east").velero.run_periodic_now()
    bsl = eventually(
        lambda: (
            (b := primary.get(VELERO_STORAGE_LOCATIONS, "default", namespace="velero"))["status"]["phase"]
            == "Unavailable"
            and b
        )
    )
    assert "invalid top-level directories: ['junk']" in bsl["status"]["message"]


def test_velero_restart_marks_in_progress_backups_failed(sandbox, primary):
    """A Velero server restarting fails backups left InProgress, with Velero's reason."""
    sandbox.velero_faults.backup_outcome = "Stuck"
    create(primary, VELERO_BACKUPS, "b-restart", {})
    eventually(
        lambda: (
            (primary.get(VELERO_BACKUPS, "b-restart", namespace="velero").get("status") or {}).get("phase")
            == "InProgress"
        )
    )
    cluster = sandbox.cluster("primary-east")
    cluster.velero.stop()
    sandbox.velero_faults.backup_outcome = None
    from drd.sandbox.velero.controller import VeleroSimulator

    restarted = VeleroSimulator(cluster.velero.ctx.kube, cluster.velero.ctx.resolver, timings=cluster.velero.timings)
    restarted.start()
    try:
        failed = primary.get(VELERO_BACKUPS, "b-restart", namespace="velero")
        assert failed["status"]["phase"] == "Failed"
        assert "during the server starting" in failed["status"]["failureReason"]
    finally:
        restarted.stop()
