"""Watch streams: turning store events into the watch events a client of one request sees.

A watch is filtered by resource, namespace, label and field selector. Selector
filtering follows the apiserver's watch cache: an object that *stops* matching is
reported as ``DELETED`` (with its previous content and the new resourceVersion)
and one that *starts* matching as ``ADDED``. Bookmarks are sent every
``bookmark_interval`` seconds when the client allows them, and after the initial
events when it asked for ``sendInitialEvents``. The stream ends at
``timeoutSeconds``, when the client goes away, or when the emulator stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from drd.sandbox.kube.errors import KubeApiError
from drd.sandbox.kube.events import EventQueue, StoreEvent
from drd.sandbox.kube.registry import ResourceType
from drd.sandbox.kube.selectors import FieldSelector, LabelSelector

Obj = dict[str, Any]

IDLE_TICK = 0.25
"""Seconds between liveness checks while nothing happens."""


@dataclass(frozen=True, slots=True)
class WatchOptions:
    """The query parameters that shape a watch."""

    labels: LabelSelector = field(default_factory=LabelSelector)
    fields: FieldSelector = field(default_factory=FieldSelector)
    timeout: float = 1800.0
    bookmarks: bool = False
    bookmark_interval: float = 60.0
    initial_events_end: bool = False
    """Send the ``k8s.io/initial-events-end`` bookmark after the initial events (``sendInitialEvents=true``)."""


def _matches(options: WatchOptions, obj: Obj | None) -> bool:
    return obj is not None and options.labels.matches_object(obj) and options.fields.matches(obj)


def translate(event: StoreEvent, options: WatchOptions) -> tuple[str, Obj] | None:
    """The watch event a store event becomes under the selectors, or ``None`` if it is invisible."""
    now_matches = _matches(options, event.object)
    if event.type == "ADDED":
        return ("ADDED", event.object) if now_matches else None
    if event.type == "DELETED":
        return ("DELETED", event.object) if _matches(options, event.old or event.object) else None
    was_matching = _matches(options, event.old)
    if now_matches:
        return ("MODIFIED" if was_matching else "ADDED", event.object)
    if was_matching and event.old is not None:
        left = {**event.old, "metadata": {**event.old["metadata"], "resourceVersion": str(event.resource_version)}}
        return ("DELETED", left)
    return None


def bookmark(rt: ResourceType, resource_version: int, *, initial_events_end: bool = False) -> Obj:
    """A ``BOOKMARK`` event: only kind, apiVersion and the resourceVersion reached."""
    meta: Obj = {"resourceVersion": str(resource_version)}
    if initial_events_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}}


def error_event(error: KubeApiError) -> Obj:
    """An ``ERROR`` event carrying a Status (how an expired resourceVersion is reported)."""
    return {"type": "ERROR", "object": error.status()}


def _served(rt: ResourceType, obj: Obj) -> Obj:
    if obj.get("apiVersion") == rt.api_version:
        return obj
    return {**obj, "apiVersion": rt.api_version}


def stream(rt: ResourceType, sub: EventQueue, options: WatchOptions, *, alive: Callable[[], bool]) -> Iterator[Obj]:
    """Yield watch events (``{"type", "object"}`` dicts) until timeout, disconnect or close.

    ``sub`` comes from :meth:`Store.watch`; its ``initial`` events are sent first.
    A bookmark carries the resourceVersion this stream is caught up to: when the
    watch opened, or the last event taken from its queue, so a client resuming
    from it misses nothing. The subscription is closed when the generator ends.
    """
    try:
        deadline = time.monotonic() + options.timeout
        caught_up = max([sub.opened_at, *(e.resource_version for e in sub.initial)])
        for event in sub.initial:
            translated = translate(event, options)
            if translated is not None:
                yield {"type": translated[0], "object": _served(rt, translated[1])}
        if options.initial_events_end:
            yield bookmark(rt, caught_up, initial_events_end=True)
        next_bookmark = time.monotonic() + options.bookmark_interval
        while not sub.closed:
            now = time.monotonic()
            if now >= deadline:
                return
            if options.bookmarks and now >= next_bookmark:
                yield bookmark(rt, caught_up)
                next_bookmark = now + options.bookmark_interval
            wait = min(deadline - now, IDLE_TICK)
            if options.bookmarks:
                wait = max(0.0, min(wait, next_bookmark - now))
            live = sub.get(timeout=wait)
            if live is None:
                if not alive():
                    return
                continue
            caught_up = live.resource_version
            translated = translate(live, options)
            if translated is not None:
                yield {"type": translated[0], "object": _served(rt, translated[1])}
    finally:
        sub.close()
