"""Restore verification: what a restore should bring back (pure), and whether the cluster holds it.

Aspects: the mapping of namespaced objects and of Namespaces; what Velero never
restores (non-restorable kinds, PersistentVolumes), namespaces outside the
restore, cluster-scoped objects only with cluster resources; a real backup
restored in the DR cluster with a mapping, its list fetched there, all found;
a deleted object reported missing; Pods and Jobs that may be replaced
tolerated; kinds the cluster does not serve; objects being deleted; extras;
Velero's per-item outcome for missing objects; presence read with LISTs only.
"""

from __future__ import annotations

from typing import Any

import pytest

from drd.clients.kube_resources import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, VELERO_BACKUPS
from drd.operations import restores, velero, waiting
from drd.operations import velero_downloads as downloads
from drd.operations.restore_verification import (
    CLUSTER_SCOPED_NOT_RESTORED,
    NAMESPACE_NOT_RESTORED,
    NON_RESTORABLE,
    NON_RESTORABLE_KINDS,
    REPROVISIONED,
    KindTally,
    ObjectKey,
    expected_objects,
    present_objects,
    verify_objects,
)
from drd.velero.vocabulary import NON_RESTORABLE_RESOURCES

NS = "velero"
LISTING = {
    "apps/v1/Deployment": ["shop/storefront", "catalog/api"],
    "v1/ConfigMap": ["shop/storefront-config"],
    "v1/Namespace": ["catalog", "shop"],
    "rbac.authorization.k8s.io/v1/ClusterRole": ["shop-reader"],
    "v1/PersistentVolume": ["pvc-0a1b"],
    "v1/Event": ["shop/storefront.17a2"],
    "v1/Node": ["node-1"],
}


def a_configmap(name: str, namespace: str, **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, **metadata}, "data": {"k": "v"}}


def in_namespace(kube, name: str) -> None:
    kube.create(NAMESPACES, {"metadata": {"name": name}})


# -- what a restore should bring back -------------------------------------------------------------


def test_namespaced_objects_and_their_namespaces_move_through_the_mapping():
    """shop/storefront becomes drill-shop/storefront, and the Namespace shop becomes drill-shop."""
    expected = expected_objects(
        {"apps/v1/Deployment": ["shop/storefront"], "v1/Namespace": ["shop"]},
        namespace_mapping={"shop": "drill-shop"},
    )
    assert expected == {
        ObjectKey("apps/v1", "Deployment", "drill-shop", "storefront"),
        ObjectKey("v1", "Namespace", "", "drill-shop"),
    }
    assert sorted(str(k) for k in expected) == ["apps/v1/Deployment drill-shop/storefront", "v1/Namespace drill-shop"]


def test_velero_never_restores_its_non_restorable_kinds():
    """Nodes, events and the rest of nonRestorableResources are never expected, even in a full restore."""
    listing = {f"{group + '/' if group else ''}v1/{kind}": ["x"] for group, kind in NON_RESTORABLE_KINDS.values()}
    assert expected_objects(listing, include_cluster_resources=True) == set()
    assert set(NON_RESTORABLE_KINDS) == NON_RESTORABLE_RESOURCES


def test_persistent_volumes_are_never_expected():
    """PersistentVolumes are re-provisioned from their claims under new names, so none is expected."""
    assert expected_objects({"v1/PersistentVolume": ["pvc-0a1b"]}, include_cluster_resources=True) == set()


@pytest.mark.parametrize(
    ("included", "include_cluster", "restored"),
    [
        (None, None, True),
        (["shop"], None, False),
        (["shop"], True, True),
        (None, False, False),
    ],
    ids=["all namespaces, unset", "some namespaces, unset", "some namespaces, true", "all namespaces, false"],
)
def test_cluster_scoped_objects_are_expected_only_when_the_restore_includes_cluster_resources(
    included, include_cluster, restored
):
    """includeClusterResources true, or unset with every namespace included, brings cluster-scoped objects (§1.2)."""
    expected = expected_objects(
        {"rbac.authorization.k8s.io/v1/ClusterRole": ["shop-reader"]},
        included_namespaces=included,
        include_cluster_resources=include_cluster,
    )
    assert (ObjectKey("rbac.authorization.k8s.io/v1", "ClusterRole", "", "shop-reader") in expected) is restored


def test_namespaces_outside_the_restore_are_not_expected():
    """Only included (globs allowed), not excluded namespaces and their objects are expected."""
    listing = {"v1/ConfigMap": ["shop/a", "shop-eu/b", "catalog/c"], "v1/Namespace": ["shop", "shop-eu", "catalog"]}
    expected = expected_objects(listing, included_namespaces=["shop*"], excluded_namespaces=["shop-eu"])
    assert sorted(str(k) for k in expected) == ["v1/ConfigMap shop/a", "v1/Namespace shop"]


def test_the_report_counts_what_is_not_expected_by_reason(emulated):
    """Backed-up objects a restore does not bring back are counted under the reason why."""
    _, kube = emulated
    report = verify_objects(kube, LISTING, namespace_mapping={"shop": "drill-shop"}, included_namespaces=["shop"])
    assert report.not_expected == {
        CLUSTER_SCOPED_NOT_RESTORED: 1,
        NAMESPACE_NOT_RESTORED: 2,
        NON_RESTORABLE: 2,
        REPROVISIONED: 1,
    }
    assert report.expected == 3


# -- against a restore in the DR cluster ----------------------------------------------------------


def restored_in_dr(primary, dr, *, backup: str, restore: str, target: str) -> dict[str, list[str]]:
    """Back shop up in the primary, restore it in dr-west into ``target``; the backup's list, read in dr-west."""
    spec = {"includedNamespaces": ["shop"]}
    manifest = {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": backup}, "spec": spec}
    velero.create_backup(primary, manifest, namespace=NS)
    velero.wait_for_backup(primary, backup, namespace=NS, timeout_seconds=10)
    waiting.wait_for(dr, VELERO_BACKUPS, backup, namespace=NS, until=lambda b: b, timeout_seconds=10, what="sync")
    restore_manifest = restores.restore_manifest(restore, backup=backup, namespace_mapping={"shop": target})
    restores.create_restore(dr, restore_manifest, namespace=NS)
    done = restores.wait_for_restore(dr, restore, namespace=NS, timeout_seconds=10)
    assert done["status"]["phase"] == "Completed"
    return downloads.backup_resource_list(dr, namespace=NS, backup=backup, timeout_seconds=10)


def test_every_backed_up_object_is_found_after_a_restore_in_the_dr_cluster(primary, dr):
    """A real backup restored in dr-west with a mapping: every expected object is there, nothing missing."""
    listing = restored_in_dr(primary, dr, backup="shop-v1", restore="drill-v1", target="drill-shop-v1")
    report = verify_objects(dr, listing, namespace_mapping={"shop": "drill-shop-v1"}, included_namespaces=["shop"])
    assert report.complete
    assert (report.missing, report.unserved) == ([], [])
    assert report.expected == report.found + len(report.tolerated) >= 12
    assert report.by_kind["apps/v1/Deployment"] == KindTally(expected=3, found=3)
    assert report.by_kind["v1/Namespace"] == KindTally(expected=1, found=1)


def test_an_object_deleted_after_the_restore_is_reported_missing(primary, dr):
    """Deleting one restored Deployment makes the report incomplete, naming it in its mapped namespace."""
    listing = restored_in_dr(primary, dr, backup="shop-v2", restore="drill-v2", target="drill-shop-v2")
    dr.delete(DEPLOYMENTS, "checkout", namespace="drill-shop-v2")
    report = verify_objects(dr, listing, namespace_mapping={"shop": "drill-shop-v2"}, included_namespaces=["shop"])
    assert not report.complete
    assert report.missing == ["apps/v1/Deployment drill-shop-v2/checkout"]
    assert report.by_kind["apps/v1/Deployment"] == KindTally(expected=3, found=2)
    assert report.to_dict()["missing"] == ["apps/v1/Deployment drill-shop-v2/checkout"]


# -- against an emulated cluster ------------------------------------------------------------------


def test_absent_pods_and_jobs_are_tolerated_not_missing(emulated):
    """Pods and Jobs Velero skips when completed, or controllers replace, are tolerated when absent."""
    _, kube = emulated
    in_namespace(kube, "drill")
    listing = {"v1/Pod": ["shop/web-5d9f-x2x"], "batch/v1/Job": ["shop/nightly-2912"], "v1/Namespace": ["shop"]}
    report = verify_objects(kube, listing, namespace_mapping={"shop": "drill"})
    assert report.complete
    assert report.tolerated == ["batch/v1/Job drill/nightly-2912", "v1/Pod drill/web-5d9f-x2x"]
    assert (report.expected, report.found) == (3, 1)


def test_objects_of_a_kind_the_cluster_does_not_serve_are_missing_and_the_kind_named(emulated):
    """A backed-up custom resource whose CRD is not installed makes its objects missing, the kind listed unserved."""
    _, kube = emulated
    report = verify_objects(kube, {"example.com/v1/Widget": ["shop/w1"]}, namespace_mapping={"shop": "drill"})
    assert report.missing == ["example.com/v1/Widget drill/w1"]
    assert report.unserved == ["example.com/v1/Widget"]


def test_an_object_being_deleted_counts_as_absent(emulated):
    """An object with a deletionTimestamp (held by a finalizer) will not stay: it is missing."""
    _, kube = emulated
    in_namespace(kube, "drill")
    kube.create(CONFIGMAPS, a_configmap("held", "drill", finalizers=["example.com/hold"]), namespace="drill")
    kube.delete(CONFIGMAPS, "held", namespace="drill")
    assert kube.get(CONFIGMAPS, "held", namespace="drill")["metadata"]["deletionTimestamp"]
    assert present_objects(kube, {ObjectKey("v1", "ConfigMap", "drill", "held")}) == set()


def test_objects_the_backup_did_not_hold_are_reported_extra(emulated):
    """A ConfigMap in the restored namespace that the backup did not hold is listed as extra, not as a failure."""
    _, kube = emulated
    in_namespace(kube, "drill")
    for name in ("settings", "local-only"):
        kube.create(CONFIGMAPS, a_configmap(name, "drill"), namespace="drill")
    report = verify_objects(kube, {"v1/ConfigMap": ["shop/settings"]}, namespace_mapping={"shop": "drill"})
    assert report.complete
    assert report.extra == ["v1/ConfigMap drill/local-only"]


def test_missing_objects_carry_what_velero_said_it_did_with_them(emulated):
    """Given the restore's own resource list, each missing object comes with Velero's outcome for it."""
    _, kube = emulated
    restored = {"v1/ConfigMap": ["drill/settings(failed)", "drill/other(created)"]}
    report = verify_objects(
        kube, {"v1/ConfigMap": ["shop/settings"]}, namespace_mapping={"shop": "drill"}, restored=restored
    )
    assert report.velero_outcomes == {"v1/ConfigMap drill/settings": "failed"}


def test_presence_is_read_with_lists_never_object_by_object(emulated):
    """present_objects works while every GET of a single ConfigMap fails: it only LISTs (one per namespace)."""
    emulator, kube = emulated
    keys = set()
    for namespace in ("drill-a", "drill-b"):
        in_namespace(kube, namespace)
        for i in range(20):
            kube.create(CONFIGMAPS, a_configmap(f"cm-{i}", namespace), namespace=namespace)
            keys.add(ObjectKey("v1", "ConfigMap", namespace, f"cm-{i}"))
    absent = ObjectKey("v1", "ConfigMap", "drill-a", "never-made")
    emulator.set_faults(error_rate=1.0, status=500, path_pattern=r"/configmaps/[^/]+$")
    assert present_objects(kube, {*keys, absent}) == keys
