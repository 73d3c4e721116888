"""drd's Kubernetes adapter over the official client: dict CRUD, patches, watches, and typed errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from drd.clients.errors import (
    KubeAlreadyExists,
    KubeConflict,
    KubeGone,
    KubeInvalid,
    KubeNotFound,
    KubeUnavailable,
)
from drd.clients.informer import Informer
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import CONFIGMAPS, NAMESPACES, VELERO_BACKUPS
from drd.errors import PermanentError, TemporaryError
from drd.sandbox.kube.emulator import KubeEmulator


@pytest.fixture
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator(velero=True, history=20) as emu:
        yield emu


@pytest.fixture
def kube(emulator: KubeEmulator) -> Iterator[KubeClient]:
    client = KubeClient.from_api_url(emulator.url, cluster="test", timeout_seconds=2)
    yield client
    client.close()


def a_configmap(name: str = "c", **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_create_get_and_list_return_plain_dicts(kube):
    """Objects go in and come out as dicts, with server-set metadata."""
    kube.create(CONFIGMAPS, a_configmap(a="1"), namespace="default")
    got = kube.get(CONFIGMAPS, "c", namespace="default")
    assert got["data"] == {"a": "1"}
    assert got["metadata"]["uid"]
    listing = kube.list_objects(CONFIGMAPS, namespace="default")
    assert [o["metadata"]["name"] for o in listing.items] == ["c"]
    assert listing.resource_version


def test_missing_object_is_kube_not_found_naming_the_cluster(kube):
    """A 404 is KubeNotFound, permanent, with the apiserver's message and the cluster's name."""
    with pytest.raises(KubeNotFound) as error:
        kube.get(CONFIGMAPS, "nope", namespace="default")
    assert isinstance(error.value, PermanentError)
    assert str(error.value) == 'kubernetes cluster "test": configmaps "nope" not found'
    assert kube.find(CONFIGMAPS, "nope", namespace="default") is None


def test_duplicate_create_is_already_exists(kube):
    """A 409 AlreadyExists is told apart from a 409 Conflict."""
    kube.create(CONFIGMAPS, a_configmap(), namespace="default")
    with pytest.raises(KubeAlreadyExists):
        kube.create(CONFIGMAPS, a_configmap(), namespace="default")


def test_stale_resource_version_is_a_temporary_conflict(kube):
    """Replacing with an old resourceVersion is KubeConflict, which is temporary (re-read and retry)."""
    created = kube.create(CONFIGMAPS, a_configmap(a="1"), namespace="default")
    kube.merge_patch(CONFIGMAPS, "c", {"data": {"a": "2"}}, namespace="default")
    with pytest.raises(KubeConflict) as error:
        kube.replace(CONFIGMAPS, {**created, "data": {"a": "3"}}, namespace="default")
    assert isinstance(error.value, TemporaryError)


def test_invalid_object_is_kube_invalid(kube):
    """A 422 (a name that is not a DNS subdomain) is KubeInvalid."""
    with pytest.raises(KubeInvalid):
        kube.create(CONFIGMAPS, a_configmap("Not_Valid"), namespace="default")


def test_json_patch_is_sent_as_json_patch_on_custom_resources(kube):
    """JSON patch on a Velero object works: the adapter sets the Content-Type the client gets wrong."""
    backup = {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "b"}, "spec": {"ttl": "1h0m0s"}}
    kube.create(VELERO_BACKUPS, backup, namespace="default")
    patched = kube.json_patch(
        VELERO_BACKUPS, "b", [{"op": "replace", "path": "/spec/ttl", "value": "2h0m0s"}], namespace="default"
    )
    assert patched["spec"]["ttl"] == "2h0m0s"


def test_unreachable_cluster_is_kube_unavailable(emulator, kube):
    """A cluster that is down gives KubeUnavailable (temporary), not a urllib3 exception."""
    emulator.go_down()
    with pytest.raises(KubeUnavailable):
        kube.get(NAMESPACES, "default")


def test_server_errors_are_kube_unavailable(emulator, kube):
    """A 500 from the API is KubeUnavailable."""
    emulator.fail_next(1, status=500)
    with pytest.raises(KubeUnavailable):
        kube.get(NAMESPACES, "default")


def test_has_resource_tells_whether_velero_is_installed(emulator, kube):
    """Velero's CRDs present means backups are served; an unknown group is simply absent."""
    assert kube.has_resource(VELERO_BACKUPS)
    from drd.clients.kube_resources import Resource

    assert not kube.has_resource(Resource("example.com", "v1", "widgets", "Widget"))


def test_watch_streams_changes_and_can_be_closed_from_another_thread(kube):
    """A watch delivers ADDED/MODIFIED events and close() ends it at once."""
    start = kube.list_objects(CONFIGMAPS, namespace="default").resource_version
    stream = kube.watch(CONFIGMAPS, namespace="default", resource_version=start, timeout_seconds=30)
    kube.create(CONFIGMAPS, a_configmap(a="1"), namespace="default")
    kube.merge_patch(CONFIGMAPS, "c", {"data": {"a": "2"}}, namespace="default")
    seen = []
    for event in stream:
        seen.append(event.type)
        if len(seen) == 2:
            break
    assert seen == ["ADDED", "MODIFIED"]
    stream2 = kube.watch(CONFIGMAPS, namespace="default", timeout_seconds=30)
    began = time.monotonic()
    threading.Timer(0.2, stream2.close).start()
    assert [e.type for e in stream2] == ["ADDED"]
    assert time.monotonic() - began < 5


def test_watch_from_an_expired_version_raises_kube_gone(kube):
    """Resuming from a resourceVersion older than the server's history is KubeGone (410)."""
    first = kube.create(CONFIGMAPS, a_configmap("first"), namespace="default")["metadata"]["resourceVersion"]
    for index in range(40):
        kube.merge_patch(CONFIGMAPS, "first", {"data": {"i": str(index)}}, namespace="default")
    with pytest.raises(KubeGone):
        list(kube.watch(CONFIGMAPS, namespace="default", resource_version=first, timeout_seconds=2))


def test_informer_lists_then_watches_and_relists_after_expiry(emulator, kube):
    """An informer reports existing objects as ADDED, then changes, and survives an outage."""
    kube.create(CONFIGMAPS, a_configmap("before"), namespace="default")
    seen: list[tuple[str, str]] = []
    informer = Informer(kube, CONFIGMAPS, lambda t, o: seen.append((t, o["metadata"]["name"])), namespace="default")
    informer.start()
    try:
        assert informer.synced.wait(5)
        kube.create(CONFIGMAPS, a_configmap("after"), namespace="default")
        deadline = time.monotonic() + 5
        while ("ADDED", "after") not in seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert seen[:2] == [("ADDED", "before"), ("ADDED", "after")]
        emulator.go_down()
        time.sleep(0.3)
        emulator.come_up()
        kube.create(CONFIGMAPS, a_configmap("during"), namespace="default")
        deadline = time.monotonic() + 10
        while not any(name == "during" for _, name in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(name == "during" for _, name in seen)
    finally:
        began = time.monotonic()
        informer.stop()
        assert time.monotonic() - began < 5
