"""The raw cluster state: stored objects, their indexes, the resourceVersion counter and the event log.

:class:`ClusterState` knows nothing of API rules; it stores objects per
``(group, plural)`` and ``(namespace, name)``, hands out one global, increasing
resourceVersion per committed change, keeps a bounded history of events for
watches to resume from, and fans events out to subscribers. Stored dicts are
never modified in place — every write stores a new dict — so they can be
serialised or shared with watch streams without copying.

Everything is guarded by one re-entrant lock (:attr:`ClusterState.lock`), which
callers hold across a whole API operation. Callback subscribers run with the
lock held, in resource-version order; when a callback writes, its event is queued
and delivered after the current one (never nested).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from typing import Any, TypeVar

from drd.sandbox.kube.events import CollectionKey, EventQueue, EventType, StoreEvent, Subscription
from drd.sandbox.kube.registry import ResourceType

Obj = dict[str, Any]
ObjectKey = tuple[str, str]
"""``(namespace or "", name)``."""

_S = TypeVar("_S", bound=Subscription)


class ClusterState:
    """Objects, indexes, resourceVersions, event history and subscribers of one emulated cluster."""

    def __init__(self, *, history: int = 1000) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        """Notified after every committed change (for ``wait_for``)."""
        self.resource_version = 0
        """The latest resourceVersion handed out."""
        self.compacted = 0
        """Events up to this resourceVersion are no longer in the history."""
        self._data: dict[CollectionKey, dict[ObjectKey, Obj]] = {}
        self._by_uid: dict[str, tuple[CollectionKey, ObjectKey]] = {}
        self._owned: defaultdict[str, set[tuple[CollectionKey, ObjectKey]]] = defaultdict(set)
        self._namespace_counts: Counter[str] = Counter()
        self._history: deque[StoreEvent] = deque(maxlen=max(1, history))
        self._subscribers: list[Subscription] = []
        self._pending: deque[tuple[Subscription, StoreEvent]] = deque()
        self._dispatching = False

    # ------------------------------------------------------------------ reads

    def lookup(self, collection: CollectionKey, key: ObjectKey) -> Obj | None:
        """The stored object, or ``None``."""
        return self._data.get(collection, {}).get(key)

    def items(self, collection: CollectionKey) -> dict[ObjectKey, Obj]:
        """The objects of one collection (a snapshot copy of the mapping; the objects are shared)."""
        return dict(self._data.get(collection, {}))

    def collections(self) -> list[CollectionKey]:
        """Every collection that has (or had) objects."""
        return list(self._data)

    def has_objects(self, collection: CollectionKey) -> bool:
        """Whether a collection holds any object."""
        return bool(self._data.get(collection))

    def exists(self, uid: str) -> bool:
        """Whether an object with this uid is stored."""
        return uid in self._by_uid

    def owned_by(self, uid: str) -> list[tuple[CollectionKey, ObjectKey]]:
        """Objects whose ``ownerReferences`` name ``uid``, in key order."""
        return sorted(self._owned.get(uid, ()))

    def namespace_has_content(self, namespace: str) -> bool:
        """Whether any namespaced object lives in ``namespace``."""
        return self._namespace_counts[namespace] > 0

    def history_after(self, resource_version: int, wants: Callable[[StoreEvent], bool]) -> list[StoreEvent]:
        """Retained events newer than ``resource_version`` that ``wants`` accepts."""
        return [e for e in self._history if e.resource_version > resource_version and wants(e)]

    # ------------------------------------------------------------------ writes

    def commit(self, rt: ResourceType, key: ObjectKey, new: Obj, old: Obj | None, kind: EventType) -> Obj:
        """Store ``new`` under the next resourceVersion and publish the event; returns ``new``."""
        self.resource_version += 1
        new["metadata"]["resourceVersion"] = str(self.resource_version)
        self._data.setdefault(rt.storage_key, {})[key] = new
        self._index(rt, key, old, new)
        return self._publish(StoreEvent(kind, rt, new, old, self.resource_version))

    def commit_delete(self, rt: ResourceType, key: ObjectKey, final: Obj, previous: Obj) -> Obj:
        """Remove an object; the DELETED event carries ``final`` under a new resourceVersion."""
        self.resource_version += 1
        gone = {**final, "metadata": {**final["metadata"], "resourceVersion": str(self.resource_version)}}
        self._data.get(rt.storage_key, {}).pop(key, None)
        self._index(rt, key, previous, None)
        return self._publish(StoreEvent("DELETED", rt, gone, previous, self.resource_version))

    def forget_owner(self, uid: str) -> None:
        """Drop the dependents index of a removed owner (once its dependents were handled)."""
        self._owned.pop(uid, None)

    def drop_collection(self, collection: CollectionKey) -> None:
        """Forget an (empty) collection, e.g. when its CRD is gone."""
        self._data.pop(collection, None)

    def compact(self) -> int:
        """Forget the event history, as etcd compaction does; returns the compacted resourceVersion."""
        self._history.clear()
        self.compacted = self.resource_version
        return self.compacted

    def _index(self, rt: ResourceType, key: ObjectKey, old: Obj | None, new: Obj | None) -> None:
        entry = (rt.storage_key, key)
        if old is not None:
            for ref in old["metadata"].get("ownerReferences") or []:
                self._owned[ref.get("uid", "")].discard(entry)
        if new is not None:
            self._by_uid[new["metadata"]["uid"]] = entry
            for ref in new["metadata"].get("ownerReferences") or []:
                self._owned[ref.get("uid", "")].add(entry)
        elif old is not None:
            self._by_uid.pop(old["metadata"]["uid"], None)
        if key[0] and (old is None) != (new is None):
            self._namespace_counts[key[0]] += 1 if old is None else -1

    def _publish(self, event: StoreEvent) -> Obj:
        if len(self._history) == self._history.maxlen:
            self.compacted = self._history[0].resource_version
        self._history.append(event)
        for sub in self._subscribers:
            if sub.wants(event):
                if isinstance(sub, EventQueue):
                    sub.deliver(event)
                else:
                    self._pending.append((sub, event))
        self.changed.notify_all()
        return event.object

    # ------------------------------------------------------------------ subscribers

    def register(self, sub: _S) -> _S:
        """Start delivering events to ``sub``."""
        with self.lock:
            self._subscribers.append(sub)
        return sub

    def unregister(self, sub: Subscription) -> None:
        """Stop delivering events to ``sub``."""
        with self.lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    def drain(self) -> None:
        """Deliver queued events to callbacks, unless an outer frame of this thread already is."""
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._pending:
                sub, event = self._pending.popleft()
                if not sub.closed:
                    sub.deliver(event)
        finally:
            self._dispatching = False
