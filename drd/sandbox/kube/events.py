"""Change events and the ways to receive them: callbacks and queues.

Every committed write becomes one :class:`StoreEvent` (``ADDED``, ``MODIFIED`` or
``DELETED``) carrying the object after the change and the object before it.
Listeners are :class:`Subscription` objects registered with the cluster state:

* :class:`CallbackSubscription` calls a function synchronously, in the writing
  thread, with private copies of the objects (what ``Store.subscribe`` returns);
* :class:`EventQueue` buffers events for a consumer thread — a simulator's
  controller (``Store.queue``) or an HTTP watch (``Store.watch``). Its events share
  the stored dicts, which are never modified in place, so they must not be modified.
"""

from __future__ import annotations

import copy
import logging
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from drd.sandbox.kube.registry import ResourceType

log = logging.getLogger(__name__)

Obj = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]
CollectionKey = tuple[str, str]
"""``(group, plural)``: where a resource's objects live, whatever the version."""


@dataclass(frozen=True, slots=True)
class StoreEvent:
    """One committed change: what a watch would report."""

    type: EventType
    resource: ResourceType
    object: Obj
    old: Obj | None
    resource_version: int

    @property
    def namespace(self) -> str | None:
        """The object's namespace (``None`` for cluster-scoped objects)."""
        ns: str | None = self.object["metadata"].get("namespace")
        return ns

    @property
    def name(self) -> str:
        """The object's name."""
        name: str = self.object["metadata"]["name"]
        return name


class Subscription:
    """A registered change listener; ``close()`` (or leaving the ``with`` block) unregisters it."""

    def __init__(
        self, unsubscribe: Callable[[Subscription], None], key: CollectionKey | None, namespace: str | None
    ) -> None:
        self._unsubscribe = unsubscribe
        self.key = key
        self.namespace = namespace
        self.closed = False

    def wants(self, event: StoreEvent) -> bool:
        """Whether the event concerns this listener's resource and namespace."""
        if self.key is not None and event.resource.storage_key != self.key:
            return False
        return self.namespace is None or event.namespace == self.namespace

    def deliver(self, event: StoreEvent) -> None:
        """Receive one event (called in resource-version order)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop receiving events."""
        if not self.closed:
            self.closed = True
            self._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CallbackSubscription(Subscription):
    """Calls ``callback(event)`` synchronously, in the writing thread, with the store lock held."""

    def __init__(
        self,
        unsubscribe: Callable[[Subscription], None],
        key: CollectionKey | None,
        namespace: str | None,
        callback: Callable[[StoreEvent], None],
    ) -> None:
        super().__init__(unsubscribe, key, namespace)
        self._callback = callback

    def deliver(self, event: StoreEvent) -> None:
        """Call the callback with a private copy of the event's objects; log (never propagate) its errors."""
        private = StoreEvent(
            event.type, event.resource, copy.deepcopy(event.object), copy.deepcopy(event.old), event.resource_version
        )
        try:
            self._callback(private)
        except Exception:
            log.exception("store subscriber %r failed on %s %s", self._callback, event.type, event.name)


class EventQueue(Subscription):
    """Buffers events for a consumer thread; ``initial`` holds what precedes the live events of a watch."""

    def __init__(
        self, unsubscribe: Callable[[Subscription], None], key: CollectionKey | None, namespace: str | None
    ) -> None:
        super().__init__(unsubscribe, key, namespace)
        self._queue: queue.SimpleQueue[StoreEvent | None] = queue.SimpleQueue()
        self.initial: list[StoreEvent] = []
        self.opened_at = 0
        """The resourceVersion when the queue was registered: every later change is queued."""

    def deliver(self, event: StoreEvent) -> None:
        """Enqueue without copying (consumers must not modify the objects)."""
        self._queue.put(event)

    def get(self, timeout: float | None = None) -> StoreEvent | None:
        """The next event, or ``None`` on timeout or after :meth:`close`."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Unregister and wake a consumer blocked in :meth:`get`."""
        super().close()
        self._queue.put(None)

    def __enter__(self) -> EventQueue:
        return self

    def __iter__(self) -> Iterator[StoreEvent]:
        """Events until closed (blocks)."""
        while not self.closed:
            event = self.get()
            if event is not None:
                yield event
