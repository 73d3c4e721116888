"""The generic list-then-watch waiter, against an emulated API server over HTTP.

Aspects: an object that does not exist yet (the predicate sees None, then the
object); an object deleted while watched; a timeout naming what was awaited
and the last state seen; a relist after 410 Gone; riding out 5xx errors; a
collection awaited as a whole; a predicate's exception ends the wait; an
unserved resource type is a permanent error, not a timeout.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from drd.clients.errors import KubeNotFound
from drd.clients.kube_resources import CONFIGMAPS, Resource
from drd.errors import PermanentError, TemporaryError
from drd.operations import waiting


def a_configmap(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}


def later(seconds: float, action) -> threading.Timer:
    """Run ``action`` in ``seconds`` from another thread (what another controller would do)."""
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def test_waiting_for_an_object_that_does_not_exist_yet_returns_once_it_appears(emulated):
    """The predicate sees None first, then the object created 0.2 s later; wait_for returns its value."""
    _, kube = emulated
    seen: list[Any] = []

    def until(obj):
        seen.append(obj)
        return obj["data"]["k"] if obj is not None else None

    later(0.2, lambda: kube.create(CONFIGMAPS, a_configmap("late"), namespace="default"))
    value = waiting.wait_for(
        kube, CONFIGMAPS, "late", namespace="default", until=until, timeout_seconds=10, what="configmap late"
    )
    assert value == "v"
    assert seen[0] is None


def test_an_object_deleted_while_watched_is_seen_as_none(emulated):
    """Deleting the watched object hands None to the predicate."""
    _, kube = emulated
    kube.create(CONFIGMAPS, a_configmap("doomed"), namespace="default")
    later(0.2, lambda: kube.delete(CONFIGMAPS, "doomed", namespace="default"))
    result = waiting.wait_for(
        kube,
        CONFIGMAPS,
        "doomed",
        namespace="default",
        until=lambda obj: "gone" if obj is None else None,
        timeout_seconds=10,
        what="configmap doomed to go",
    )
    assert result == "gone"


def test_a_timeout_names_what_was_awaited_and_the_last_state_seen(emulated):
    """WaitTimedOut is a TemporaryError saying what was awaited, for how long, and the object's last state."""
    _, kube = emulated
    kube.create(CONFIGMAPS, a_configmap("stays"), namespace="default")
    started = time.monotonic()
    with pytest.raises(waiting.WaitTimedOut) as raised:
        waiting.wait_for(
            kube,
            CONFIGMAPS,
            "stays",
            namespace="default",
            until=lambda obj: None,
            timeout_seconds=0.5,
            what='configmap "stays" to vanish',
            describe=lambda obj: "present" if obj else "absent",
        )
    assert isinstance(raised.value, TemporaryError)
    assert 'timed out after 0.5s waiting for configmap "stays" to vanish; last seen: present' in str(raised.value)
    assert 'kubernetes cluster "emulated"' in str(raised.value)
    assert time.monotonic() - started < 3


def test_an_expired_resource_version_relists_and_sees_the_change(emulated):
    """After the history is compacted (410 Gone on the watch), the waiter lists again and finds the object."""
    emulator, kube = emulated
    calls: list[Any] = []

    def until(obj):
        calls.append(obj)
        if len(calls) == 1:  # between our list and our watch: a write, then compaction
            emulator.store.create("configmaps", a_configmap("arrived"), namespace="default")
            emulator.store.compact()
        return obj["metadata"]["name"] if obj is not None else None

    found = waiting.wait_for(
        kube, CONFIGMAPS, "arrived", namespace="default", until=until, timeout_seconds=10, what="configmap arrived"
    )
    assert found == "arrived"
    assert calls[0] is None


def test_server_errors_are_ridden_out_until_the_deadline(emulated):
    """Two 500s on the list are retried with backoff; the wait still succeeds."""
    emulator, kube = emulated
    kube.create(CONFIGMAPS, a_configmap("there"), namespace="default")
    emulator.faults.fail_next(2, status=500, methods={"GET"}, path_pattern="/configmaps")
    result = waiting.wait_for(
        kube,
        CONFIGMAPS,
        "there",
        namespace="default",
        until=lambda obj: obj,
        timeout_seconds=10,
        what="configmap there",
    )
    assert result["metadata"]["name"] == "there"
    assert emulator.faults.injected == 2


def test_an_unreachable_api_times_out_with_the_last_api_error(emulated):
    """When every list fails, the timeout says nothing was seen and quotes the last API error."""
    emulator, kube = emulated
    emulator.faults.set(error_rate=1.0, status=500)
    with pytest.raises(waiting.WaitTimedOut) as raised:
        waiting.wait_for(
            kube, CONFIGMAPS, "x", namespace="default", until=lambda o: o, timeout_seconds=0.5, what="configmap x"
        )
    assert "last seen: nothing (the API never answered the list)" in str(raised.value)
    assert raised.value.cause


def test_a_collection_is_awaited_as_a_whole_sorted_by_name(emulated):
    """wait_for_all returns once three labelled objects exist, handing them over sorted by name."""
    _, kube = emulated
    kube.create(CONFIGMAPS, a_configmap("c", app="web"), namespace="default")
    kube.create(CONFIGMAPS, a_configmap("other"), namespace="default")
    for delay, name in ((0.1, "a"), (0.2, "b")):
        later(delay, lambda name=name: kube.create(CONFIGMAPS, a_configmap(name, app="web"), namespace="default"))
    names = waiting.wait_for_all(
        kube,
        CONFIGMAPS,
        namespace="default",
        label_selector="app=web",
        until_all=lambda objs: [o["metadata"]["name"] for o in objs] if len(objs) == 3 else None,
        timeout_seconds=10,
        what="three web configmaps",
    )
    assert names == ["a", "b", "c"]


def test_a_collection_timeout_describes_each_object(emulated):
    """The default description of a collection counts the objects and names each one."""
    _, kube = emulated
    kube.create(CONFIGMAPS, a_configmap("one", app="web"), namespace="default")
    with pytest.raises(waiting.WaitTimedOut) as raised:
        waiting.wait_for_all(
            kube,
            CONFIGMAPS,
            namespace="default",
            label_selector="app=web",
            until_all=lambda objs: None,
            timeout_seconds=0.3,
            what="never",
        )
    assert "last seen: 1 object(s): one (present, no status yet)" in str(raised.value)


def test_an_exception_from_the_predicate_ends_the_wait(emulated):
    """A predicate that decides the state can never be reached raises, and that error propagates as is."""
    _, kube = emulated

    class Impossible(PermanentError):
        pass

    def until(obj):
        raise Impossible("never")

    with pytest.raises(Impossible):
        waiting.wait_for(kube, CONFIGMAPS, "x", namespace="default", until=until, timeout_seconds=10, what="x")


def test_an_unserved_resource_type_is_a_permanent_error_not_a_timeout(emulated):
    """Waiting on a resource the cluster does not serve fails at once with KubeNotFound."""
    _, kube = emulated
    widgets = Resource("example.com", "v1", "widgets", "Widget")
    with pytest.raises(KubeNotFound):
        waiting.wait_for(kube, widgets, "w", namespace="default", until=lambda o: o, timeout_seconds=10, what="w")


def test_describe_state_reads_deletion_phase_and_conditions():
    """describe_state mentions deletion, the phase and each condition."""
    obj = {
        "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]},
    }
    assert waiting.describe_state(obj) == "being deleted; phase Running; conditions Ready=False"
    assert waiting.describe_state(None) == "absent"
