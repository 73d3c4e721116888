"""Waiting for Kubernetes objects to reach a state: list, then watch, with a deadline, never a polling loop.

Every "…and wait" operation (a Restore finishing, workloads Ready, a Job done,
a namespace gone) is one of two calls:

* :func:`wait_for` follows **one object** by name. ``until`` receives the
  object as it is now, or ``None`` while it does not exist (not created yet,
  or deleted meanwhile), and returns a value once the wait is over;
* :func:`wait_for_all` follows **a collection** (a label selector in a
  namespace); ``until_all`` receives every matching object, sorted by
  namespace and name.

Both list once (the state now plus a resourceVersion), watch from that
resourceVersion and call the predicate after each change. A watch the server
ends (its ``timeoutSeconds``) or expires (410 Gone) is followed by a fresh
list, so nothing missed meanwhile goes unnoticed; a lost connection or a 5xx
backs off and lists again until the deadline. The deadline holds to within a
second (watches time out in whole seconds on the server). After it,
:class:`WaitTimedOut` names what was awaited and the last state seen.
An exception raised by the predicate ends the wait and propagates unchanged
(this is how a caller says "this can never happen now", such as a Restore
deleted while being waited for). Other API errors propagate too: a resource
type the cluster does not serve is a ``KubeNotFound``, not a timeout.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from drd.clients.errors import KubeGone, KubeUnavailable
from drd.clients.kube import KubeClient, WatchStream
from drd.clients.kube_resources import Resource
from drd.clock import Clock, SystemClock
from drd.errors import TemporaryError

T = TypeVar("T")
R = TypeVar("R")

MAX_WATCH_SECONDS = 60
"""The longest single watch request; a longer wait is several (each preceded by a list)."""
_MAX_BACKOFF_SECONDS = 5.0
_FIRST_BACKOFF_SECONDS = 0.1

Key = tuple[str, str]


class WaitTimedOut(TemporaryError):
    """The awaited state was not reached before the deadline.

    A TemporaryError (like :class:`drd.operations.velero.BackupTimeout`): the
    thing waited for may still happen, so a retry policy may wait again; a
    caller for whom the deadline is final (a drill's RTO) catches it.
    """

    def __init__(self, kube: KubeClient, *, what: str, waited: float, last_seen: str, cause: str = "") -> None:
        because = f"; last API error: {cause}" if cause else ""
        super().__init__(
            f"{kube.system}: timed out after {waited:g}s waiting for {what}; last seen: {last_seen}{because}",
            delay=30.0,
        )
        self.cluster = kube.cluster
        self.what = what
        self.waited = waited
        self.last_seen = last_seen
        self.cause = cause


def describe_state(obj: Mapping[str, Any] | None) -> str:
    """A short account of an object's state for messages: absent, being deleted, its phase and conditions."""
    if obj is None:
        return "absent"
    parts = []
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        parts.append("being deleted")
    status = obj.get("status") or {}
    if status.get("phase"):
        parts.append(f"phase {status['phase']}")
    conditions = [
        f"{c.get('type')}={c.get('status')}" for c in status.get("conditions") or [] if isinstance(c, Mapping)
    ]
    if conditions:
        parts.append(f"conditions {', '.join(conditions)}")
    return "; ".join(parts) or "present, no status yet"


def describe_all(objects: list[dict[str, Any]]) -> str:
    """A short account of a collection: how many objects, and each one's state (the first ten)."""
    if not objects:
        return "no matching objects"
    shown = [f"{_name_of(o)} ({describe_state(o)})" for o in objects[:10]]
    more = f" and {len(objects) - 10} more" if len(objects) > 10 else ""
    return f"{len(objects)} object(s): {', '.join(shown)}{more}"


def wait_for(
    kube: KubeClient,
    resource: Resource,
    name: str,
    *,
    namespace: str | None,
    until: Callable[[dict[str, Any] | None], T | None],
    timeout_seconds: float,
    what: str,
    describe: Callable[[dict[str, Any] | None], str] = describe_state,
    clock: Clock | None = None,
) -> T:
    """Watch one object until ``until(object or None)`` returns something other than None; return that.

    ``what`` completes "waiting for …" in the timeout message (``'restore
    "r-1" to finish'``); ``describe`` renders the last state seen there.
    Raises :class:`WaitTimedOut` after ``timeout_seconds``.
    """

    def evaluate(objects: dict[Key, dict[str, Any]]) -> T | None:
        return until(next(iter(objects.values()), None))

    def last_seen(objects: dict[Key, dict[str, Any]]) -> str:
        return describe(next(iter(objects.values()), None))

    watcher = _Watcher(
        kube,
        resource,
        namespace=namespace,
        label_selector=None,
        field_selector=f"metadata.name={name}",
        evaluate=evaluate,
        last_seen=last_seen,
        clock=clock or SystemClock(),
    )
    return watcher.wait(timeout_seconds, what=what)


def wait_for_all(
    kube: KubeClient,
    resource: Resource,
    *,
    namespace: str | None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    until_all: Callable[[list[dict[str, Any]]], T | None],
    timeout_seconds: float,
    what: str,
    describe: Callable[[list[dict[str, Any]]], str] = describe_all,
    clock: Clock | None = None,
) -> T:
    """Watch a collection until ``until_all(objects)`` returns something other than None; return that.

    ``objects`` is every object matching the selectors in ``namespace`` (all
    namespaces when None), sorted by namespace and name, possibly empty.
    Raises :class:`WaitTimedOut` after ``timeout_seconds``.
    """

    def evaluate(objects: dict[Key, dict[str, Any]]) -> T | None:
        return until_all(_sorted(objects))

    def last_seen(objects: dict[Key, dict[str, Any]]) -> str:
        return describe(_sorted(objects))

    watcher = _Watcher(
        kube,
        resource,
        namespace=namespace,
        label_selector=label_selector,
        field_selector=field_selector,
        evaluate=evaluate,
        last_seen=last_seen,
        clock=clock or SystemClock(),
    )
    return watcher.wait(timeout_seconds, what=what)


class _Watcher(Generic[R]):
    """The state of one wait: the objects as last seen, and the list-watch loop."""

    def __init__(
        self,
        kube: KubeClient,
        resource: Resource,
        *,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
        evaluate: Callable[[dict[Key, dict[str, Any]]], R | None],
        last_seen: Callable[[dict[Key, dict[str, Any]]], str],
        clock: Clock,
    ) -> None:
        self.kube = kube
        self.resource = resource
        self.namespace = namespace if resource.namespaced else None
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.evaluate = evaluate
        self.last_seen = last_seen
        self.clock = clock
        self.objects: dict[Key, dict[str, Any]] = {}
        self.listed = False

    def wait(self, timeout_seconds: float, *, what: str) -> R:
        deadline = self.clock.monotonic() + timeout_seconds
        backoff, last_error = _FIRST_BACKOFF_SECONDS, ""
        while True:
            try:
                found = self._list_then_watch(deadline)
                if found is not None:
                    return found
            except KubeGone:
                pass  # the watch's resourceVersion expired: list again
            except KubeUnavailable as exc:  # connection lost, 5xx, throttled: list again after a pause
                last_error = str(exc)
                self.clock.sleep(min(backoff, max(0.0, deadline - self.clock.monotonic())))
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
            if self.clock.monotonic() >= deadline:
                seen = self.last_seen(self.objects) if self.listed else "nothing (the API never answered the list)"
                raise WaitTimedOut(self.kube, what=what, waited=timeout_seconds, last_seen=seen, cause=last_error)

    def _list_then_watch(self, deadline: float) -> R | None:
        listing = self.kube.list_objects(
            self.resource,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        self.objects = {_key(o): o for o in listing.items}
        self.listed = True
        found = self.evaluate(self.objects)
        if found is not None:
            return found
        remaining = deadline - self.clock.monotonic()
        if remaining <= 0:
            return None
        return self._watch(listing.resource_version, remaining)

    def _watch(self, resource_version: str, remaining: float) -> R | None:
        stream: WatchStream = self.kube.watch(
            self.resource,
            namespace=self.namespace,
            resource_version=resource_version,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            timeout_seconds=min(MAX_WATCH_SECONDS, max(1, math.ceil(remaining))),
        )
        ended = False
        try:
            for event in stream:
                if event.type == "BOOKMARK":
                    continue
                obj = dict(event.object)
                if event.type == "DELETED":
                    self.objects.pop(_key(obj), None)
                else:
                    self.objects[_key(obj)] = obj
                found = self.evaluate(self.objects)
                if found is not None:
                    return found
            ended = True  # the server ended the watch; the stream released its connection
        finally:
            if not ended:
                _interrupt(stream)
        return None


def _key(obj: Mapping[str, Any]) -> Key:
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


def _sorted(objects: dict[Key, dict[str, Any]]) -> list[dict[str, Any]]:
    return [objects[key] for key in sorted(objects)]


def _name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "?")


def _interrupt(stream: WatchStream) -> None:
    """Close a watch left early. One that failed has already released its connection, and then urllib3
    raises RuntimeError, which ``WatchStream.close`` does not expect: there is nothing left to close."""
    with contextlib.suppress(RuntimeError):
        stream.close()
