"""Discovery: /version, /api, /apis, resource lists, OpenAPI skeleton, and the DynamicClient on top.

Aspects: the configured version; group and resource lists with kinds, scopes,
verbs, short names and subresources; aggregated discovery requests falling back
(or 406 when nothing else is acceptable); the OpenAPI v3 index kubectl reads; the
DynamicClient finding built-ins and a CRD registered at run time, and losing it
when the CRD is deleted.
"""

from __future__ import annotations

import pytest
from kubernetes import client, dynamic
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from drd.sandbox.kube.crds import crd_manifest
from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import api_client_for, raw_request


def test_version_reports_the_configured_git_version():
    """/version reports gitVersion and major/minor as configured."""
    with KubeEmulator(git_version="v1.30.2") as emu, api_client_for(emu) as api:
        info = client.VersionApi(api).get_code()
    assert (info.git_version, info.major, info.minor) == ("v1.30.2", "1", "30")


def test_core_api_versions(api: client.ApiClient):
    """/api lists v1."""
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]


def test_group_list_includes_builtin_groups(api: client.ApiClient):
    """/apis lists apps, batch, coordination, networking, policy, rbac, storage and apiextensions."""
    groups = {g.name: g.preferred_version.version for g in client.ApisApi(api).get_api_versions().groups}
    expected = {
        "apps",
        "batch",
        "coordination.k8s.io",
        "networking.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "events.k8s.io",
    }
    assert expected <= set(groups)
    assert groups["apps"] == "v1"


def test_resource_list_describes_deployments_and_subresources(api: client.ApiClient):
    """/apis/apps/v1 lists deployments (namespaced, short name deploy) plus deployments/status and /scale."""
    resources = {r.name: r for r in client.AppsV1Api(api).get_api_resources().resources}
    deployments = resources["deployments"]
    assert (deployments.kind, deployments.namespaced, deployments.short_names) == ("Deployment", True, ["deploy"])
    assert {"create", "delete", "get", "list", "patch", "update", "watch", "deletecollection"} == set(deployments.verbs)
    assert (
        resources["deployments/status"].kind,
        resources["deployments/status"].verbs,
    ) == ("Deployment", ["get", "patch", "update"])
    scale = resources["deployments/scale"]
    assert (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")


def test_core_resource_list_has_cluster_scoped_namespaces(api: client.ApiClient):
    """/api/v1 marks namespaces and nodes cluster-scoped and configmaps namespaced."""
    resources = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert (
        resources["namespaces"].namespaced,
        resources["nodes"].namespaced,
        resources["configmaps"].namespaced,
    ) == (False, False, True)


def test_velero_resources_are_discoverable(velero_api: client.ApiClient):
    """/apis/velero.io/v1 lists Velero's kinds with their short names and no status subresource."""
    resources = client.CustomObjectsApi(velero_api).get_api_resources("velero.io", "v1").resources
    by_name = {r.name: r for r in resources}
    assert by_name["backupstoragelocations"].short_names == ["bsl"]
    assert by_name["serverstatusrequests"].short_names == ["ssr"]
    assert not [name for name in by_name if name.endswith("/status")]
    assert {
        "backups",
        "restores",
        "schedules",
        "backupstoragelocations",
        "volumesnapshotlocations",
        "deletebackuprequests",
        "downloadrequests",
        "serverstatusrequests",
        "backuprepositories",
        "podvolumebackups",
        "podvolumerestores",
    } == {name for name in by_name if "/" not in name}


def test_aggregated_discovery_request_falls_back_to_plain_json(emu: KubeEmulator):
    """A kubectl-style Accept (aggregated first, then plain JSON) gets the plain APIGroupList."""
    accept = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
    )
    response = raw_request(emu, "GET", "/apis", headers={"Accept": accept})
    assert (response.status, response.body["kind"]) == (200, "APIGroupList")


def test_aggregated_discovery_only_is_406(emu: KubeEmulator):
    """Asking only for aggregated discovery is 406 NotAcceptable."""
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    response = raw_request(emu, "GET", "/apis", headers={"Accept": accept})
    assert response.status == 406


def test_openapi_v3_index_lists_group_versions(emu: KubeEmulator):
    """/openapi/v3 indexes every group/version document with a content hash; /openapi/v2 is 404."""
    index = raw_request(emu, "GET", "/openapi/v3").body["paths"]
    assert index["apis/apps/v1"]["serverRelativeURL"].startswith("/openapi/v3/apis/apps/v1?hash=")
    document = raw_request(emu, "GET", index["api/v1"]["serverRelativeURL"]).body
    patch = document["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert raw_request(emu, "GET", "/openapi/v2").status == 404


def test_health_endpoints_answer_ok(emu: KubeEmulator):
    """/healthz, /readyz and /livez answer ok."""
    assert [raw_request(emu, "GET", p).body for p in ("/healthz", "/readyz", "/livez")] == [b"ok"] * 3


def test_dynamic_client_uses_builtin_resources(api: client.ApiClient):
    """The DynamicClient discovers Deployments and lists them."""
    deployments = dynamic.DynamicClient(api).resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.get(namespace="default").items == []


def test_dynamic_client_discovers_a_crd_registered_at_runtime(emu: KubeEmulator, api: client.ApiClient):
    """A CRD created after start-up is found by a new DynamicClient and its objects can be created and read."""
    client.ApiextensionsV1Api(api).create_custom_resource_definition(
        crd_manifest(group="example.com", kind="Widget", plural="widgets", short_names=("wd",))
    )
    widgets = dynamic.DynamicClient(api).resources.get(api_version="example.com/v1", kind="Widget")
    widgets.create(
        body={"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, namespace="default"
    )
    assert widgets.get(name="w", namespace="default").metadata.name == "w"
    assert widgets.short_names == ["wd"]


def test_dynamic_client_with_velero_backups(velero_api: client.ApiClient):
    """DynamicClient patches a Velero Backup with a merge patch, as a driver would."""
    backups = dynamic.DynamicClient(velero_api).resources.get(api_version="velero.io/v1", kind="Backup")
    backups.create(body={"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "b"}}, namespace="velero")
    patched = backups.patch(
        name="b",
        namespace="velero",
        body={"spec": {"ttl": "1h"}},
        content_type="application/merge-patch+json",
    )
    assert patched.spec.ttl == "1h"


def test_dynamic_client_no_longer_finds_a_deleted_crd(emu: KubeEmulator, api: client.ApiClient):
    """After the CRD is deleted, a fresh discovery does not find the kind."""
    emu.install_crds([crd_manifest(group="example.com", kind="Widget", plural="widgets")])
    dynamic.DynamicClient(api).resources.get(api_version="example.com/v1", kind="Widget")
    emu.store.delete("customresourcedefinitions", "widgets.example.com")
    fresh = dynamic.DynamicClient(api)
    fresh.resources.invalidate_cache()
    with pytest.raises(ResourceNotFoundError):
        fresh.resources.get(api_version="example.com/v1", kind="Widget")


def test_multi_version_crd_serves_both_versions_from_one_collection(emu: KubeEmulator, api: client.ApiClient):
    """A CRD serving v1 and v1beta1 shows one object through both, with each version's apiVersion."""
    emu.install_crds([crd_manifest(group="example.com", kind="Widget", plural="widgets", versions=("v1", "v1beta1"))])
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object("example.com", "v1beta1", "default", "widgets", {"metadata": {"name": "w"}})
    read = custom.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "w")
    assert read["apiVersion"] == "example.com/v1"
    group = client.ApisApi(api).get_api_versions().groups
    assert next(g for g in group if g.name == "example.com").preferred_version.version == "v1"
