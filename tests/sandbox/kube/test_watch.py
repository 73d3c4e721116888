"""Watches through ``kubernetes.watch.Watch().stream`` and raw HTTP.

Aspects: live ADDED/MODIFIED/DELETED; initial synthetic ADDED for rv absent or 0;
resume from a resourceVersion; 410 Expired (ERROR event) after compaction and the
client's ApiException; timeoutSeconds ends the stream; bookmarks and the
initial-events-end bookmark; label-selector enter/leave transitions; custom
resources; cluster-wide watches; a stop of the emulator ends open watches.
Every stream passes ``timeout_seconds`` and ``_request_timeout`` (the client
otherwise reconnects forever).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client, watch

from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import a_backup, api_client_for

TIMEOUTS: dict[str, Any] = {"timeout_seconds": 5, "_request_timeout": 10}


def _later(action: Callable[[], object], delay: float = 0.2) -> threading.Thread:
    """Run ``action`` in a thread after ``delay`` seconds (so the watch is established first)."""

    def run() -> None:
        time.sleep(delay)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _collect(stream: Any, count: int, w: watch.Watch) -> list[tuple[str, str]]:
    events = []
    for event in stream:
        name = event["raw_object"].get("metadata", {}).get("name", "")
        events.append((event["type"], name))
        if len(events) == count:
            w.stop()
    return events


def test_live_events_arrive_in_order(emu: KubeEmulator, core: client.CoreV1Api):
    """A create, an update and a delete made while watching arrive as ADDED, MODIFIED, DELETED."""
    rv = core.list_namespaced_config_map("default").metadata.resource_version

    def writes() -> None:
        emu.store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
        emu.store.patch("configmaps", "c", {"data": {"a": "1"}}, namespace="default")
        emu.store.delete("configmaps", "c", namespace="default")

    writer = _later(writes)
    w = watch.Watch()
    events = _collect(w.stream(core.list_namespaced_config_map, "default", resource_version=rv, **TIMEOUTS), 3, w)
    writer.join()
    assert events == [("ADDED", "c"), ("MODIFIED", "c"), ("DELETED", "c")]


def test_watch_objects_are_typed_models(core: client.CoreV1Api):
    """Watch events deserialise into the typed model of the listed resource."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, "default", **TIMEOUTS):
        assert isinstance(event["object"], client.V1ConfigMap)
        assert event["object"].data == {"a": "1"}
        w.stop()


def test_watch_without_resource_version_starts_with_current_objects(core: client.CoreV1Api):
    """Without resourceVersion, existing objects are sent as synthetic ADDED events first."""
    for name in ("a", "b"):
        core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    w = watch.Watch()
    events = _collect(w.stream(core.list_namespaced_config_map, "default", **TIMEOUTS), 2, w)
    assert events == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_from_resource_version_zero_starts_with_current_objects(core: client.CoreV1Api):
    """resourceVersion=0 also starts with the current state."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    w = watch.Watch()
    events = _collect(w.stream(core.list_namespaced_config_map, "default", resource_version="0", **TIMEOUTS), 1, w)
    assert events == [("ADDED", "a")]


def test_watch_resumes_after_a_resource_version(core: client.CoreV1Api):
    """Watching from a list's resourceVersion replays exactly the later changes."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "before"}})
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", {"metadata": {"name": "after"}})
    core.delete_namespaced_config_map("before", "default")
    w = watch.Watch()
    events = _collect(w.stream(core.list_namespaced_config_map, "default", resource_version=rv, **TIMEOUTS), 2, w)
    assert events == [("ADDED", "after"), ("DELETED", "before")]


def test_deleted_event_carries_the_deletion_resource_version(core: client.CoreV1Api):
    """The DELETED event's object has a resourceVersion newer than the object's last write."""
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    core.delete_namespaced_config_map("c", "default")
    w = watch.Watch()
    stream = w.stream(
        core.list_namespaced_config_map, "default", resource_version=created.metadata.resource_version, **TIMEOUTS
    )
    event = next(iter(stream))
    w.stop()
    assert event["type"] == "DELETED"
    assert int(event["object"].metadata.resource_version) > int(created.metadata.resource_version)


def test_watch_from_compacted_resource_version_is_410(emu: KubeEmulator, core: client.CoreV1Api):
    """After compaction, resuming from an older resourceVersion raises ApiException 410 (Expired)."""
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    core.patch_namespaced_config_map("c", "default", {"data": {"a": "1"}})
    emu.store.compact()
    w = watch.Watch()
    with pytest.raises(client.ApiException) as caught:
        list(
            w.stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=created.metadata.resource_version,
                **TIMEOUTS,
            )
        )
    assert caught.value.status == 410
    assert "too old resource version" in caught.value.reason


def test_expired_watch_streams_an_error_event_with_a_status(emu: KubeEmulator):
    """On the wire, an expired resourceVersion is HTTP 200 with one ERROR event carrying a 410 Status."""
    emu.store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
    emu.store.create("configmaps", {"metadata": {"name": "d"}}, namespace="default")
    compacted = emu.store.compact()
    lines = _raw_watch(emu, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1&timeoutSeconds=2")
    event = json.loads(lines[0])
    assert event["type"] == "ERROR"
    assert {"kind": "Status", "code": 410, "reason": "Expired"}.items() <= event["object"].items()
    assert f"too old resource version: 1 ({compacted})" == event["object"]["message"]


def test_bounded_history_expires_old_versions(core: client.CoreV1Api):
    """With a history of 3 events, resuming from before the last 3 writes is 410."""
    with KubeEmulator(history=3) as small, api_client_for(small) as api:
        small_core = client.CoreV1Api(api)
        rv = small_core.list_namespaced_config_map("default").metadata.resource_version
        for i in range(5):
            small_core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
        w = watch.Watch()
        with pytest.raises(client.ApiException) as caught:
            list(w.stream(small_core.list_namespaced_config_map, "default", resource_version=rv, **TIMEOUTS))
        assert caught.value.status == 410


def test_watch_from_a_future_resource_version_is_504(emu: KubeEmulator):
    """A resourceVersion the server has not reached answers 504 'Too large resource version'."""
    status, body = _raw_status(emu, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=999999")
    assert (status, body["reason"]) == (504, "Timeout")
    assert body["message"].startswith("Too large resource version: 999999")


def test_timeout_seconds_ends_the_stream(core: client.CoreV1Api):
    """The stream ends by itself after timeoutSeconds with no events."""
    w = watch.Watch()
    started = time.monotonic()
    events = list(w.stream(core.list_namespaced_secret, "default", timeout_seconds=1, _request_timeout=10))
    assert events == []
    assert 0.9 <= time.monotonic() - started < 5


def test_bookmarks_are_sent_when_allowed():
    """allowWatchBookmarks yields BOOKMARK events carrying only a resourceVersion."""
    with KubeEmulator(bookmark_interval=0.1) as emu, api_client_for(emu) as api:
        core = client.CoreV1Api(api)
        w = watch.Watch()
        stream = w.stream(core.list_namespaced_config_map, "default", allow_watch_bookmarks=True, **TIMEOUTS)
        event = next(iter(stream))
        w.stop()
        assert event["type"] == "BOOKMARK"
        assert event["raw_object"]["metadata"]["resourceVersion"].isdigit()


def test_no_bookmarks_unless_allowed():
    """Without allowWatchBookmarks no BOOKMARK is sent, however short the interval."""
    with KubeEmulator(bookmark_interval=0.05) as emu, api_client_for(emu) as api:
        w = watch.Watch()
        events = list(w.stream(client.CoreV1Api(api).list_namespaced_config_map, "default", timeout_seconds=1))
        assert events == []


def test_send_initial_events_ends_with_an_annotated_bookmark(emu: KubeEmulator):
    """sendInitialEvents=true sends the current objects, then a bookmark annotated k8s.io/initial-events-end."""
    emu.store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
    lines = _raw_watch(
        emu,
        "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
        "&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
    )
    events = [json.loads(line) for line in lines]
    assert [e["type"] for e in events[:2]] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_label_selector_transitions_become_added_and_deleted(emu: KubeEmulator, core: client.CoreV1Api):
    """An object leaving a watch's label selector is DELETED for it; entering it is ADDED."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c", "labels": {"drill": "yes"}}})
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"drill": "no"}}})
    core.patch_namespaced_config_map("c", "default", {"data": {"ignored": "while out"}})
    core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"drill": "yes"}}})
    w = watch.Watch()
    stream = w.stream(
        core.list_namespaced_config_map, "default", label_selector="drill=yes", resource_version=rv, **TIMEOUTS
    )
    assert _collect(stream, 2, w) == [("DELETED", "c"), ("ADDED", "c")]


def test_field_selector_limits_a_watch_to_one_object(core: client.CoreV1Api):
    """fieldSelector=metadata.name=b only reports b."""
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    for name in ("a", "b", "c"):
        core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    w = watch.Watch()
    stream = w.stream(
        core.list_namespaced_config_map, "default", field_selector="metadata.name=b", resource_version=rv, **TIMEOUTS
    )
    assert _collect(stream, 1, w) == [("ADDED", "b")]


def test_namespace_scoped_watch_ignores_other_namespaces(core: client.CoreV1Api):
    """A watch on default does not see objects of kube-system."""
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("kube-system", {"metadata": {"name": "other"}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "mine"}})
    w = watch.Watch()
    stream = w.stream(core.list_namespaced_config_map, "default", resource_version=rv, **TIMEOUTS)
    assert _collect(stream, 1, w) == [("ADDED", "mine")]


def test_cluster_wide_watch_sees_every_namespace(core: client.CoreV1Api):
    """A watch across all namespaces sees objects of each."""
    rv = core.list_config_map_for_all_namespaces().metadata.resource_version
    core.create_namespaced_config_map("kube-system", {"metadata": {"name": "a"}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "b"}})
    w = watch.Watch()
    stream = w.stream(core.list_config_map_for_all_namespaces, resource_version=rv, **TIMEOUTS)
    assert _collect(stream, 2, w) == [("ADDED", "a"), ("ADDED", "b")]


def test_custom_resource_watch(velero_emu: KubeEmulator, custom: client.CustomObjectsApi):
    """Watching Velero Backups through CustomObjectsApi reports their phase changes."""
    rv = custom.list_namespaced_custom_object("velero.io", "v1", "velero", "backups")["metadata"]["resourceVersion"]
    custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup())
    custom.patch_namespaced_custom_object(
        "velero.io", "v1", "velero", "backups", "nightly", {"status": {"phase": "Completed"}}
    )
    w = watch.Watch()
    phases = []
    for event in w.stream(
        custom.list_namespaced_custom_object, "velero.io", "v1", "velero", "backups", resource_version=rv, **TIMEOUTS
    ):
        phases.append((event["type"], event["object"].get("status", {}).get("phase")))
        if len(phases) == 2:
            w.stop()
    assert phases == [("ADDED", None), ("MODIFIED", "Completed")]


def test_stopping_the_emulator_ends_open_watches():
    """stop() ends a running watch promptly, without waiting for its timeout."""
    emu = KubeEmulator().start()
    with api_client_for(emu) as api:
        core = client.CoreV1Api(api)
        finished = threading.Event()

        def consume() -> None:
            w = watch.Watch()
            for _ in w.stream(core.list_namespaced_config_map, "default", timeout_seconds=30, _request_timeout=30):
                pass
            finished.set()  # a clean end of stream, not an exception

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        time.sleep(0.3)
        started = time.monotonic()
        emu.stop()
        assert finished.wait(5)
        consumer.join(5)
        assert time.monotonic() - started < 3


def _raw_watch(emu: KubeEmulator, path: str) -> list[str]:
    """Every NDJSON line of a watch read to its end over a plain socket (HTTP/1.0, so the server closes)."""
    with socket.create_connection((emu.host, emu.port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0]
    return _dechunk(body).decode().splitlines()


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def _raw_status(emu: KubeEmulator, path: str) -> tuple[int, dict[str, Any]]:
    from tests.sandbox.kube.conftest import raw_request

    response = raw_request(emu, "GET", path)
    return response.status, response.body
