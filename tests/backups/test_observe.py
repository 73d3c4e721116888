"""Backup objects → observations → store fields and Outcomes (pure).

Aspects: every field read from where Velero writes it; objects that are not
drd's are ignored; the observation feeds ``Store.record_backup`` as is; a
terminal backup becomes a ``backup`` Outcome dated by Velero's own times.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Any

import pytest

from drd.backups import observe
from drd.outcomes import Phase
from drd.store import Store
from tests.backups.builders import T0


def a_backup_object(*, phase: str | None = "Completed", **status: Any) -> dict[str, Any]:
    """A Backup of policy shop as Velero leaves it; ``status`` keywords override status fields."""
    obj: dict[str, Any] = {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {
            "name": "drd-shop-20260615100000",
            "namespace": "velero",
            "uid": "0b9c",
            "creationTimestamp": "2026-06-15T10:00:00Z",
            "labels": {
                "app.kubernetes.io/managed-by": "drd",
                "drd.dev/policy": "shop",
                "drd.dev/trigger": "schedule",
                "velero.io/schedule-name": "drd-shop",
                "velero.io/storage-location": "default",
            },
        },
        "spec": {"includedNamespaces": ["shop"], "storageLocation": "default", "ttl": "720h0m0s"},
        "status": {
            "phase": phase,
            "startTimestamp": "2026-06-15T10:00:01Z",
            "completionTimestamp": "2026-06-15T10:02:01Z",
            "expiration": "2026-07-15T10:00:01Z",
            "progress": {"totalItems": 40, "itemsBackedUp": 38},
            "errors": 2,
            "warnings": 3,
        }
        | status,
    }
    return obj


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_an_observation_reads_every_field_velero_writes():
    """Identity from metadata and labels, times and counts from status, location from spec."""
    seen = observe.observation(a_backup_object(), cluster="primary-east")
    assert seen is not None
    assert (seen.cluster, seen.name, seen.uid, seen.policy, seen.schedule, seen.trigger) == (
        "primary-east",
        "drd-shop-20260615100000",
        "0b9c",
        "shop",
        "drd-shop",
        "schedule",
    )
    assert (seen.phase, seen.created, seen.started, seen.completed, seen.expiration) == (
        "Completed",
        at("2026-06-15T10:00:00"),
        at("2026-06-15T10:00:01"),
        at("2026-06-15T10:02:01"),
        at("2026-07-15T10:00:01"),
    )
    assert (seen.items_total, seen.items_backed_up, seen.errors, seen.warnings, seen.storage_location) == (
        40,
        38,
        2,
        3,
        "default",
    )


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param({}, id="no labels"),
        pytest.param({"velero.io/schedule-name": "nightly"}, id="someone else's schedule"),
        pytest.param({"drd.dev/policy": "shop", "app.kubernetes.io/managed-by": "helm"}, id="managed by another tool"),
    ],
)
def test_a_backup_that_is_not_drds_is_not_observed(labels):
    """Without drd's policy label and managed-by drd, a Backup is none of drd's business."""
    obj = a_backup_object()
    obj["metadata"]["labels"] = labels
    assert observe.observation(obj, cluster="primary-east") is None


def test_a_backup_velero_has_not_touched_is_new():
    """No phase yet reads as New, with no times and zero counts."""
    obj = a_backup_object(phase=None)
    obj["status"] = {}
    seen = observe.observation(obj, cluster="primary-east")
    assert seen is not None
    assert (seen.phase, seen.started, seen.errors, seen.terminal) == ("New", None, 0, False)


def test_validation_errors_are_the_reason_of_a_failed_validation():
    """FailedValidation has no failureReason; its validationErrors, joined, are the reason."""
    obj = a_backup_object(phase="FailedValidation", validationErrors=["location is read-only", "bad ttl"])
    seen = observe.observation(obj, cluster="primary-east")
    assert seen is not None
    assert seen.reason == "location is read-only; bad ttl"
    assert seen.record_fields()["failure_reason"] == "location is read-only; bad ttl"


def test_record_fields_are_exactly_what_the_store_records():
    """record_fields() can be passed to Store.record_backup as keyword arguments."""
    seen = observe.observation(a_backup_object(), cluster="primary-east")
    assert seen is not None
    accepted = set(inspect.signature(Store.record_backup).parameters) - {"self"}
    assert set(seen.record_fields()) == accepted


@pytest.mark.parametrize(
    ("velero_phase", "phase"),
    [
        ("Completed", Phase.COMPLETED),
        ("PartiallyFailed", Phase.PARTIALLY_FAILED),
        ("Failed", Phase.FAILED),
        ("FailedValidation", Phase.FAILED_VALIDATION),
    ],
)
def test_a_terminal_backup_becomes_a_backup_outcome_in_its_phase(velero_phase, phase):
    """The Outcome mirrors Velero's terminal phase; subject is the policy, details name the cluster."""
    seen = observe.observation(a_backup_object(phase=velero_phase), cluster="primary-east")
    assert seen is not None
    outcome = observe.outcome_of(seen, observed_at=T0)
    assert outcome is not None
    assert (outcome.kind, outcome.subject, outcome.phase) == ("backup", "shop", phase)
    assert (outcome.details["cluster"], outcome.details["backup"]) == ("primary-east", "drd-shop-20260615100000")


def test_a_backup_outcome_is_dated_by_velero():
    """started/finished are Velero's start and completion, so the duration is the backup's own."""
    seen = observe.observation(a_backup_object(), cluster="primary-east")
    assert seen is not None
    outcome = observe.outcome_of(seen, observed_at=T0)
    assert outcome is not None
    assert (outcome.started, outcome.finished, outcome.duration_seconds) == (
        at("2026-06-15T10:00:01"),
        at("2026-06-15T10:02:01"),
        120.0,
    )


def test_an_unfinished_backup_has_no_outcome_yet():
    """InProgress is not an outcome: the metrics count terminal phases only."""
    seen = observe.observation(a_backup_object(phase="InProgress"), cluster="primary-east")
    assert seen is not None
    assert observe.outcome_of(seen, observed_at=T0) is None
