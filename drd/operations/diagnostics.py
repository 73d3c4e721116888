"""Evidence from a namespace for a drill report: its events and its pods' logs, as plain data.

Read-only. Events come back oldest first in a flat shape a report can print
(type, reason, message, the object they concern, how often, when last);
logs are the text the kubelet returns. Both may contain whatever the
application wrote: the store redacts evidence before persisting it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import EVENTS, PODS
from drd.velero.timefmt import parse_rfc3339

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def namespace_events(kube: KubeClient, namespace: str, *, limit: int | None = None) -> list[dict[str, Any]]:
    """The namespace's events (``v1`` Events), oldest first; with ``limit``, only the most recent ones.

    Each is ``{type, reason, message, kind, name, count, lastTimestamp}``, where
    ``kind``/``name`` are the involved object's and ``lastTimestamp`` falls back
    to ``eventTime``, the series' last observation, ``firstTimestamp`` and the
    event's creation, in that order (newer components only fill some).
    """
    events = [_flatten(e) for e in kube.list_objects(EVENTS, namespace=namespace).items]
    events.sort(key=lambda e: (parse_rfc3339(e["lastTimestamp"]) or _EPOCH, e["kind"], e["name"], e["reason"]))
    return events[-limit:] if limit is not None and limit > 0 else events


def pod_logs(
    kube: KubeClient, namespace: str, pod: str, *, tail_lines: int | None = None, container: str | None = None
) -> str:
    """A pod's log (``container`` is needed when it has several); ``tail_lines`` keeps the last lines only."""
    query = {
        "tailLines": str(tail_lines) if tail_lines is not None else None,
        "container": container,
    }
    return kube.get_text(PODS.path(namespace=namespace, name=pod, subresource="log"), query)


def _flatten(event: Mapping[str, Any]) -> dict[str, Any]:
    involved = event.get("involvedObject") or {}
    series = event.get("series") or {}
    metadata = event.get("metadata") or {}
    when = (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or series.get("lastObservedTime")
        or event.get("firstTimestamp")
        or metadata.get("creationTimestamp")
        or ""
    )
    return {
        "type": str(event.get("type") or ""),
        "reason": str(event.get("reason") or ""),
        "message": str(event.get("message") or ""),
        "kind": str(involved.get("kind") or ""),
        "name": str(involved.get("name") or ""),
        "count": int(event.get("count") or series.get("count") or 1),
        "lastTimestamp": str(when),
    }
