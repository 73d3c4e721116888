"""Notifications: a Slack-compatible webhook over real HTTP and Kubernetes Events in an emulated cluster.

Aspects: the webhook JSON (text fallback, header/section/fields/context blocks,
mrkdwn escaped, limits, redacted); retries on 5xx/429 and connection errors
with backoff on the injected clock, no retry on other 4xx, giving up without
raising; the Event (name, involvedObject, type, reason, source, timestamps,
count; default namespace for cluster-scoped objects); rate limiting per key
with repeats aggregated into the next send and the Event's count; a failed
delivery does not consume the interval; ``forget``; failures of the cluster
API are results, not exceptions; the builders' wording and keys.
"""

from __future__ import annotations

import json
import math
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from structlog.testing import capture_logs

from drd import redaction
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import EVENTS, NAMESPACES
from drd.operations.notification import Notification, ObjectRef, Severity, backup_failed, rpo_breached, slack_payload
from drd.operations.notify import Delivery, Notifier
from drd.sandbox.kube.emulator import KubeEmulator
from tests.store.support import T0, ManualClock

BACKUP = ObjectRef("velero.io/v1", "Backup", "shop-20260301120000", namespace="velero", uid="u-1")


@dataclass
class Webhook:
    """A local webhook receiver answering scripted statuses (then 200) and recording each POST."""

    statuses: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture(autouse=True)
def _no_registered_secrets() -> Iterator[None]:
    redaction.forget_secrets()
    yield
    redaction.forget_secrets()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.received.append(json.loads(body))
            hook.content_types.append(self.headers["Content-Type"])
            status = hook.statuses.pop(0) if hook.statuses else 200
            self.send_response(status)
            for name, value in hook.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/s3cr3tT0ken"
    yield hook
    server.shutdown()
    server.server_close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator() as emu:
        yield emu


@pytest.fixture
def kube(emulator: KubeEmulator) -> Iterator[KubeClient]:
    client = KubeClient.from_api_url(emulator.url, cluster="primary-east", timeout_seconds=2)
    client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "velero"}})
    yield client
    client.close()


def a_notification(**overrides: Any) -> Notification:
    fields: dict[str, Any] = {
        "reason": "BackupFailed",
        "severity": Severity.WARNING,
        "title": "Backup Failed: shop on primary-east",
        "text": "Velero finished backup shop-20260301120000 as Failed.",
        "cluster": "primary-east",
        "involved": BACKUP,
        "fields": {"Policy": "shop", "Phase": "Failed"},
    }
    return Notification(**(fields | overrides))


def events(kube: KubeClient, namespace: str = "velero") -> list[dict[str, Any]]:
    return kube.list_objects(EVENTS, namespace=namespace).items


# The webhook
def test_webhook_gets_slack_compatible_json(webhook, clock):
    """A text fallback and header, section, fields and context blocks, as Slack incoming webhooks take them."""
    result = Notifier(webhook_url=webhook.url, clock=clock).notify(a_notification())

    assert (result.webhook, result.attempts, result.event) == (Delivery.SENT, 1, Delivery.SKIPPED)
    assert webhook.content_types == ["application/json; charset=utf-8"]
    (payload,) = webhook.received
    assert payload["text"] == (
        "[WARNING] Backup Failed: shop on primary-east: Velero finished backup shop-20260301120000 as Failed."
    )
    header, section, table, context = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Backup Failed: shop on primary-east", "emoji": True},
    }
    assert section == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "Velero finished backup shop-20260301120000 as Failed."},
    }
    assert [f["text"] for f in table["fields"]] == [
        "*Cluster*\nprimary-east",
        "*Object*\nBackup velero/shop-20260301120000",
        "*Policy*\nshop",
        "*Phase*\nFailed",
    ]
    assert context["type"] == "context"
    assert context["elements"][0]["text"] == ":warning: warning · BackupFailed · sent by drd"


def test_webhook_text_is_escaped_truncated_and_redacted():
    """mrkdwn control characters are escaped, Slack's limits kept, and secrets masked."""
    redaction.register_secret("hunter2-password")
    payload = slack_payload(
        a_notification(
            title="x" * 200,
            text="<!channel> & hunter2-password",
            fields={f"k{i}": "v" for i in range(12)},
        )
    )
    payload = redaction.redact(payload)
    header, section, table, _ = payload["blocks"]
    assert len(header["text"]["text"]) == 150
    assert section["text"]["text"] == "&lt;!channel&gt; &amp; ***"
    assert len(table["fields"]) == 10
    assert "hunter2" not in json.dumps(payload)


def test_webhook_retries_server_errors_with_backoff(webhook, clock):
    """500s are retried after 0.5 s then 1 s (on the injected clock), and the third attempt gets through."""
    webhook.statuses = [500, 503]
    result = Notifier(webhook_url=webhook.url, retries=2, clock=clock).notify(a_notification())
    assert (result.webhook, result.attempts) == (Delivery.SENT, 3)
    assert len(webhook.received) == 3
    assert clock.monotonic() == 1.5


def test_webhook_gives_up_after_its_retries_without_raising(webhook, clock):
    """Three 500s: FAILED after 1 + retries attempts, a structured warning, and the URL's token nowhere."""
    webhook.statuses = [500, 500, 500]
    with capture_logs() as logs:
        result = Notifier(webhook_url=webhook.url, retries=2, clock=clock).notify(a_notification())
    assert (result.webhook, result.attempts, result.delivered) == (Delivery.FAILED, 3, False)
    assert result.error == "webhook 127.0.0.1: HTTP 500"
    warnings = [entry for entry in logs if entry["event"] == "notification_webhook_failed"]
    assert [(w["log_level"], w["attempts"], w["host"]) for w in warnings] == [("warning", 3, "127.0.0.1")]
    assert "s3cr3tT0ken" not in json.dumps(logs, default=str)


def test_webhook_client_errors_are_not_retried(webhook, clock):
    """A 404 (webhook revoked) will not get better by retrying."""
    webhook.statuses = [404]
    result = Notifier(webhook_url=webhook.url, clock=clock).notify(a_notification())
    assert (result.webhook, result.attempts) == (Delivery.FAILED, 1)
    assert clock.monotonic() == 0.0


def test_webhook_honours_retry_after_within_a_cap(webhook, clock):
    """A 429 with Retry-After waits that long (at most 10 s) before retrying."""
    webhook.statuses = [429]
    webhook.headers = {"Retry-After": "3"}
    result = Notifier(webhook_url=webhook.url, clock=clock).notify(a_notification())
    assert (result.webhook, result.attempts) == (Delivery.SENT, 2)
    assert clock.monotonic() == 3.0


def test_an_unreachable_webhook_is_retried_then_reported(clock):
    """Connection refused is temporary: retried, then FAILED, never raised."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with capture_logs():
        result = Notifier(webhook_url=f"http://127.0.0.1:{port}/hook", retries=1, clock=clock).notify(a_notification())
    assert (result.webhook, result.attempts) == (Delivery.FAILED, 2)
    assert result.error is not None
    assert result.error.startswith("webhook 127.0.0.1: URLError")


def test_only_http_webhooks_are_accepted():
    """file:// and friends are refused when the notifier is built."""
    with pytest.raises(ValueError, match="http"):
        Notifier(webhook_url="file:///etc/passwd")


# The Event
def test_event_is_made_on_the_involved_object_like_kubectl_shows_them(kube, clock):
    """A Warning Event named <object>.<hex>, with involvedObject, reason, source and count 1."""
    result = Notifier(webhook_url=None, clock=clock, reporting_instance="drd-0").notify(a_notification(), kube=kube)

    assert (result.webhook, result.event) == (Delivery.SKIPPED, Delivery.SENT)
    (event,) = events(kube)
    assert event["metadata"]["name"] == result.event_name
    assert re.fullmatch(r"shop-20260301120000\.[0-9a-f]+", event["metadata"]["name"])
    assert {k: event[k] for k in ("involvedObject", "reason", "type", "source", "count")} == {
        "involvedObject": {
            "apiVersion": "velero.io/v1",
            "kind": "Backup",
            "name": "shop-20260301120000",
            "namespace": "velero",
            "uid": "u-1",
        },
        "reason": "BackupFailed",
        "type": "Warning",
        "source": {"component": "drd"},
        "count": 1,
    }
    assert (event["reportingComponent"], event["reportingInstance"]) == ("drd", "drd-0")
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-03-01T12:00:00Z"
    assert event["message"] == (
        "Backup Failed: shop on primary-east: Velero finished backup shop-20260301120000 as Failed."
    )


def test_event_of_a_cluster_scoped_object_goes_to_default(kube, clock):
    """As client-go does, Events about cluster-scoped objects live in the default namespace."""
    node = ObjectRef("v1", "Node", "node-1")
    Notifier(webhook_url=None, clock=clock).notify(
        a_notification(involved=node, severity=Severity.INFO, reason="Checked"), kube=kube
    )
    (event,) = events(kube, "default")
    assert event["type"] == "Normal"
    assert "namespace" not in event["involvedObject"]


def test_without_an_object_or_a_client_there_is_no_event(kube, clock):
    """No involved object (or no KubeClient): the Event channel is skipped."""
    notifier = Notifier(webhook_url=None, clock=clock)
    assert notifier.notify(a_notification(involved=None, key="a"), kube=kube).event is Delivery.SKIPPED
    assert notifier.notify(a_notification(key="b")).event is Delivery.SKIPPED
    assert events(kube) == []


def test_a_failing_cluster_api_is_a_result_not_an_exception(kube, emulator, clock):
    """An API error making the Event is FAILED with the cluster named; nothing raises."""
    emulator.fail_next(1, status=500)
    with capture_logs() as logs:
        result = Notifier(webhook_url=None, clock=clock).notify(a_notification(), kube=kube)
    assert result.event is Delivery.FAILED
    assert result.error is not None
    assert 'kubernetes cluster "primary-east"' in result.error
    assert "notification_event_failed" in [entry["event"] for entry in logs]


def test_an_unexpected_error_is_logged_and_reported(kube, clock, monkeypatch):
    """Whatever goes wrong inside, notify returns a FAILED result instead of raising."""

    def broken(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("bug")

    monkeypatch.setattr(kube, "create", broken)
    with capture_logs() as logs:
        result = Notifier(webhook_url=None, clock=clock).notify(a_notification(), kube=kube)
    assert (result.webhook, result.event, result.error) == (Delivery.FAILED, Delivery.FAILED, "RuntimeError: bug")
    assert "notification_failed" in [entry["event"] for entry in logs]


# Rate limiting
def test_the_same_key_is_sent_once_per_interval_and_repeats_are_aggregated(webhook, kube, clock):
    """Within the interval: suppressed. After it: sent once more, saying how often it repeated; one Event, count 4."""
    notifier = Notifier(webhook_url=webhook.url, clock=clock, min_interval_seconds=3600)
    first = notifier.notify(a_notification(), kube=kube)
    clock.advance(60)
    repeats = [notifier.notify(a_notification(), kube=kube) for _ in range(2)]
    clock.advance(3600)
    again = notifier.notify(a_notification(), kube=kube)

    assert [(r.webhook, r.event) for r in repeats] == [(Delivery.SUPPRESSED, Delivery.SUPPRESSED)] * 2
    assert again.delivered
    assert len(webhook.received) == 2
    fields = [f["text"] for f in webhook.received[1]["blocks"][2]["fields"]]
    assert "*Repeated*\n2 more times since the last notification" in fields
    (event,) = events(kube)
    assert event["metadata"]["name"] == first.event_name == again.event_name
    assert event["count"] == 4
    assert event["firstTimestamp"] == "2026-03-01T12:00:00Z"
    assert event["lastTimestamp"] == "2026-03-01T13:01:00Z"


def test_different_keys_are_not_rate_limited_together(webhook, clock):
    """Another policy's failure is its own notification."""
    notifier = Notifier(webhook_url=webhook.url, clock=clock)
    notifier.notify(backup_failed(policy="shop", cluster="primary-east", phase="Failed", backup=BACKUP))
    notifier.notify(backup_failed(policy="catalog", cluster="primary-east", phase="Failed", backup=None))
    assert len(webhook.received) == 2


def test_a_failed_delivery_does_not_use_up_the_interval(webhook, clock):
    """When nothing got through, the next occurrence is tried at once."""
    webhook.statuses = [500, 500, 500]
    notifier = Notifier(webhook_url=webhook.url, clock=clock)
    with capture_logs():
        assert not notifier.notify(a_notification()).delivered
    result = notifier.notify(a_notification())
    assert result.webhook is Delivery.SENT
    fields = [f["text"] for f in webhook.received[-1]["blocks"][2]["fields"]]
    assert "*Repeated*\n1 more time since the last notification" in fields


def test_forget_lets_the_next_notification_through(webhook, clock):
    """Once the condition is resolved, a new breach notifies at once."""
    notifier = Notifier(webhook_url=webhook.url, clock=clock)
    notification = rpo_breached(
        policy="shop", cluster="primary-east", rpo_seconds=9000, objective_seconds=7200, involved=None
    )
    notifier.notify(notification)
    notifier.forget(notification.dedupe_key)
    assert notifier.notify(notification).webhook is Delivery.SENT
    assert len(webhook.received) == 2


def test_an_expired_event_is_made_anew(kube, clock):
    """If the API server dropped the Event (--event-ttl), the next send creates a new one."""
    notifier = Notifier(webhook_url=None, clock=clock, min_interval_seconds=60)
    first = notifier.notify(a_notification(), kube=kube)
    assert first.event_name is not None
    kube.delete(EVENTS, first.event_name, namespace="velero")
    clock.advance(120)
    second = notifier.notify(a_notification(), kube=kube)
    assert second.event is Delivery.SENT
    assert second.event_name != first.event_name
    assert [e["count"] for e in events(kube)] == [1]


# Builders
def test_backup_failed_says_what_and_never_calls_partial_a_success():
    """PartiallyFailed has its own reason and says it is not a success; the key is per policy and cluster."""
    partial = backup_failed(
        policy="shop", cluster="primary-east", phase="PartiallyFailed", backup=BACKUP, reason="2 items failed"
    )
    assert partial.reason == "BackupPartiallyFailed"
    assert partial.key == "BackupFailed/primary-east/shop"
    assert "Reason: 2 items failed" in partial.text
    assert "does not count as a successful backup" in partial.text
    assert backup_failed(policy="shop", cluster="c", phase="Failed", backup=None).reason == "BackupFailed"


def test_rpo_breached_states_age_and_objective():
    """Critical, with the RPO and objective in words; a policy never backed up says so."""
    breach = rpo_breached(policy="shop", cluster="c", rpo_seconds=10923.4, objective_seconds=7200, involved=None)
    assert (breach.reason, breach.severity) == ("RPOObjectiveBreached", Severity.CRITICAL)
    assert dict(breach.fields) == {"Policy": "shop", "RPO now": "3h2m3s", "Objective": "2h"}
    never = rpo_breached(policy="shop", cluster="c", rpo_seconds=math.inf, objective_seconds=7200, involved=None)
    assert "no restorable backup at all" in never.text


def test_object_ref_of_an_api_object():
    """The reference is read from the object as the API returns it."""
    obj = {"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": "s", "namespace": "velero"}}
    assert ObjectRef.of(obj) == ObjectRef("velero.io/v1", "Schedule", "s", namespace="velero")
