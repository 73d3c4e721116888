"""What drd tells people, independent of how: a :class:`Notification`, and its Slack and Event forms.

:mod:`drd.operations.notify` sends these. The builders at the end
(:func:`backup_failed`, :func:`rpo_breached`) keep each notification's
reason, wording and rate-limiting key in one place, so the daemon and the CLI
say the same thing the same way.

Slack limits are respected (header 150 characters, section 3000, ten fields
of 2000) and mrkdwn's ``&``, ``<`` and ``>`` are escaped, so text from a
failing backup cannot inject mentions or links. An Event's message is cut at
1024 characters, the limit the ``events.k8s.io`` API puts on a note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal

from drd.policy.durations import format_duration

COMPONENT = "drd"
"""``source.component`` and ``reportingComponent`` of drd's Events."""

MESSAGE_LIMIT = 1024
"""Longest Event message (longer ones are truncated with an ellipsis)."""
_HEADER_LIMIT = 150
_SECTION_LIMIT = 3000
_FIELD_LIMIT = 2000
_MAX_FIELDS = 10


class Severity(StrEnum):
    """How urgent a notification is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def event_type(self) -> Literal["Normal", "Warning"]:
        """The Kubernetes Event type: ``Warning`` for anything that needs attention."""
        return "Normal" if self is Severity.INFO else "Warning"


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """The Kubernetes object a notification is about (an Event's ``involvedObject``)."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None
    uid: str | None = None

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        """The reference to an object as the API returned it."""
        metadata = obj.get("metadata") or {}
        return cls(
            api_version=str(obj["apiVersion"]),
            kind=str(obj["kind"]),
            name=str(metadata["name"]),
            namespace=metadata.get("namespace"),
            uid=metadata.get("uid"),
        )

    def to_reference(self) -> dict[str, str]:
        """``involvedObject``: only the fields that are known."""
        found = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            found["namespace"] = self.namespace
        if self.uid:
            found["uid"] = self.uid
        return found

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass(frozen=True, slots=True)
class Notification:
    """Something a human should know about, in one place for both channels."""

    reason: str
    """CamelCase, as Kubernetes Event reasons are: ``BackupFailed``, ``RPOObjectiveBreached``."""
    severity: Severity
    title: str
    """One line: what happened to what."""
    text: str
    """A few sentences: what it means and what to look at."""
    cluster: str | None = None
    """The inventory cluster concerned."""
    involved: ObjectRef | None = None
    """The object the Event is attached to; without one, no Event is made."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """Short key/values shown as a table (policy, phase, RPO…); at most ten are shown."""
    key: str | None = None
    """What makes two notifications "the same" for rate limiting; default: reason, cluster and object."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    @property
    def dedupe_key(self) -> str:
        """The rate-limiting key."""
        if self.key:
            return self.key
        ref = self.involved
        parts = [self.reason, self.cluster or "", ref.kind if ref else "", ref.namespace or "" if ref else ""]
        return "/".join([*parts, ref.name if ref else self.title])


def slack_payload(notification: Notification, *, repeats: int = 0) -> dict[str, Any]:
    """Slack's incoming-webhook JSON: a plain ``text`` fallback and header, section, fields and context blocks."""
    n = notification
    icon = {Severity.INFO: ":information_source:", Severity.WARNING: ":warning:", Severity.CRITICAL: ":rotating_light:"}
    shown: dict[str, str] = {}
    if n.cluster:
        shown["Cluster"] = n.cluster
    if n.involved:
        shown["Object"] = str(n.involved)
    shown.update(n.fields)
    if repeats:
        shown["Repeated"] = f"{repeats} more time{'s' if repeats != 1 else ''} since the last notification"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(n.title, _HEADER_LIMIT), "emoji": True}}
    ]
    if n.text:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(_escape(n.text), _SECTION_LIMIT)}}
        )
    fields = [
        {"type": "mrkdwn", "text": truncate(f"*{_escape(name)}*\n{_escape(value)}", _FIELD_LIMIT)}
        for name, value in list(shown.items())[:_MAX_FIELDS]
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    context = f"{icon[n.severity]} {n.severity.value} · {n.reason} · sent by drd"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": _escape(f"[{n.severity.value.upper()}] {n.title}: {n.text}"), "blocks": blocks}


def event_body(
    notification: Notification,
    *,
    name: str,
    namespace: str,
    message: str,
    count: int,
    at: datetime,
    instance: str,
) -> dict[str, Any]:
    """A core/v1 Event as client-go's recorder makes it (``involvedObject`` must be set on ``notification``)."""
    assert notification.involved is not None
    stamp = rfc3339(at)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": COMPONENT}},
        "involvedObject": notification.involved.to_reference(),
        "reason": notification.reason,
        "message": message,
        "type": notification.severity.event_type,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": count,
    }


# The notifications drd sends today
def backup_failed(
    *, policy: str, cluster: str, phase: str, backup: ObjectRef | None, reason: str | None = None
) -> Notification:
    """A backup of a policy ended Failed, FailedValidation or PartiallyFailed (one key per policy and cluster)."""
    partial = phase == "PartiallyFailed"
    what = f"backup {backup.name}" if backup else "the backup"
    text = f"Velero finished {what} of policy {policy} as {phase}."
    if reason:
        text += f" Reason: {reason}"
    if partial:
        text += " Some items were not backed up; it does not count as a successful backup."
    fields = {"Policy": policy, "Phase": phase} | ({"Backup": backup.name} if backup else {})
    return Notification(
        reason="BackupPartiallyFailed" if partial else "BackupFailed",
        severity=Severity.WARNING,
        title=f"Backup {phase}: {policy} on {cluster}",
        text=text,
        cluster=cluster,
        involved=backup,
        fields=fields,
        key=f"BackupFailed/{cluster}/{policy}",
    )


def rpo_breached(
    *,
    policy: str,
    cluster: str,
    rpo_seconds: float,
    objective_seconds: float,
    involved: ObjectRef | None,
) -> Notification:
    """The newest restorable backup of a policy is older than its RPO objective (or there is none)."""
    objective = _duration(objective_seconds)
    if math.isinf(rpo_seconds):
        text = f"Policy {policy} has no restorable backup at all; its RPO objective is {objective}."
        age = "never backed up"
    else:
        age = _duration(rpo_seconds)
        text = f"The newest restorable backup of policy {policy} is {age} old; its RPO objective is {objective}."
    return Notification(
        reason="RPOObjectiveBreached",
        severity=Severity.CRITICAL,
        title=f"RPO objective breached: {policy} on {cluster}",
        text=text + " Check the policy's backups and its Velero Schedule and storage location.",
        cluster=cluster,
        involved=involved,
        fields={"Policy": policy, "RPO now": age, "Objective": objective},
        key=f"RPOObjectiveBreached/{policy}",
    )


def _duration(seconds: float) -> str:
    return format_duration(timedelta(seconds=int(max(0.0, seconds))))


def _escape(text: str) -> str:
    """Slack mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rfc3339(moment: datetime) -> str:
    """Kubernetes' timestamp form: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
