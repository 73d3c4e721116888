"""System metadata the apiserver maintains: resourceVersion, uid, creationTimestamp, generation, defaults.

Aspects: one global integer resourceVersion; no-op writes keep it; generation moves
with the spec of workloads and with any non-metadata change of a custom resource
without a status subresource; Secret ``stringData`` folds into ``data``; a few
defaults (namespace finalizers and name label, Deployment replicas).
"""

from __future__ import annotations

import base64
import re

from kubernetes import client

from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import a_backup, a_deployment, raw_request


def test_resource_version_is_one_global_increasing_counter(core: client.CoreV1Api):
    """Writes to different resources get strictly increasing integer resourceVersions."""
    first = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    second = core.create_namespaced_secret("default", {"metadata": {"name": "b"}})
    third = core.create_namespace({"metadata": {"name": "x"}})
    versions = [int(o.metadata.resource_version) for o in (first, second, third)]
    assert versions == sorted(versions)
    assert len(set(versions)) == 3


def test_uid_and_creation_timestamp_are_set(core: client.CoreV1Api, emu: KubeEmulator):
    """uid is a UUID and creationTimestamp is RFC 3339 in UTC with a Z, on the wire."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    raw = raw_request(emu, "GET", "/api/v1/namespaces/default/configmaps/c").body["metadata"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", raw["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", raw["creationTimestamp"])
    assert isinstance(raw["resourceVersion"], str)


def test_managed_fields_are_omitted(core: client.CoreV1Api):
    """managedFields sent by a client are not stored."""
    created = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "c", "managedFields": [{"manager": "me", "operation": "Update"}]}}
    )
    assert created.metadata.managed_fields is None


def test_no_op_update_keeps_the_resource_version(core: client.CoreV1Api):
    """Patching a field to the value it already has changes nothing, not even the resourceVersion."""
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"k": "v"}})
    patched = core.patch_namespaced_config_map("c", "default", {"data": {"k": "v"}})
    assert created.metadata.resource_version == patched.metadata.resource_version


def test_client_cannot_change_uid_or_creation_timestamp(core: client.CoreV1Api):
    """An update that rewrites uid and creationTimestamp keeps the stored values."""
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    body = {"metadata": {"name": "c", "uid": "forged", "creationTimestamp": "2000-01-01T00:00:00Z"}, "data": {"a": "1"}}
    replaced = core.replace_namespaced_config_map("c", "default", body)
    assert (created.metadata.uid, created.metadata.creation_timestamp) == (
        replaced.metadata.uid,
        replaced.metadata.creation_timestamp,
    )


def test_workload_generation_moves_with_spec_only(apps: client.AppsV1Api):
    """A Deployment starts at generation 1; a spec change bumps it, a label change does not."""
    created = apps.create_namespaced_deployment("default", a_deployment())
    relabelled = apps.patch_namespaced_deployment("web", "default", {"metadata": {"labels": {"x": "y"}}})
    rescaled = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert (
        created.metadata.generation,
        relabelled.metadata.generation,
        rescaled.metadata.generation,
    ) == (1, 1, 2)


def test_config_maps_have_no_generation(core: client.CoreV1Api):
    """Resources without a spec/status split carry no generation."""
    assert core.create_namespaced_config_map("default", {"metadata": {"name": "c"}}).metadata.generation is None


def test_custom_resource_without_status_subresource_bumps_generation_on_status_change(
    custom: client.CustomObjectsApi,
):
    """For Velero CRs (no status subresource) a status change is a content change: generation increments."""
    custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup())
    patched = custom.patch_namespaced_custom_object(
        "velero.io", "v1", "velero", "backups", "nightly", {"status": {"phase": "InProgress"}}
    )
    assert patched["metadata"]["generation"] == 2


def test_custom_resource_metadata_change_keeps_generation(custom: client.CustomObjectsApi):
    """Changing only labels of a custom resource leaves its generation alone."""
    custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup())
    patched = custom.patch_namespaced_custom_object(
        "velero.io", "v1", "velero", "backups", "nightly", {"metadata": {"labels": {"a": "b"}}}
    )
    assert patched["metadata"]["generation"] == 1


def test_secret_string_data_folds_into_base64_data(core: client.CoreV1Api):
    """stringData is merged into data as base64 and is not stored itself; type defaults to Opaque."""
    secret = core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "data": {"a": base64.b64encode(b"1").decode()}, "stringData": {"b": "2"}}
    )
    assert secret.data == {"a": "MQ==", "b": "Mg=="}
    assert secret.string_data is None
    assert secret.type == "Opaque"


def test_string_data_wins_over_data_for_the_same_key(core: client.CoreV1Api):
    """When data and stringData name the same key, stringData's value is stored."""
    secret = core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "data": {"a": "MQ=="}, "stringData": {"a": "new"}}
    )
    assert base64.b64encode(b"new").decode() == secret.data["a"]


def test_namespace_gets_finalizer_phase_and_name_label(core: client.CoreV1Api):
    """A new namespace has spec.finalizers [kubernetes], phase Active and the kubernetes.io/metadata.name label."""
    ns = core.create_namespace({"metadata": {"name": "team"}})
    assert ns.spec.finalizers == ["kubernetes"]
    assert ns.status.phase == "Active"
    assert ns.metadata.labels["kubernetes.io/metadata.name"] == "team"


def test_deployment_replicas_default_to_one(apps: client.AppsV1Api):
    """A Deployment created without replicas gets spec.replicas 1 and a RollingUpdate strategy."""
    manifest = a_deployment()
    del manifest["spec"]["replicas"]
    created = apps.create_namespaced_deployment("default", manifest)
    assert (created.spec.replicas, created.spec.strategy.type) == (1, "RollingUpdate")


def test_objects_serialise_with_api_version_and_kind_first(emu: KubeEmulator, core: client.CoreV1Api):
    """Stored objects keep the apiserver's key order: apiVersion, kind, metadata first, status last."""
    core.create_namespace({"metadata": {"name": "team"}})
    raw = raw_request(emu, "GET", "/api/v1/namespaces/team").body
    assert list(raw) == ["apiVersion", "kind", "metadata", "spec", "status"]
