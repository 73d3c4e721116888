"""Tell people when recovery is at risk: a Slack-compatible webhook and a Kubernetes Event.

A :class:`Notification` (a failed backup, a breached RPO objective, later a
failed drill) goes to two places, both optional and both best-effort:

* a **webhook** (Slack incoming webhook, or anything that accepts Slack's
  ``{"text", "blocks"}`` JSON: Mattermost, Teams and chat bridges), posted
  with the stdlib and retried on 429/5xx and connection errors with a short
  backoff;
* a **Kubernetes Event** on the object concerned (a Velero Backup, a
  Schedule), in the cluster it lives in, as ``kubectl describe`` shows them:
  named ``<object>.<hex nanoseconds>``, ``source.component: drd``, and
  aggregated (``count``, ``lastTimestamp``) while the same condition repeats.

:meth:`Notifier.notify` never raises: a notification must not fail the work
that triggered it. It returns a :class:`NotifyResult` and logs a structured
warning when a channel fails. The same notification key is sent at most once
per ``min_interval_seconds`` (an RPO breach is checked every minute; it must
page once, not every minute); repeats in between are counted and reported
with the next send. Everything sent passes through :mod:`drd.redaction`, and
the webhook URL itself (which carries its token) is registered as a secret and
never logged. What is said, and in which shape, is :mod:`drd.operations.notification`.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from drd import __version__, redaction
from drd.clients.errors import KubeError, KubeNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import EVENTS
from drd.clock import Clock, SystemClock
from drd.logs import get_logger
from drd.operations.notification import (
    COMPONENT,
    MESSAGE_LIMIT,
    Notification,
    ObjectRef,
    event_body,
    rfc3339,
    slack_payload,
    truncate,
)

log = get_logger(__name__)

_BACKOFF_SECONDS = 0.5
_MAX_RETRY_AFTER_SECONDS = 10.0
_MAX_KEYS = 1000


class Delivery(StrEnum):
    """What happened on one channel."""

    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    """The channel is not configured (no webhook URL, no KubeClient or no involved object)."""
    SUPPRESSED = "suppressed"
    """The same key was sent less than ``min_interval_seconds`` ago."""


@dataclass(frozen=True, slots=True)
class NotifyResult:
    """The outcome of one :meth:`Notifier.notify`."""

    webhook: Delivery
    event: Delivery
    attempts: int = 0
    """Webhook POSTs made."""
    event_name: str | None = None
    """The Event created or updated."""
    error: str | None = None
    """What went wrong, redacted, when a channel failed."""

    @property
    def delivered(self) -> bool:
        """At least one channel got it."""
        return Delivery.SENT in (self.webhook, self.event)


@dataclass
class _Entry:
    """Rate-limiting and Event-aggregation state of one key."""

    last_sent: float = -math.inf
    repeats: int = 0
    """Occurrences suppressed since the last send."""
    event: tuple[str, str, str] | None = None
    """(cluster, namespace, name) of the Event made for this key."""
    event_count: int = 0


class Notifier:
    """Sends notifications to a webhook and as Kubernetes Events; thread-safe, never raises."""

    def __init__(
        self,
        *,
        webhook_url: str | None,
        timeout_seconds: float = 5.0,
        retries: int = 2,
        clock: Clock | None = None,
        min_interval_seconds: float = 3600.0,
        reporting_instance: str | None = None,
    ) -> None:
        if webhook_url:
            if urlsplit(webhook_url).scheme not in ("http", "https"):
                raise ValueError("the notification webhook must be an http:// or https:// URL")
            redaction.register_secret(webhook_url)
        self._webhook_url = webhook_url or None
        self._webhook_host = urlsplit(webhook_url).hostname if webhook_url else None
        self.timeout_seconds = timeout_seconds
        self.retries = max(0, retries)
        self.clock: Clock = clock or SystemClock()
        self.min_interval_seconds = min_interval_seconds
        self.reporting_instance = reporting_instance or f"{COMPONENT}-{socket.gethostname()}"
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._last_suffix = 0

    def notify(self, notification: Notification, *, kube: KubeClient | None = None) -> NotifyResult:
        """Send to the webhook and make an Event through ``kube`` (its cluster), unless sent recently."""
        try:
            return self._notify(notification, kube)
        except Exception as exc:  # best-effort by contract: never fail the caller's work
            error = redaction.redact_text(f"{type(exc).__name__}: {exc}")
            log.exception("notification_failed", reason=notification.reason, error=error)
            return NotifyResult(Delivery.FAILED, Delivery.FAILED, error=error)

    def forget(self, key: str) -> None:
        """The condition is resolved: the next notification with this key goes out at once."""
        with self._lock:
            self._entries.pop(key, None)

    # The two channels
    def _notify(self, notification: Notification, kube: KubeClient | None) -> NotifyResult:
        key = notification.dedupe_key
        now = self.clock.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now - entry.last_sent < self.min_interval_seconds:
                entry.repeats += 1
                log.info("notification_suppressed", reason=notification.reason, key=key, repeats=entry.repeats)
                return NotifyResult(Delivery.SUPPRESSED, Delivery.SUPPRESSED)
            if entry is None:
                self._prune(now)
                entry = self._entries[key] = _Entry()
            repeats, entry.repeats, previous = entry.repeats, 0, entry.last_sent
            entry.last_sent = now  # claimed: a concurrent notify of the same key is suppressed
        webhook, attempts, webhook_error = self._post(notification, repeats=repeats)
        event, event_name, event_error = self._event(notification, kube, entry, occurrences=repeats + 1)
        result = NotifyResult(webhook, event, attempts, event_name, webhook_error or event_error)
        if not result.delivered and Delivery.FAILED in (webhook, event):
            with self._lock:  # nothing got through: let the next occurrence try again
                entry.last_sent, entry.repeats = previous, entry.repeats + repeats + 1
        log.info(
            "notification_sent" if result.delivered else "notification_not_delivered",
            reason=notification.reason,
            key=key,
            webhook_delivery=webhook.value,
            event_delivery=event.value,
            repeats=repeats,
        )
        return result

    def _post(self, notification: Notification, *, repeats: int) -> tuple[Delivery, int, str | None]:
        if self._webhook_url is None:
            return Delivery.SKIPPED, 0, None
        body = json.dumps(redaction.redact(slack_payload(notification, repeats=repeats))).encode("utf-8")
        error = ""
        for attempt in range(1, self.retries + 2):
            delay = _BACKOFF_SECONDS * 2 ** (attempt - 1)
            try:
                self._post_once(body)
            except urllib.error.HTTPError as exc:
                with exc:
                    error = f"HTTP {exc.code}"
                    if exc.code != 429 and exc.code < 500:
                        return self._webhook_failed(notification, attempt, error, permanent=True)
                    delay = max(delay, _retry_after(exc.headers.get("Retry-After")))
            except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets, bad responses
                error = type(exc).__name__ + (f": {exc.reason}" if isinstance(exc, urllib.error.URLError) else "")
            else:
                return Delivery.SENT, attempt, None
            if attempt <= self.retries:
                self.clock.sleep(delay)
        return self._webhook_failed(notification, self.retries + 1, error, permanent=False)

    def _post_once(self, body: bytes) -> None:
        assert self._webhook_url is not None
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self._webhook_url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": f"drd/{__version__}"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout_seconds) as answer:  # noqa: S310 - checked in __init__
            answer.read()

    def _webhook_failed(
        self, notification: Notification, attempts: int, error: str, *, permanent: bool
    ) -> tuple[Delivery, int, str]:
        error = redaction.redact_text(f"webhook {self._webhook_host}: {error}")
        log.warning(
            "notification_webhook_failed",
            reason=notification.reason,
            host=self._webhook_host,
            attempts=attempts,
            error=error,
            retried=not permanent,
        )
        return Delivery.FAILED, attempts, error

    def _event(
        self, notification: Notification, kube: KubeClient | None, entry: _Entry, *, occurrences: int
    ) -> tuple[Delivery, str | None, str | None]:
        ref = notification.involved
        if kube is None or ref is None:
            return Delivery.SKIPPED, None, None
        now = self.clock.now()
        message = truncate(redaction.redact_text(f"{notification.title}: {notification.text}"), MESSAGE_LIMIT)
        try:
            if entry.event is not None and entry.event[0] == kube.cluster:
                _, namespace, name = entry.event
                try:
                    patch = {"count": entry.event_count + occurrences, "lastTimestamp": rfc3339(now)}
                    kube.merge_patch(EVENTS, name, patch | {"message": message}, namespace=namespace)
                except KubeNotFound:  # expired (the API server's --event-ttl): start a new one
                    pass
                else:
                    entry.event_count += occurrences
                    return Delivery.SENT, name, None
            namespace, name = ref.namespace or "default", self._event_name(ref, now)
            body = event_body(
                notification,
                name=name,
                namespace=namespace,
                message=message,
                count=occurrences,
                at=now,
                instance=self.reporting_instance,
            )
            kube.create(EVENTS, body, namespace=namespace)
        except KubeError as exc:
            error = redaction.redact_text(str(exc))
            log.warning("notification_event_failed", reason=notification.reason, involved=str(ref), error=error)
            return Delivery.FAILED, None, error
        entry.event, entry.event_count = (kube.cluster, namespace, name), occurrences
        return Delivery.SENT, name, None

    def _event_name(self, ref: ObjectRef, now: datetime) -> str:
        """``<object>.<hex unix nanoseconds>`` like client-go's recorder, strictly increasing in this process."""
        with self._lock:
            nanos = max(int(now.timestamp() * 1e9), self._last_suffix + 1)
            self._last_suffix = nanos
        return f"{ref.name[:235]}.{nanos:x}"

    def _prune(self, now: float) -> None:
        if len(self._entries) >= _MAX_KEYS:
            stale = [k for k, e in self._entries.items() if now - e.last_sent >= self.min_interval_seconds]
            for key in stale:
                del self._entries[key]


def _retry_after(value: str | None) -> float:
    try:
        return min(_MAX_RETRY_AFTER_SECONDS, max(0.0, float(value))) if value else 0.0
    except ValueError:
        return 0.0
