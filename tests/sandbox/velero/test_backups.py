"""The simulated Backup controller (velero.md §1.1, §2.1, §2.2): phases, validation, uploads, faults."""

from __future__ import annotations

import json

from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_STORAGE_LOCATIONS
from drd.velero import archive
from drd.velero.layout import BucketLayout
from tests.sandbox.velero.support import backup, create, eventually, finished

LAYOUT = BucketLayout("primary-east")


def test_backup_goes_through_velero_1_18_phases_in_order(sandbox, primary):
    """§1.1: New → Queued → ReadyToStart → InProgress → Finalizing → Completed, each seen by a watch."""
    stream = primary.watch(VELERO_BACKUPS, namespace="velero", timeout_seconds=5)
    create(primary, VELERO_BACKUPS, "phases", {"includedNamespaces": ["shop"]})
    seen: list[str] = []
    for event in stream:
        phase = (event.object.get("status") or {}).get("phase", "")
        if event.object["metadata"]["name"] == "phases" and (not seen or seen[-1] != phase):
            seen.append(phase)
        if phase == "Completed":
            stream.close()
    assert seen == ["", "Queued", "ReadyToStart", "InProgress", "Finalizing", "Completed"]


def test_completed_backup_has_timestamps_expiration_progress_and_labels(primary):
    """§1.1: startTimestamp, expiration = start + ttl, completionTimestamp, progress and the storage-location label."""
    done = backup(primary, "stamped", includedNamespaces=["shop"], ttl="24h0m0s")
    status = done["status"]
    assert status["phase"] == "Completed"
    assert status["startTimestamp"]
    assert status["completionTimestamp"]
    assert status["progress"]["totalItems"] == status["progress"]["itemsBackedUp"] > 0
    assert status["expiration"] > status["startTimestamp"]
    assert done["metadata"]["labels"]["velero.io/storage-location"] == "default"
    assert done["metadata"]["annotations"]["velero.io/source-cluster-k8s-gitversion"] == "v1.31.4"


def test_backup_is_written_to_the_bucket_in_velero_layout(sandbox, primary):
    """§2.1/§2.2: velero-backup.json, the tarball with the namespace's objects, and the resource list."""
    backup(primary, "layout", includedNamespaces=["shop"])
    bucket = sandbox.buckets["drd-backups-us-east-1"]
    metadata = json.loads(bucket.get(LAYOUT.backup_metadata("layout")))
    assert (metadata["kind"], metadata["status"]["phase"]) == ("Backup", "Completed")
    version, objects = archive.read_backup_tarball(bucket.get(LAYOUT.backup_contents("layout")))
    assert version == "1.1.0"
    names = {(o.group_resource, o.name) for o in objects}
    assert {("deployments.apps", "storefront"), ("statefulsets.apps", "postgres"), ("namespaces", "shop")} <= names
    assert all(o.namespace in (None, "shop") for o in objects)
    listing = archive.gunzip_json(bucket.get(LAYOUT.backup_resource_list("layout")))
    assert "shop/storefront" in listing["apps/v1/Deployment"]


def test_label_selector_limits_the_items(sandbox, primary):
    """§1.1: labelSelector selects items (the namespace object itself still comes along)."""
    done = backup(
        primary,
        "selected",
        includedNamespaces=["shop"],
        labelSelector={"matchLabels": {"app.kubernetes.io/name": "postgres"}},
    )
    _, objects = archive.read_backup_tarball(
        sandbox.buckets["drd-backups-us-east-1"].get(LAYOUT.backup_contents("selected"))
    )
    kinds = sorted({o.group_resource for o in objects})
    assert done["status"]["phase"] == "Completed"
    assert "deployments.apps" not in kinds
    assert "statefulsets.apps" in kinds


def test_objects_labelled_exclude_from_backup_are_left_out(sandbox, primary):
    """§1.1: velero.io/exclude-from-backup=true keeps an object out of the backup."""
    from drd.clients.kube_resources import CONFIGMAPS

    primary.merge_patch(
        CONFIGMAPS,
        "storefront-config",
        {"metadata": {"labels": {"velero.io/exclude-from-backup": "true"}}},
        namespace="shop",
    )
    backup(primary, "excluded", includedNamespaces=["shop"])
    _, objects = archive.read_backup_tarball(
        sandbox.buckets["drd-backups-us-east-1"].get(LAYOUT.backup_contents("excluded"))
    )
    assert "storefront-config" not in {o.name for o in objects}


def test_missing_storage_location_fails_validation_with_velero_message(primary):
    """§1.1: a BSL that does not exist gives FailedValidation and no startTimestamp."""
    done = backup(primary, "nowhere", storageLocation="missing")
    assert done["status"]["phase"] == "FailedValidation"
    assert "does not exist" in done["status"]["validationErrors"][0]
    assert "startTimestamp" not in done["status"]


def test_read_only_location_refuses_backups(dr):
    """§1.1, §2.3: a backup to a ReadOnly BSL fails validation with Velero's wording."""
    done = backup(dr, "to-read-only", storageLocation="primary-east")
    assert done["status"]["phase"] == "FailedValidation"
    assert done["status"]["validationErrors"] == [
        "backup can't be created because backup storage location primary-east is currently in read-only mode"
    ]


def test_unavailable_location_refuses_backups(sandbox, primary, moto):
    """§1.1, §1.4: when the bucket vanishes the BSL turns Unavailable and backups fail validation."""
    sandbox.remove_bucket("drd-backups-us-east-1")
    sandbox.cluster("primary-east").velero.run_periodic_now()
    bsl = eventually(
        lambda: (
            (b := primary.get(VELERO_STORAGE_LOCATIONS, "default", namespace="velero"))["status"]["phase"]
            == "Unavailable"
            and b
        )
    )
    assert "is unavailable" in bsl["status"]["message"]
    done = backup(primary, "no-bucket")
    assert done["status"]["validationErrors"] == [
        "backup can't be created because BackupStorageLocation default is in Unavailable status."
    ]


def test_conflicting_filters_fail_validation(primary):
    """§1.1: mixing old and new resource filters, or labelSelector with orLabelSelectors, is invalid."""
    done = backup(
        primary,
        "mixed",
        includedResources=["pods"],
        includedNamespaceScopedResources=["pods"],
        labelSelector={"matchLabels": {"a": "b"}},
        orLabelSelectors=[{"matchLabels": {"c": "d"}}],
    )
    errors = done["status"]["validationErrors"]
    assert any("cannot be used together" in e for e in errors)
    assert any("only one can be specified" in e for e in errors)


def test_a_name_already_in_the_bucket_fails_the_backup(sandbox, primary):
    """§1.1, §5.8: a backup whose name already exists in object storage ends Failed."""
    sandbox.buckets["drd-backups-us-east-1"].put(LAYOUT.backup_metadata("taken"), b"{}")
    done = backup(primary, "taken")
    assert (done["status"]["phase"], done["status"]["failureReason"]) == (
        "Failed",
        "backup already exists in object storage",
    )


def test_failed_fault_ends_failed_with_reason_and_completion(sandbox, primary):
    """Fault injection: a forced failure ends Failed with failureReason and completionTimestamp (§1.1)."""
    sandbox.velero_faults.backup_outcome = "Failed"
    done = backup(primary, "forced-failure")
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["failureReason"]
    assert done["status"]["completionTimestamp"]


def test_partially_failed_fault_counts_errors_and_writes_results(sandbox, primary):
    """Fault injection: PartiallyFailed goes through FinalizingPartiallyFailed with errors in the results file."""
    sandbox.velero_faults.backup_outcome = "PartiallyFailed"
    done = backup(primary, "partial", includedNamespaces=["shop"])
    assert (done["status"]["phase"], done["status"]["errors"]) == ("PartiallyFailed", 1)
    results = archive.gunzip_json(sandbox.buckets["drd-backups-us-east-1"].get(LAYOUT.backup_results("partial")))
    assert results["errors"]["namespaces"]["shop"]


def test_stuck_fault_keeps_the_backup_in_progress_until_cleared(sandbox, primary):
    """Fault injection: a stuck backup stays InProgress, then completes once the fault is cleared."""
    sandbox.velero_faults.backup_outcome = "Stuck"
    create(primary, VELERO_BACKUPS, "stuck", {"includedNamespaces": ["shop"]})
    eventually(
        lambda: (
            (primary.get(VELERO_BACKUPS, "stuck", namespace="velero").get("status") or {}).get("phase") == "InProgress"
        )
    )
    sandbox.velero_faults.backup_outcome = None
    assert finished(primary, VELERO_BACKUPS, "stuck")["status"]["phase"] == "Completed"


def test_upload_failure_fails_the_backup_and_leaves_nothing_in_the_bucket(sandbox, primary):
    """§2.1: when the upload fails the backup is Failed and its metadata is removed again."""
    sandbox.velero_faults.upload_fails = True
    done = backup(primary, "upload-fails")
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["failureReason"].startswith("error uploading backup")
    assert not sandbox.buckets["drd-backups-us-east-1"].has(LAYOUT.backup_metadata("upload-fails"))
