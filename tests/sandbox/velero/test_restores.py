"""The simulated Restore controller (velero.md §1.2, §5): validation, mapping, labels, existing objects, results."""

from __future__ import annotations

from drd.clients.kube_resources import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, SERVICES, VELERO_RESTORES
from drd.velero import archive
from drd.velero.layout import BucketLayout
from tests.sandbox.velero.support import backup, restore, synced


def test_restore_into_a_mapped_namespace_labels_every_object(primary):
    """§1.2: objects land in the mapped namespace with velero.io/backup-name and restore-name labels."""
    backup(primary, "b-map", includedNamespaces=["shop"])
    done = restore(primary, "r-map", backupName="b-map", namespaceMapping={"shop": "shop-copy"})
    assert done["status"]["phase"] == "Completed"
    deployment = primary.get(DEPLOYMENTS, "storefront", namespace="shop-copy")
    labels = deployment["metadata"]["labels"]
    assert (labels["velero.io/backup-name"], labels["velero.io/restore-name"]) == ("b-map", "r-map")
    assert primary.get(NAMESPACES, "shop-copy")


def test_restored_objects_lose_owner_references_status_and_cluster_ip(primary):
    """§5.3, §5.4: ownerReferences and status are stripped; a Service gets a new clusterIP."""
    backup(primary, "b-reset", includedNamespaces=["shop"])
    restore(primary, "r-reset", backupName="b-reset", namespaceMapping={"shop": "shop-reset"})
    service = primary.get(SERVICES, "storefront", namespace="shop-reset")
    original = primary.get(SERVICES, "storefront", namespace="shop")
    assert service["spec"].get("clusterIP") != original["spec"]["clusterIP"]
    deployment = primary.get(DEPLOYMENTS, "storefront", namespace="shop-reset")
    assert "ownerReferences" not in deployment["metadata"]


def test_existing_identical_objects_are_skipped_without_warning(primary):
    """§5.1: restoring over identical objects skips them; the restore is Completed with no warnings."""
    backup(primary, "b-same", includedNamespaces=["shop"], includedResources=["configmaps", "secrets", "deployments"])
    restore(primary, "r-first", backupName="b-same", namespaceMapping={"shop": "shop-twice"})
    done = restore(primary, "r-second", backupName="b-same", namespaceMapping={"shop": "shop-twice"})
    assert (done["status"]["phase"], done["status"]["warnings"]) == ("Completed", 0)


def test_existing_different_objects_are_skipped_with_velero_warning(sandbox, primary):
    """§5.1: a different in-cluster version is skipped with a warning; the restore still Completes."""
    backup(primary, "b-diff", includedNamespaces=["shop"], includedResources=["configmaps"])
    primary.merge_patch(CONFIGMAPS, "storefront-config", {"data": {"CURRENCY": "USD"}}, namespace="shop")
    done = restore(primary, "r-diff", backupName="b-diff")
    assert (done["status"]["phase"], done["status"]["warnings"]) == ("Completed", 1)
    assert primary.get(CONFIGMAPS, "storefront-config", namespace="shop")["data"]["CURRENCY"] == "USD"
    results = archive.gunzip_json(
        sandbox.buckets["drd-backups-us-east-1"].get(BucketLayout("primary-east").restore_results("r-diff"))
    )
    (warning,) = results["warnings"]["namespaces"]["shop"]
    assert "already exists. Warning: the in-cluster version is different than the backed-up version" in warning


def test_update_policy_overwrites_existing_objects(primary):
    """§1.2, §5.1: existingResourcePolicy=update patches existing objects to the backed-up version."""
    backup(primary, "b-upd", includedNamespaces=["shop"], includedResources=["configmaps"])
    primary.merge_patch(CONFIGMAPS, "storefront-config", {"data": {"CURRENCY": "USD"}}, namespace="shop")
    done = restore(primary, "r-upd", backupName="b-upd", existingResourcePolicy="update")
    assert done["status"]["phase"] == "Completed"
    assert primary.get(CONFIGMAPS, "storefront-config", namespace="shop")["data"]["CURRENCY"] == "EUR"


def test_restore_writes_resource_list_with_per_item_outcomes(sandbox, primary):
    """§2.1: restores/<r>/restore-<r>-resource-list.json.gz lists ns/name(created|skipped)."""
    backup(primary, "b-list", includedNamespaces=["shop"])
    restore(primary, "r-list", backupName="b-list", namespaceMapping={"shop": "shop-list"})
    key = BucketLayout("primary-east").restore_resource_list("r-list")
    listing = archive.gunzip_json(sandbox.buckets["drd-backups-us-east-1"].get(key))
    assert "shop-list/storefront(created)" in listing["apps/v1/Deployment"]


def test_restore_needs_exactly_one_source(primary):
    """§1.2: neither (or both) backupName and scheduleName is a validation error with Velero's message."""
    done = restore(primary, "r-none")
    assert done["status"]["phase"] == "FailedValidation"
    assert done["status"]["validationErrors"] == [
        "Either a backup or schedule must be specified as a source for the restore, but not both"
    ]


def test_unknown_backup_fails_validation(primary):
    """§1.2: a backup that does not exist fails validation."""
    done = restore(primary, "r-ghost", backupName="ghost")
    assert done["status"]["phase"] == "FailedValidation"
    assert "not found" in done["status"]["validationErrors"][0]


def test_invalid_existing_resource_policy_fails_validation(primary):
    """§1.2: existingResourcePolicy other than none/update is refused."""
    backup(primary, "b-pol")
    done = restore(primary, "r-pol", backupName="b-pol", existingResourcePolicy="replace")
    assert done["status"]["validationErrors"] == ["Invalid ExistingResourcePolicy: replace"]


def test_non_restorable_resources_are_refused(primary):
    """§1.2: naming a non-restorable resource in includedResources is a validation error."""
    backup(primary, "b-nodes")
    done = restore(primary, "r-nodes", backupName="b-nodes", includedResources=["nodes"])
    assert done["status"]["validationErrors"] == ["nodes are non-restorable resources"]


def test_schedule_name_resolves_to_the_newest_completed_backup(primary):
    """§1.2: scheduleName picks the newest Completed backup carrying that schedule's label."""
    backup(primary, "sched-old", includedNamespaces=["shop"])
    done = restore(primary, "r-sched-none", scheduleName="nightly")
    assert done["status"]["validationErrors"] == ["No backups found for schedule"]


def test_restore_in_the_dr_cluster_from_a_synced_backup(sandbox, primary, dr):
    """§2.3: a backup made in the primary syncs to the DR cluster and restores there through the ReadOnly BSL."""
    backup(primary, "b-dr", includedNamespaces=["shop"])
    synced_backup = synced(dr, "b-dr")
    assert synced_backup["spec"]["storageLocation"] == "primary-east"
    done = restore(dr, "r-dr", backupName="b-dr", namespaceMapping={"shop": "drill-shop"})
    assert done["status"]["phase"] == "Completed"
    assert (
        dr.get(DEPLOYMENTS, "storefront", namespace="drill-shop")["metadata"]["labels"]["velero.io/restore-name"]
        == "r-dr"
    )


def test_failed_fault_fails_the_restore_with_a_reason(sandbox, primary):
    """Fault injection: a forced restore failure ends Failed with failureReason."""
    backup(primary, "b-fail")
    sandbox.velero_faults.restore_outcome = "Failed"
    done = restore(primary, "r-fail", backupName="b-fail")
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["failureReason"]


def test_deleting_a_restore_removes_its_files_then_the_object(sandbox, primary):
    """§1.2: the external-resources finalizer deletes restores/<r>/ from the bucket before the Restore goes."""
    from tests.sandbox.velero.support import eventually

    backup(primary, "b-fin", includedNamespaces=["shop"])
    restore(primary, "r-fin", backupName="b-fin", namespaceMapping={"shop": "shop-fin"})
    bucket = sandbox.buckets["drd-backups-us-east-1"]
    prefix = BucketLayout("primary-east").restore_dir("r-fin")
    assert list(bucket.objects(prefix))
    primary.delete(VELERO_RESTORES, "r-fin", namespace="velero")
    eventually(lambda: primary.find(VELERO_RESTORES, "r-fin", namespace="velero") is None)
    assert not list(bucket.objects(prefix))
