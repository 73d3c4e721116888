"""PATCH in its three flavours, chosen by Content-Type, and the apiserver's refusals.

Aspects: RFC 7386 merge patch (null deletes, lists replace); strategic merge patch
(containers/env merged by name, ``$patch: delete``, refused for custom resources);
RFC 6902 JSON patch (a failing ``test`` is 422); the CustomObjectsApi pitfall of
sending a JSON-patch list as a merge patch; stale resourceVersion in a patch;
server-side apply is 415.
"""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import a_backup, a_deployment, raw_request, status_of


def _patch(emu: KubeEmulator, path: str, body: object, content_type: str):
    return raw_request(emu, "PATCH", path, body=json.dumps(body), headers={"Content-Type": content_type})


def test_merge_patch_null_deletes_a_key(emu: KubeEmulator, core: client.CoreV1Api):
    """In a merge patch, null removes a key and other keys merge."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}})
    response = _patch(
        emu,
        "/api/v1/namespaces/default/configmaps/c",
        {"data": {"a": None, "c": "3"}},
        "application/merge-patch+json",
    )
    assert response.body["data"] == {"b": "2", "c": "3"}


def test_merge_patch_replaces_lists(emu: KubeEmulator, apps: client.AppsV1Api):
    """A merge patch replaces a list wholesale (containers are not merged by name)."""
    apps.create_namespaced_deployment("default", a_deployment())
    containers = [{"name": "sidecar", "image": "envoy"}]
    response = _patch(
        emu,
        "/apis/apps/v1/namespaces/default/deployments/web",
        {"spec": {"template": {"spec": {"containers": containers}}}},
        "application/merge-patch+json",
    )
    assert containers == response.body["spec"]["template"]["spec"]["containers"]


def test_strategic_merge_patch_merges_containers_by_name(apps: client.AppsV1Api):
    """The typed client's dict patch (strategic merge) updates one container and keeps the others."""
    manifest = a_deployment()
    manifest["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1"})
    apps.create_namespaced_deployment("default", manifest)
    patched = apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy:2"}]}}}}
    )
    images = {c.name: c.image for c in patched.spec.template.spec.containers}
    assert images == {"app": "nginx:1.27", "sidecar": "envoy:2"}


def test_strategic_merge_patch_merges_env_by_name(apps: client.AppsV1Api):
    """Env vars merge by name: a patch adding one keeps the existing ones."""
    manifest = a_deployment()
    manifest["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    apps.create_namespaced_deployment("default", manifest)
    patched = apps.patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}},
    )
    assert [e.name for e in patched.spec.template.spec.containers[0].env] == ["A", "B"]


def test_strategic_merge_patch_delete_directive_removes_a_list_item(apps: client.AppsV1Api):
    """``$patch: delete`` removes the keyed item from the list."""
    manifest = a_deployment()
    manifest["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1"})
    apps.create_namespaced_deployment("default", manifest)
    patched = apps.patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}},
    )
    assert [c.name for c in patched.spec.template.spec.containers] == ["app"]


def test_strategic_merge_patch_is_415_for_custom_resources(velero_emu: KubeEmulator, custom: client.CustomObjectsApi):
    """Custom resources accept no strategic merge patch: 415 UnsupportedMediaType."""
    custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup())
    response = _patch(
        velero_emu,
        "/apis/velero.io/v1/namespaces/velero/backups/nightly",
        {"spec": {"ttl": "1h"}},
        "application/strategic-merge-patch+json",
    )
    assert (response.status, response.body["reason"]) == (415, "UnsupportedMediaType")


def test_json_patch_applies_operations_in_order(core: client.CoreV1Api):
    """A JSON patch list (typed client) adds, replaces and removes."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}})
    patched = core.patch_namespaced_config_map(
        "c",
        "default",
        [
            {"op": "add", "path": "/data/c", "value": "3"},
            {"op": "replace", "path": "/data/a", "value": "10"},
            {"op": "remove", "path": "/data/b"},
        ],
    )
    assert patched.data == {"a": "10", "c": "3"}


def test_json_patch_failed_test_operation_is_422(core: client.CoreV1Api):
    """A failing ``test`` op rejects the whole patch with 422 and changes nothing."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    with pytest.raises(client.ApiException) as caught:
        core.patch_namespaced_config_map(
            "c",
            "default",
            [{"op": "test", "path": "/data/a", "value": "2"}, {"op": "replace", "path": "/data/a", "value": "3"}],
        )
    assert (caught.value.status, status_of(caught.value)["reason"]) == (422, "Invalid")
    assert core.read_namespaced_config_map("c", "default").data == {"a": "1"}


def test_json_patch_passing_test_operation_applies(core: client.CoreV1Api):
    """A passing ``test`` op lets the following operations apply (compare-and-swap)."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    patched = core.patch_namespaced_config_map(
        "c",
        "default",
        [{"op": "test", "path": "/data/a", "value": "1"}, {"op": "replace", "path": "/data/a", "value": "2"}],
    )
    assert patched.data == {"a": "2"}


def test_json_patch_removing_a_missing_path_is_422(core: client.CoreV1Api):
    """Removing a path that does not exist is 422."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    with pytest.raises(client.ApiException) as caught:
        core.patch_namespaced_config_map("c", "default", [{"op": "remove", "path": "/data/zz"}])
    assert caught.value.status == 422


def test_custom_objects_json_patch_without_content_type_fails_like_a_real_cluster(custom: client.CustomObjectsApi):
    """CustomObjectsApi sends a JSON-patch list as merge-patch by default: 422, as a real apiserver answers."""
    custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup())
    with pytest.raises(client.ApiException) as caught:
        custom.patch_namespaced_custom_object(
            "velero.io", "v1", "velero", "backups", "nightly", [{"op": "add", "path": "/spec/ttl", "value": "1h"}]
        )
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (422, "Invalid")
    assert "cannot unmarshal array into Go value of type struct" in status["message"]


def test_custom_objects_json_patch_with_content_type_succeeds(custom: client.CustomObjectsApi):
    """The same JSON patch with _content_type='application/json-patch+json' applies."""
    custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup())
    patched = custom.patch_namespaced_custom_object(
        "velero.io",
        "v1",
        "velero",
        "backups",
        "nightly",
        [{"op": "add", "path": "/spec/ttl", "value": "1h"}],
        _content_type="application/json-patch+json",
    )
    assert patched["spec"] == {"ttl": "1h"}


def test_custom_objects_dict_patch_is_a_merge_patch(custom: client.CustomObjectsApi):
    """CustomObjectsApi's dict patch merges into the custom resource."""
    custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup(ttl="1h"))
    patched = custom.patch_namespaced_custom_object(
        "velero.io", "v1", "velero", "backups", "nightly", {"spec": {"storageLocation": "default"}}
    )
    assert patched["spec"] == {"ttl": "1h", "storageLocation": "default"}


def test_json_patch_with_an_object_body_is_400(emu: KubeEmulator, core: client.CoreV1Api):
    """A json-patch Content-Type with an object body is 400 BadRequest."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    response = _patch(emu, "/api/v1/namespaces/default/configmaps/c", {"data": {}}, "application/json-patch+json")
    assert (response.status, response.body["reason"]) == (400, "BadRequest")


def test_patch_with_stale_resource_version_is_conflict(core: client.CoreV1Api):
    """A patch that pins an old metadata.resourceVersion fails 409 Conflict (optimistic locking by patch)."""
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"v": "1"}})
    core.patch_namespaced_config_map("c", "default", {"data": {"v": "2"}})
    with pytest.raises(client.ApiException) as caught:
        core.patch_namespaced_config_map(
            "c", "default", {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"v": "3"}}
        )
    assert caught.value.status == 409


def test_patch_of_missing_object_is_404(core: client.CoreV1Api):
    """Patching an absent object is 404 (no create on patch)."""
    with pytest.raises(client.ApiException) as caught:
        core.patch_namespaced_config_map("c", "default", {"data": {"a": "1"}})
    assert caught.value.status == 404


def test_server_side_apply_is_415(emu: KubeEmulator, core: client.CoreV1Api):
    """application/apply-patch+yaml is refused with 415: server-side apply is not emulated."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    response = _patch(emu, "/api/v1/namespaces/default/configmaps/c", {"data": {}}, "application/apply-patch+yaml")
    assert (response.status, response.body["reason"]) == (415, "UnsupportedMediaType")
