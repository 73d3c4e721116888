"""The in-process API simulators build on: store calls, typed errors, subscriptions, controllers.

Aspects: the store raises the same errors the HTTP layer renders (NotFound,
Conflict, Invalid...); resources are named kubectl-style; writes through the store
and through HTTP are one state; callbacks run in resource-version order and may
write re-entrantly; event queues feed controller threads; ``wait_for``; the
emulator's controller threads stop with it; a clock can be injected.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from kubernetes import client

from drd.sandbox.kube import errors
from drd.sandbox.kube.emulator import KubeEmulator
from drd.sandbox.kube.events import StoreEvent
from drd.sandbox.kube.store import Store
from tests.sandbox.kube.conftest import a_deployment


@pytest.fixture
def store(emu: KubeEmulator) -> Store:
    """The emulator's in-process store."""
    return emu.store


def test_store_errors_are_typed_and_render_as_status(store: Store):
    """A missing object raises errors.NotFound whose status() is the apiserver's body."""
    with pytest.raises(errors.NotFound) as caught:
        store.get("deployments.apps", "web", namespace="default")
    assert caught.value.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "web" not found',
        "reason": "NotFound",
        "details": {"name": "web", "group": "apps", "kind": "deployments"},
        "code": 404,
    }


def test_store_conflict_on_stale_update(store: Store):
    """update() with a stale resourceVersion raises errors.Conflict (409)."""
    created = store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
    store.patch("configmaps", "c", {"data": {"a": "1"}}, namespace="default")
    with pytest.raises(errors.Conflict) as caught:
        store.update("configmaps", created, namespace="default")
    assert caught.value.code == 409


def test_store_invalid_name_raises_invalid(store: Store):
    """create() with a bad name raises errors.Invalid carrying field causes."""
    with pytest.raises(errors.Invalid) as caught:
        store.create("configmaps", {"metadata": {"name": "UPPER"}}, namespace="default")
    assert caught.value.field_errors[0].field == "metadata.name"


@pytest.mark.parametrize("ref", ["deployments", "deployments.apps", "deployments.v1.apps", "deploy", "Deployment"])
def test_resources_resolve_kubectl_style(store: Store, ref: str):
    """A resource may be named by plural, plural.group, plural.version.group, short name or kind."""
    store.create(ref, a_deployment(), namespace="default")
    assert store.get("deployments.apps", "web", namespace="default")["metadata"]["name"] == "web"


def test_unknown_resource_raises_route_not_found(store: Store):
    """An unknown resource name raises errors.RouteNotFound (the generic 404)."""
    with pytest.raises(errors.RouteNotFound):
        store.list("backups.velero.io")


def test_store_and_http_share_one_state(store: Store, core: client.CoreV1Api):
    """An object created in-process is read over HTTP with the same resourceVersion."""
    created = store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
    assert (
        created["metadata"]["resourceVersion"]
        == core.read_namespaced_config_map("c", "default").metadata.resource_version
    )


def test_returned_objects_are_private_copies(store: Store):
    """Mutating what get() returned does not change the stored object."""
    store.create("configmaps", {"metadata": {"name": "c"}, "data": {"a": "1"}}, namespace="default")
    store.get("configmaps", "c", namespace="default")["data"]["a"] = "changed"
    assert store.get("configmaps", "c", namespace="default")["data"] == {"a": "1"}


def test_subscribers_see_every_change_in_order(store: Store):
    """A callback receives ADDED, MODIFIED, DELETED with increasing resource versions."""
    seen: list[StoreEvent] = []
    with store.subscribe(seen.append, resource="configmaps"):
        store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
        store.patch("configmaps", "c", {"data": {"a": "1"}}, namespace="default")
        store.delete("configmaps", "c", namespace="default")
        store.create("secrets", {"metadata": {"name": "not-seen"}}, namespace="default")
    assert [e.type for e in seen] == ["ADDED", "MODIFIED", "DELETED"]
    assert [e.resource_version for e in seen] == sorted(e.resource_version for e in seen)
    assert seen[1].old is not None
    assert seen[1].old["metadata"]["resourceVersion"] == seen[0].object["metadata"]["resourceVersion"]


def test_callback_may_write_and_its_event_follows(store: Store):
    """A callback that writes (like a controller) has its own event delivered after the current one, to everyone."""
    log: list[tuple[str, str]] = []

    def controller(event: StoreEvent) -> None:
        if event.type == "ADDED" and event.resource.plural == "deployments":
            store.patch(
                "deployments", event.name, {"status": {"readyReplicas": 1}}, namespace="default", subresource="status"
            )

    with store.subscribe(controller), store.subscribe(lambda e: log.append((e.type, e.resource.plural))):
        store.create("deployments", a_deployment(), namespace="default")
    assert log == [("ADDED", "deployments"), ("MODIFIED", "deployments")]
    assert store.get("deployments", "web", namespace="default")["status"]["readyReplicas"] == 1


def test_failing_callback_does_not_fail_the_write(store: Store, caplog: pytest.LogCaptureFixture):
    """An exception in a subscriber is logged; the write still succeeds."""

    def broken(event: StoreEvent) -> None:
        raise RuntimeError("boom")

    with store.subscribe(broken):
        store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
    assert store.get("configmaps", "c", namespace="default")["metadata"]["name"] == "c"
    assert "boom" in caplog.text


def test_closed_subscription_receives_nothing(store: Store):
    """After close(), a callback is no longer called."""
    seen: list[StoreEvent] = []
    subscription = store.subscribe(seen.append)
    subscription.close()
    store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
    assert seen == []


def test_event_queue_feeds_a_controller_thread(emu: KubeEmulator):
    """A controller started with start_controller reacts to HTTP writes through store.queue()."""

    def mark_ready(store: Store, stop: threading.Event) -> None:
        with store.queue("deployments") as events:
            while not stop.is_set():
                event = events.get(timeout=0.05)
                if event is not None and event.type == "ADDED":
                    replicas = event.object["spec"]["replicas"]
                    store.patch(
                        "deployments",
                        event.name,
                        {"status": {"readyReplicas": replicas}},
                        namespace=event.namespace,
                        subresource="status",
                    )

    emu.start_controller(mark_ready, name="ready-marker")
    emu.store.create("deployments", a_deployment(replicas=3), namespace="default")
    ready = emu.store.wait_for(
        "deployments",
        "web",
        lambda d: d is not None and d.get("status", {}).get("readyReplicas") == 3,
        namespace="default",
        timeout=5,
    )
    assert ready is not None


def test_wait_for_times_out(store: Store):
    """wait_for raises TimeoutError when the condition never holds."""
    with pytest.raises(TimeoutError):
        store.wait_for("configmaps", "never", lambda o: o is not None, namespace="default", timeout=0.1)


def test_wait_for_absence(store: Store):
    """wait_for can wait for an object to be gone."""
    store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
    threading.Timer(0.05, lambda: store.delete("configmaps", "c", namespace="default")).start()
    assert store.wait_for("configmaps", "c", lambda o: o is None, namespace="default", timeout=5) is None


def test_controllers_stop_with_the_emulator():
    """stop() sets each controller's stop event and joins its thread."""
    stopped = threading.Event()

    def idle(store: Store, stop: threading.Event) -> None:
        stop.wait()
        stopped.set()

    with KubeEmulator() as emu:
        thread = emu.start_controller(idle)
    assert stopped.is_set()
    assert not thread.is_alive()


def test_injected_clock_sets_creation_timestamps():
    """A Clock passed to the emulator stamps creationTimestamp (and Table ages)."""

    class Fixed:
        def now(self) -> datetime:
            return datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

        def monotonic(self) -> float:
            return 0.0

        def sleep(self, seconds: float) -> None:
            pass

    emu = KubeEmulator(clock=Fixed())
    created = emu.store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
    assert created["metadata"]["creationTimestamp"] == "2030-01-02T03:04:05Z"


def test_seed_makes_uids_reproducible():
    """Two emulators with the same seed hand out the same uids; unseeded ones differ."""
    uids = [KubeEmulator(seed=7).store.get("namespaces", "default")["metadata"]["uid"] for _ in range(2)]
    unseeded = [KubeEmulator().store.get("namespaces", "default")["metadata"]["uid"] for _ in range(2)]
    assert uids[0] == uids[1]
    assert unseeded[0] != unseeded[1]


def test_delete_reports_whether_the_object_is_gone(store: Store):
    """delete() returns (object, gone): gone is False while finalizers hold the object."""
    store.create("configmaps", {"metadata": {"name": "c", "finalizers": ["a.io/b"]}}, namespace="default")
    obj, gone = store.delete("configmaps", "c", namespace="default")
    assert (gone, bool(obj["metadata"]["deletionTimestamp"])) == (False, True)
