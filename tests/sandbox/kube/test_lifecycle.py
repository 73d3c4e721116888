"""Object lifecycles: finalizers, namespace termination, garbage collection, CRDs coming and going.

Aspects: deletionTimestamp with finalizers and disappearance when the last one is
removed; no new finalizers on a deleting object; namespace cascade delete, 404 for
a missing and 403 for a terminating namespace; owner-reference GC with
Background, Orphan and Foreground propagation; delete preconditions; a CRD
registering and unregistering its resource.
"""

from __future__ import annotations

import pytest
from kubernetes import client

from drd.sandbox.kube.crds import crd_manifest
from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import a_backup, a_deployment, status_of

FINALIZER = "drd.example.com/cleanup"


def _owner_ref(owner: client.V1Deployment) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": owner.metadata.name,
        "uid": owner.metadata.uid,
        "controller": True,
    }


def test_delete_with_finalizer_sets_deletion_timestamp(core: client.CoreV1Api):
    """Deleting an object with a finalizer keeps it, with deletionTimestamp and grace period 0."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c", "finalizers": [FINALIZER]}})
    core.delete_namespaced_config_map("c", "default")
    kept = core.read_namespaced_config_map("c", "default")
    assert kept.metadata.deletion_timestamp is not None
    assert kept.metadata.deletion_grace_period_seconds == 0


def test_removing_last_finalizer_deletes_the_object(core: client.CoreV1Api):
    """Once a deleting object's finalizers are all removed, it is gone."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c", "finalizers": [FINALIZER]}})
    core.delete_namespaced_config_map("c", "default")
    core.patch_namespaced_config_map("c", "default", [{"op": "remove", "path": "/metadata/finalizers"}])
    with pytest.raises(client.ApiException) as caught:
        core.read_namespaced_config_map("c", "default")
    assert caught.value.status == 404


def test_second_delete_of_a_finalizing_object_changes_nothing(core: client.CoreV1Api):
    """Deleting an object that is already being deleted keeps its first deletionTimestamp and version."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c", "finalizers": [FINALIZER]}})
    core.delete_namespaced_config_map("c", "default")
    first = core.read_namespaced_config_map("c", "default")
    core.delete_namespaced_config_map("c", "default")
    again = core.read_namespaced_config_map("c", "default")
    assert first.metadata.resource_version == again.metadata.resource_version


def test_no_finalizer_may_be_added_to_a_deleting_object(core: client.CoreV1Api):
    """Adding a finalizer to an object being deleted is 422 Forbidden on metadata.finalizers."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c", "finalizers": [FINALIZER]}})
    core.delete_namespaced_config_map("c", "default")
    with pytest.raises(client.ApiException) as caught:
        core.patch_namespaced_config_map("c", "default", {"metadata": {"finalizers": [FINALIZER, "other.io/x"]}})
    status = status_of(caught.value)
    assert caught.value.status == 422
    assert "no new finalizers can be added if the object is being deleted" in status["message"]


def test_create_in_missing_namespace_is_404(core: client.CoreV1Api):
    """Creating into a namespace that does not exist fails 404 'namespaces "nope" not found'."""
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_config_map("nope", {"metadata": {"name": "c"}})
    status = status_of(caught.value)
    assert (caught.value.status, status["message"]) == (404, 'namespaces "nope" not found')
    assert status["details"] == {"name": "nope", "kind": "namespaces"}


def test_namespace_delete_cascades_to_its_content(core: client.CoreV1Api, apps: client.AppsV1Api):
    """Deleting a namespace deletes everything in it, then the namespace itself."""
    core.create_namespace({"metadata": {"name": "drill"}})
    core.create_namespaced_config_map("drill", {"metadata": {"name": "c"}})
    apps.create_namespaced_deployment("drill", a_deployment())
    core.delete_namespace("drill")
    assert core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=drill").items == []
    with pytest.raises(client.ApiException) as caught:
        core.read_namespace("drill")
    assert caught.value.status == 404


def test_namespace_delete_answers_the_terminating_namespace(core: client.CoreV1Api):
    """The DELETE response is the namespace in phase Terminating with a deletionTimestamp."""
    core.create_namespace({"metadata": {"name": "drill"}})
    answer = core.delete_namespace("drill")
    assert (answer["kind"], answer["status"]["phase"]) == ("Namespace", "Terminating")
    assert answer["metadata"]["deletionTimestamp"]


def test_namespace_stays_terminating_while_content_has_finalizers(core: client.CoreV1Api):
    """A finalizer on content keeps the namespace Terminating until it is removed."""
    core.create_namespace({"metadata": {"name": "drill"}})
    core.create_namespaced_config_map("drill", {"metadata": {"name": "c", "finalizers": [FINALIZER]}})
    core.delete_namespace("drill")
    assert core.read_namespace("drill").status.phase == "Terminating"
    core.patch_namespaced_config_map("c", "drill", {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as caught:
        core.read_namespace("drill")
    assert caught.value.status == 404


def test_create_in_terminating_namespace_is_403(core: client.CoreV1Api):
    """Creating into a terminating namespace fails 403 Forbidden with the apiserver's message and cause."""
    core.create_namespace({"metadata": {"name": "drill"}})
    core.create_namespaced_config_map("drill", {"metadata": {"name": "c", "finalizers": [FINALIZER]}})
    core.delete_namespace("drill")
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_config_map("drill", {"metadata": {"name": "d"}})
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'configmaps "d" is forbidden: unable to create new content in namespace drill because it is being terminated'
    )
    assert status["details"]["causes"][0]["reason"] == "NamespaceTerminating"


def test_deleting_an_owner_garbage_collects_dependents(apps: client.AppsV1Api):
    """Background propagation: ReplicaSets owned by a deleted Deployment are deleted too."""
    owner = apps.create_namespaced_deployment("default", a_deployment())
    rs = {"metadata": {"name": "web-1", "ownerReferences": [_owner_ref(owner)]}, "spec": a_deployment()["spec"]}
    apps.create_namespaced_replica_set("default", rs)
    apps.delete_namespaced_deployment("web", "default")
    assert apps.list_namespaced_replica_set("default").items == []


def test_garbage_collection_is_transitive(apps: client.AppsV1Api, core: client.CoreV1Api):
    """Pods owned by a ReplicaSet owned by a deleted Deployment are deleted as well."""
    owner = apps.create_namespaced_deployment("default", a_deployment())
    rs = apps.create_namespaced_replica_set(
        "default",
        {"metadata": {"name": "web-1", "ownerReferences": [_owner_ref(owner)]}, "spec": a_deployment()["spec"]},
    )
    pod_owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": rs.metadata.uid}
    core.create_namespaced_pod(
        "default", {"metadata": {"name": "web-1-x", "ownerReferences": [pod_owner]}, "spec": {"containers": []}}
    )
    apps.delete_namespaced_deployment("web", "default")
    assert core.list_namespaced_pod("default").items == []


def test_orphan_propagation_keeps_dependents_without_the_reference(apps: client.AppsV1Api):
    """propagationPolicy=Orphan keeps dependents and strips their owner reference."""
    owner = apps.create_namespaced_deployment("default", a_deployment())
    rs = {"metadata": {"name": "web-1", "ownerReferences": [_owner_ref(owner)]}, "spec": a_deployment()["spec"]}
    apps.create_namespaced_replica_set("default", rs)
    apps.delete_namespaced_deployment("web", "default", propagation_policy="Orphan")
    kept = apps.read_namespaced_replica_set("web-1", "default")
    assert kept.metadata.owner_references is None


def test_foreground_propagation_deletes_dependents(apps: client.AppsV1Api):
    """propagationPolicy=Foreground deletes dependents and then the owner."""
    owner = apps.create_namespaced_deployment("default", a_deployment())
    rs = {"metadata": {"name": "web-1", "ownerReferences": [_owner_ref(owner)]}, "spec": a_deployment()["spec"]}
    apps.create_namespaced_replica_set("default", rs)
    apps.delete_namespaced_deployment("web", "default", propagation_policy="Foreground")
    assert (
        apps.list_namespaced_replica_set("default").items,
        apps.list_namespaced_deployment("default").items,
    ) == ([], [])


def test_dependent_with_a_surviving_owner_is_kept(core: client.CoreV1Api):
    """A dependent with two owners loses only the reference to the deleted one."""
    a = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    b = core.create_namespaced_config_map("default", {"metadata": {"name": "b"}})
    refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": o.metadata.name, "uid": o.metadata.uid} for o in (a, b)]
    core.create_namespaced_config_map("default", {"metadata": {"name": "dep", "ownerReferences": refs}})
    core.delete_namespaced_config_map("a", "default")
    kept = core.read_namespaced_config_map("dep", "default")
    assert [r.name for r in kept.metadata.owner_references] == ["b"]


def test_delete_precondition_on_uid_is_conflict(core: client.CoreV1Api):
    """A DELETE whose precondition uid does not match fails 409 Conflict and keeps the object."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    with pytest.raises(client.ApiException) as caught:
        core.delete_namespaced_config_map("c", "default", body={"preconditions": {"uid": "not-the-uid"}})
    assert caught.value.status == 409
    assert "Precondition failed: UID in precondition: not-the-uid" in status_of(caught.value)["message"]


def test_delete_precondition_on_resource_version_is_conflict(core: client.CoreV1Api):
    """A DELETE whose precondition resourceVersion is stale fails 409 Conflict."""
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    core.patch_namespaced_config_map("c", "default", {"data": {"a": "1"}})
    precondition = {"resourceVersion": created.metadata.resource_version}
    with pytest.raises(client.ApiException) as caught:
        core.delete_namespaced_config_map("c", "default", body={"preconditions": precondition})
    assert caught.value.status == 409


def test_grace_period_and_propagation_parameters_are_accepted(core: client.CoreV1Api):
    """gracePeriodSeconds and propagationPolicy on a plain delete are accepted."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    core.delete_namespaced_config_map("c", "default", grace_period_seconds=0, propagation_policy="Background")
    assert core.list_namespaced_config_map("default").items == []


def test_created_crd_is_established_and_served(emu: KubeEmulator, api: client.ApiClient):
    """Creating a CRD through the API serves its resource at once and marks it Established."""
    ext = client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(crd_manifest(group="example.com", kind="Widget", plural="widgets"))
    crd = ext.read_custom_resource_definition("widgets.example.com")
    assert {c.type: c.status for c in crd.status.conditions} == {"Established": "True", "NamesAccepted": "True"}
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", {"metadata": {"name": "w"}})
    assert custom.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "w")["kind"] == "Widget"


def test_crd_name_must_be_plural_dot_group(api: client.ApiClient):
    """A CRD whose name is not <plural>.<group> is 422."""
    manifest = crd_manifest(group="example.com", kind="Widget", plural="widgets")
    manifest["metadata"]["name"] = "gadgets.example.com"
    with pytest.raises(client.ApiException) as caught:
        client.ApiextensionsV1Api(api).create_custom_resource_definition(manifest)
    assert caught.value.status == 422


def test_deleting_a_crd_deletes_its_objects_and_unserves_it(
    velero_emu: KubeEmulator, velero_api: client.ApiClient, custom: client.CustomObjectsApi
):
    """Deleting the Backup CRD deletes every Backup and the resource is no longer served (404)."""
    custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup())
    client.ApiextensionsV1Api(velero_api).delete_custom_resource_definition("backups.velero.io")
    with pytest.raises(client.ApiException) as caught:
        custom.list_namespaced_custom_object("velero.io", "v1", "velero", "backups")
    assert caught.value.status == 404
    assert velero_emu.store.list("customresourcedefinitions", field_selector="metadata.name=backups.velero.io") == []


def test_crd_with_finalized_objects_waits_for_them(velero_emu: KubeEmulator, custom: client.CustomObjectsApi):
    """A CRD whose objects carry finalizers stays (terminating) until they are gone; creates are refused meanwhile."""
    custom.create_namespaced_custom_object(
        "velero.io", "v1", "velero", "backups", {**a_backup(), "metadata": {"name": "b", "finalizers": [FINALIZER]}}
    )
    velero_emu.store.delete("customresourcedefinitions", "backups.velero.io")
    with pytest.raises(client.ApiException) as caught:
        custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup("other"))
    assert caught.value.status == 405
    custom.patch_namespaced_custom_object(
        "velero.io", "v1", "velero", "backups", "b", {"metadata": {"finalizers": None}}
    )
    assert velero_emu.store.list("customresourcedefinitions", field_selector="metadata.name=backups.velero.io") == []


def test_velero_not_installed_means_no_velero_resources(core: client.CoreV1Api, api: client.ApiClient):
    """Without Velero's CRDs, the velero.io group is simply absent from discovery."""
    groups = [g.name for g in client.ApisApi(api).get_api_versions().groups]
    assert "velero.io" not in groups
