"""The status and scale subresources, where Kubernetes has them and nowhere else.

Aspects: status isolation in both directions for built-ins and for a CRD that
declares ``subresources.status``; status written on create is dropped; Velero CRs
have no ``/status`` (404) and keep status written through the main resource; the
``autoscaling/v1`` Scale of deployments (GET/PUT/PATCH, stale version conflict)
and of a CRD declaring ``subresources.scale``.
"""

from __future__ import annotations

import pytest
from kubernetes import client

from drd.sandbox.kube.crds import crd_manifest
from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import a_backup, a_deployment, raw_request


def test_main_resource_write_ignores_status(apps: client.AppsV1Api):
    """Patching status through the Deployment itself changes nothing in status."""
    apps.create_namespaced_deployment("default", a_deployment())
    patched = apps.patch_namespaced_deployment("web", "default", {"status": {"readyReplicas": 5}})
    assert patched.status.ready_replicas is None


def test_status_write_ignores_spec_and_metadata(apps: client.AppsV1Api):
    """Patching /status with a spec and label change updates status only."""
    apps.create_namespaced_deployment("default", a_deployment(replicas=1))
    patched = apps.patch_namespaced_deployment_status(
        "web",
        "default",
        {"metadata": {"labels": {"x": "y"}}, "spec": {"replicas": 9}, "status": {"readyReplicas": 1}},
    )
    assert (patched.status.ready_replicas, patched.spec.replicas) == (1, 1)
    assert not patched.metadata.labels


def test_status_write_does_not_bump_generation(apps: client.AppsV1Api):
    """A status update leaves metadata.generation alone (it tracks the spec)."""
    apps.create_namespaced_deployment("default", a_deployment())
    patched = apps.patch_namespaced_deployment_status("web", "default", {"status": {"observedGeneration": 1}})
    assert patched.metadata.generation == 1


def test_replace_status_with_stale_version_is_conflict(apps: client.AppsV1Api):
    """PUT /status with an old resourceVersion is 409, like any update."""
    created = apps.create_namespaced_deployment("default", a_deployment())
    apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 2}})
    created.status = client.V1DeploymentStatus(replicas=1)
    with pytest.raises(client.ApiException) as caught:
        apps.replace_namespaced_deployment_status("web", "default", created)
    assert caught.value.status == 409


def test_status_on_create_is_dropped(apps: client.AppsV1Api):
    """Status sent with a create is not stored (controllers own it)."""
    manifest = a_deployment()
    manifest["status"] = {"readyReplicas": 3}
    assert apps.create_namespaced_deployment("default", manifest).status.ready_replicas is None


def test_replica_set_status_has_zero_replicas_on_create(apps: client.AppsV1Api):
    """A new ReplicaSet reports status.replicas 0 (a non-omitempty Go field)."""
    created = apps.create_namespaced_replica_set(
        "default", {"metadata": {"name": "rs"}, "spec": a_deployment()["spec"]}
    )
    assert created.status.replicas == 0


def test_pod_status_subresource(core: client.CoreV1Api):
    """A pod starts Pending and its phase moves only through /status."""
    core.create_namespaced_pod("default", {"metadata": {"name": "p"}, "spec": {"containers": []}})
    assert core.read_namespaced_pod("p", "default").status.phase == "Pending"
    core.patch_namespaced_pod_status("p", "default", {"status": {"phase": "Running"}})
    assert core.read_namespaced_pod_status("p", "default").status.phase == "Running"


def test_velero_crs_have_no_status_subresource(custom: client.CustomObjectsApi):
    """/status on a Velero Backup is 404: its CRD declares no status subresource."""
    custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup())
    with pytest.raises(client.ApiException) as caught:
        custom.patch_namespaced_custom_object_status(
            "velero.io", "v1", "velero", "backups", "nightly", {"status": {"phase": "Completed"}}
        )
    assert caught.value.status == 404


def test_velero_cr_status_is_written_through_the_main_resource(custom: client.CustomObjectsApi):
    """Without a status subresource, a merge patch of status on the Backup itself sticks."""
    custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup())
    custom.patch_namespaced_custom_object(
        "velero.io", "v1", "velero", "backups", "nightly", {"status": {"phase": "Completed"}}
    )
    read = custom.get_namespaced_custom_object("velero.io", "v1", "velero", "backups", "nightly")
    assert read["status"]["phase"] == "Completed"


def test_velero_cr_keeps_status_sent_on_create(custom: client.CustomObjectsApi):
    """Status included in a Velero CR create is stored (no subresource to strip it)."""
    created = custom.create_namespaced_custom_object(
        "velero.io", "v1", "velero", "backups", {**a_backup(), "status": {"phase": "New"}}
    )
    assert created["status"] == {"phase": "New"}


@pytest.fixture
def widgets(emu: KubeEmulator, api: client.ApiClient) -> client.CustomObjectsApi:
    """A Widget CRD with status and scale subresources, and one Widget 'w' (replicas 1)."""
    emu.install_crds(
        [crd_manifest(group="example.com", kind="Widget", plural="widgets", status_subresource=True, scale=True)]
    )
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", {"metadata": {"name": "w"}, "spec": {"replicas": 1}}
    )
    return custom


def test_crd_status_subresource_isolates_status(widgets: client.CustomObjectsApi):
    """With subresources.status, a main-resource status patch is ignored and /status changes only status."""
    ignored = widgets.patch_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", "w", {"status": {"ready": True}}
    )
    written = widgets.patch_namespaced_custom_object_status(
        "example.com", "v1", "default", "widgets", "w", {"status": {"ready": True}, "spec": {"replicas": 7}}
    )
    assert "status" not in ignored
    assert (written["status"], written["spec"]["replicas"]) == ({"ready": True}, 1)


def test_crd_with_status_subresource_bumps_generation_on_spec_only(widgets: client.CustomObjectsApi):
    """With a status subresource, generation ignores status writes and follows spec changes."""
    widgets.patch_namespaced_custom_object_status(
        "example.com", "v1", "default", "widgets", "w", {"status": {"ready": True}}
    )
    changed = widgets.patch_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", "w", {"spec": {"replicas": 2}}
    )
    assert changed["metadata"]["generation"] == 2


def test_deployment_scale_reads_replicas_and_selector(apps: client.AppsV1Api):
    """GET /scale returns an autoscaling/v1 Scale with spec.replicas and the label selector."""
    apps.create_namespaced_deployment("default", a_deployment(replicas=2))
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert (
        scale.kind,
        scale.api_version,
        scale.spec.replicas,
        scale.status.selector,
    ) == ("Scale", "autoscaling/v1", 2, "app=web")


def test_deployment_scale_patch_changes_replicas(apps: client.AppsV1Api):
    """PATCH /scale sets the Deployment's spec.replicas and bumps its generation."""
    apps.create_namespaced_deployment("default", a_deployment(replicas=1))
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 4}})
    deployment = apps.read_namespaced_deployment("web", "default")
    assert (deployment.spec.replicas, deployment.metadata.generation) == (4, 2)


def test_deployment_scale_replace_with_stale_version_is_conflict(apps: client.AppsV1Api):
    """PUT /scale with an outdated resourceVersion is 409."""
    apps.create_namespaced_deployment("default", a_deployment(replicas=1))
    scale = apps.read_namespaced_deployment_scale("web", "default")
    apps.patch_namespaced_deployment("web", "default", {"metadata": {"labels": {"x": "y"}}})
    scale.spec.replicas = 3
    with pytest.raises(client.ApiException) as caught:
        apps.replace_namespaced_deployment_scale("web", "default", scale)
    assert caught.value.status == 409


def test_statefulset_scale_replace(apps: client.AppsV1Api):
    """PUT /scale on a StatefulSet with the current version sets its replicas."""
    manifest = {**a_deployment("db"), "kind": "StatefulSet"}
    manifest["spec"] = {**manifest["spec"], "serviceName": "db"}
    apps.create_namespaced_stateful_set("default", manifest)
    scale = apps.read_namespaced_stateful_set_scale("db", "default")
    scale.spec.replicas = 3
    apps.replace_namespaced_stateful_set_scale("db", "default", scale)
    assert apps.read_namespaced_stateful_set("db", "default").spec.replicas == 3


def test_daemonsets_have_no_scale(emu: KubeEmulator, apps: client.AppsV1Api):
    """DaemonSets have no scale subresource: /scale is 404."""
    manifest = {**a_deployment("ds"), "kind": "DaemonSet"}
    del manifest["spec"]["replicas"]
    apps.create_namespaced_daemon_set("default", manifest)
    assert raw_request(emu, "GET", "/apis/apps/v1/namespaces/default/daemonsets/ds/scale").status == 404


def test_crd_scale_subresource(widgets: client.CustomObjectsApi):
    """A CRD declaring subresources.scale serves /scale on its objects."""
    widgets.patch_namespaced_custom_object_scale(
        "example.com", "v1", "default", "widgets", "w", {"spec": {"replicas": 5}}
    )
    scale = widgets.get_namespaced_custom_object_scale("example.com", "v1", "default", "widgets", "w")
    assert (
        scale["spec"]["replicas"],
        widgets.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "w")["spec"]["replicas"],
    ) == (5, 5)
