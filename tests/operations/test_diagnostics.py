"""Drill evidence: a namespace's events and its pods' logs, read over the API.

Aspects: events flattened and ordered oldest first, with the timestamp
fallbacks of newer event writers and a limit keeping the most recent; logs
of a pod the WorkloadSimulator started, whole and tailed, and the API's
refusal for a missing pod.
"""

from __future__ import annotations

from typing import Any

import pytest

from drd.clients.errors import KubeNotFound
from drd.clients.kube_resources import EVENTS, PODS
from drd.operations import diagnostics, workloads


def an_event(name: str, *, reason: str, when: dict[str, Any], kind: str = "Pod", count: int | None = None) -> dict:
    event: dict[str, Any] = {
        "metadata": {"name": name},
        "involvedObject": {"kind": kind, "name": f"{kind.lower()}-1", "namespace": "default"},
        "reason": reason,
        "message": f"{reason} happened",
        "type": "Warning" if reason == "BackOff" else "Normal",
        **when,
    }
    if count is not None:
        event["count"] = count
    return event


def test_events_are_flattened_oldest_first(bare):
    """Each event becomes type/reason/message/kind/name/count/lastTimestamp, ordered by when it last happened."""
    for event in (
        an_event("b", reason="BackOff", when={"lastTimestamp": "2026-06-01T10:05:00Z"}, count=4),
        an_event("a", reason="Scheduled", when={"eventTime": "2026-06-01T10:00:00.250000Z"}),
        an_event("c", reason="ScalingReplicaSet", kind="Deployment", when={"firstTimestamp": "2026-06-01T10:01:00Z"}),
    ):
        bare.create(EVENTS, event, namespace="default")
    events = diagnostics.namespace_events(bare, "default")
    assert [e["reason"] for e in events] == ["Scheduled", "ScalingReplicaSet", "BackOff"]
    assert events[-1] == {
        "type": "Warning",
        "reason": "BackOff",
        "message": "BackOff happened",
        "kind": "Pod",
        "name": "pod-1",
        "count": 4,
        "lastTimestamp": "2026-06-01T10:05:00Z",
    }
    assert events[0]["count"] == 1


def test_a_limit_keeps_the_most_recent_events(bare):
    """With limit=1 only the latest event is returned."""
    for minute, reason in ((1, "Pulled"), (2, "Created"), (3, "Started")):
        when = {"lastTimestamp": f"2026-06-01T10:0{minute}:00Z"}
        bare.create(EVENTS, an_event(reason.lower(), reason=reason, when=when), namespace="default")
    assert [e["reason"] for e in diagnostics.namespace_events(bare, "default", limit=1)] == ["Started"]


def test_logs_of_a_running_pod_and_their_tail(primary):
    """A storefront pod's log names its image; tail_lines=1 keeps only its last line."""
    workloads.wait_until_ready(primary, "shop", kinds=["Deployment"], timeout_seconds=10)
    pod = primary.list_objects(PODS, namespace="shop", label_selector="app.kubernetes.io/name=storefront").items[0]
    name = pod["metadata"]["name"]
    log = diagnostics.pod_logs(primary, "shop", name)
    assert "starting ghcr.io/example/storefront:2.4.1 as container storefront" in log
    tail = diagnostics.pod_logs(primary, "shop", name, tail_lines=1)
    assert tail == log.splitlines(keepends=True)[-1]


def test_logs_of_a_missing_pod_are_not_found(bare):
    """Asking for the log of a pod that does not exist is KubeNotFound."""
    with pytest.raises(KubeNotFound):
        diagnostics.pod_logs(bare, "default", "nope")
