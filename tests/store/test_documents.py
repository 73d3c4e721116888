"""What goes into JSON and timestamp columns comes back the same on both backends, minus secrets.

Aspects: nested and unicode JSON, values reduced to plain JSON, values refused on both
backends, timezone-aware UTC timestamps, and redaction of everything written.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from drd import redaction
from drd.outcomes import Phase

from .support import T0, a_run

SECRET = "s3cr3t-token-value"


def test_nested_unicode_json_round_trips(store):
    """Nested mappings, lists, numbers, booleans, null and non-ASCII text read back unchanged."""
    details = {
        "namespaces": ["shop", "paiements", "支払い"],
        "checks": [{"name": "http", "ok": True, "latency_ms": 12.5}, {"name": "rows", "ok": False, "count": None}],
        "note": "Wiederherstellung geprüft ✓",
        "depth": {"a": {"b": {"c": [1, [2, [3]]]}}},
    }
    run = a_run(store, details=details, parameters={"emoji": "🛟"})
    assert (run.details, run.parameters) == (details, {"emoji": "🛟"})
    assert run == store.get_run(run.id)


def test_values_are_stored_as_plain_json(store):
    """Datetimes become ISO 8601 UTC text, tuples lists, enums their values, and the returned record says so."""
    run = a_run(store, details={"at": datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))), "t": (1, 2)})
    run = store.update_run(run.id, details={**run.details, "phase": Phase.COMPLETED})
    assert run.details == {"at": "2026-03-01T12:00:00+00:00", "t": [1, 2], "phase": "Completed"}
    assert run == store.get_run(run.id)


@pytest.mark.parametrize(
    ("value", "error"),
    [(math.nan, ValueError), ("nul\x00byte", ValueError), (object(), TypeError)],
    ids=["nan", "nul-character", "not-json"],
)
def test_values_postgres_cannot_hold_are_refused_on_both_backends(store, value, error):
    """NaN, NUL characters and non-JSON objects are refused before writing, whatever the backend."""
    with pytest.raises(error, match="details"):
        a_run(store, details={"value": value})
    assert store.list_runs() == []


def test_timestamps_come_back_timezone_aware_in_utc(store, clock):
    """A time given in another zone is stored as the same instant and read back in UTC, to the microsecond."""
    clock.advance(0.123456)
    finished = datetime(2026, 3, 1, 14, 30, 0, 654321, tzinfo=timezone(timedelta(hours=2)))
    run = a_run(store, phase=Phase.COMPLETED, started_at=T0, finished_at=finished)
    read = store.get_run(run.id)
    assert read.finished_at == finished
    assert read.finished_at.tzinfo == UTC
    assert read.finished_at == datetime(2026, 3, 1, 12, 30, 0, 654321, tzinfo=UTC)
    assert read.created_at == T0 + timedelta(microseconds=123456)
    assert all(t.tzinfo is UTC for t in (read.created_at, read.updated_at, read.started_at))


def test_naive_timestamps_are_refused(store):
    """A datetime without a time zone is ambiguous, so it is refused rather than guessed."""
    with pytest.raises(ValueError, match="timezone-aware"):
        a_run(store, phase=Phase.COMPLETED, finished_at=datetime(2026, 3, 1, 12, 0))


def test_registered_secrets_never_reach_the_runs(store):
    """A secret value registered with redaction is masked inside parameters and details, wherever it appears."""
    redaction.register_secret(SECRET)
    run = a_run(store, parameters={"args": [f"--token={SECRET}"]}, details={"log": {"line": f"using {SECRET}"}})
    read = store.get_run(run.id)
    assert (read.parameters, read.details) == ({"args": ["--token=***"]}, {"log": {"line": "using ***"}})
    assert SECRET not in repr(store.list_runs())


def test_values_under_secret_keys_are_masked(store):
    """Whatever is stored under a key naming a secret (password, token…) is masked, registered or not."""
    run = a_run(store, parameters={"db": {"password": "pw-123456", "user": "app"}, "vault_token": "hvs.abc"})
    assert store.get_run(run.id).parameters == {"db": {"password": "***", "user": "app"}, "vault_token": "***"}


def test_secrets_never_reach_steps_or_events(store):
    """Step inputs, outputs and error messages, and event data, are redacted too."""
    redaction.register_secret(SECRET)
    run = a_run(store)
    step = store.start_step(run.id, ordinal=0, name="rotate", type="vault.rotate", inputs={"new": SECRET})
    store.finish_step(
        step.id,
        phase=Phase.FAILED,
        outputs={"url": "https://admin:pa55word@vault:8200/v1"},
        error_message=f"Authorization: Bearer {SECRET} rejected",
    )
    store.record_event(run.id, "StepFailed", actor="drd", data={"secret": "anything", "why": SECRET})
    (stored,) = store.steps(run.id)
    assert stored.inputs == {"new": "***"}
    assert stored.outputs == {"url": "https://admin:***@vault:8200/v1"}
    assert SECRET not in (stored.error_message or "")
    assert store.events(run.id)[0].data == {"secret": "***", "why": "***"}
