"""Backups seen in Velero: recording observations, deletion marks, listing, the newest good backup, counts.

Aspects: an upsert per (cluster, name) that only adds information and is
idempotent; a reused name with another uid is another backup; deletion is a
mark, not a row removal; "newest good" is by completion time, Completed only
unless PartiallyFailed is asked for, never a deleted one. Every test runs on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from drd import redaction
from drd.store import Store
from drd.store.records import BackupRecord

from .support import T0

HOUR = timedelta(hours=1)


def a_backup(store: Store, name: str = "drd-shop-20260301110000", **overrides: Any) -> BackupRecord:
    """Record a Completed backup of policy shop in primary-east that ran 11:00–11:05; keywords override fields."""
    fields: dict[str, Any] = {
        "cluster": "primary-east",
        "name": name,
        "uid": f"uid-{name}",
        "policy": "shop",
        "schedule": "drd-shop",
        "phase": "Completed",
        "started_at": T0 - HOUR,
        "completed_at": T0 - HOUR + timedelta(minutes=5),
        "expiration": T0 + timedelta(days=30),
        "items_total": 42,
        "items_backed_up": 42,
        "errors": 0,
        "warnings": 1,
        "storage_location": "default",
    }
    return store.record_backup(**(fields | overrides))


def test_a_first_observation_is_inserted_as_given(store):
    """Every observed field is stored; first_seen_at and updated_at are the store's clock."""
    recorded = a_backup(store)
    assert (recorded.cluster, recorded.name, recorded.policy, recorded.phase) == (
        "primary-east",
        "drd-shop-20260301110000",
        "shop",
        "Completed",
    )
    assert (recorded.items_total, recorded.items_backed_up, recorded.errors, recorded.warnings) == (42, 42, 0, 1)
    assert (recorded.first_seen_at, recorded.updated_at, recorded.deleted_at) == (T0, T0, None)
    assert recorded == store.backups()[0]


def test_error_and_warning_counts_default_to_zero(store):
    """A backup observed before Velero counted anything has 0 errors and 0 warnings, not unknown."""
    recorded = store.record_backup(cluster="primary-east", name="drd-shop-1", policy="shop", phase="New")
    assert (recorded.errors, recorded.warnings, recorded.started_at) == (0, 0, None)


def test_later_observations_update_phase_and_times_and_keep_first_seen(store, clock):
    """InProgress then Completed: the phase and completion are updated, first_seen_at stays."""
    a_backup(store, phase="InProgress", completed_at=None, items_backed_up=10)
    clock.advance(300)
    done = a_backup(store)
    assert (done.phase, done.completed_at, done.items_backed_up) == ("Completed", T0 - HOUR + timedelta(minutes=5), 42)
    assert (done.first_seen_at, done.updated_at) == (T0, T0 + timedelta(seconds=300))


def test_recording_the_same_observation_again_changes_nothing(store, clock):
    """Re-observing after a relist or a restart is idempotent: the record, updated_at included, is unchanged."""
    first = a_backup(store)
    clock.advance(60)
    assert a_backup(store) == first


def test_a_field_observed_as_unknown_keeps_the_stored_value(store, clock):
    """None means "not seen this time", never "erase": the counts and timestamps stay."""
    a_backup(store)
    clock.advance(60)
    name = "drd-shop-20260301110000"
    again = store.record_backup(cluster="primary-east", name=name, policy="shop", phase="Completed")
    assert (again.items_total, again.started_at, again.storage_location) == (42, T0 - HOUR, "default")


def test_the_same_name_with_another_uid_is_a_new_backup(store, clock):
    """A Backup re-created under the same name replaces the row: new first_seen_at, old fields gone."""
    a_backup(store)
    clock.advance(3600)
    replaced = a_backup(store, uid="another", phase="InProgress", completed_at=None, items_total=None)
    assert (replaced.uid, replaced.phase, replaced.completed_at, replaced.items_total) == (
        "another",
        "InProgress",
        None,
        None,
    )
    assert replaced.first_seen_at == T0 + HOUR
    assert len(store.backups()) == 1


def test_the_same_name_in_two_clusters_is_two_backups(store):
    """Backups are keyed by cluster and name: a synced copy in the DR cluster is its own row."""
    a_backup(store)
    a_backup(store, cluster="dr-west", uid="synced", storage_location="primary-east")
    assert sorted(b.cluster for b in store.backups()) == ["dr-west", "primary-east"]


def test_a_deleted_backup_is_marked_once_and_hidden_from_listings(store, clock):
    """mark_backup_deleted stamps deleted_at (a second mark keeps the first time); listings skip it by default."""
    a_backup(store)
    first = store.mark_backup_deleted("primary-east", "drd-shop-20260301110000", at=T0)
    clock.advance(60)
    second = store.mark_backup_deleted("primary-east", "drd-shop-20260301110000", at=T0 + timedelta(seconds=60))
    assert first is not None
    assert second is not None
    assert (first.deleted_at, second.deleted_at) == (T0, T0)
    assert store.backups() == []
    assert [b.name for b in store.backups(include_deleted=True)] == ["drd-shop-20260301110000"]


def test_marking_an_unknown_backup_deleted_returns_none(store):
    """A deletion of a backup never recorded (not drd's, or before drd watched) is not an error."""
    assert store.mark_backup_deleted("primary-east", "someone-elses", at=T0) is None


def test_observing_a_deleted_backup_again_brings_it_back(store, clock):
    """A Backup that reappears (for example re-synced by Velero) is no longer marked deleted."""
    a_backup(store)
    store.mark_backup_deleted("primary-east", "drd-shop-20260301110000", at=T0)
    clock.advance(60)
    assert a_backup(store).deleted_at is None


def test_backups_are_listed_newest_first_with_filters_and_a_limit(store):
    """Newest by start time first; policy and cluster filter; limit caps the list."""
    for hours_ago in (3, 1, 2):
        start = T0 - hours_ago * HOUR
        a_backup(store, f"drd-shop-{hours_ago}", started_at=start, completed_at=start + timedelta(minutes=5))
    a_backup(store, "drd-catalog-1", policy="catalog")
    a_backup(store, "drd-shop-dr", cluster="dr-west")
    assert [b.name for b in store.backups(policy="shop", cluster="primary-east")] == [
        "drd-shop-1",
        "drd-shop-2",
        "drd-shop-3",
    ]
    assert [b.name for b in store.backups(policy="shop", cluster="primary-east", limit=1)] == ["drd-shop-1"]
    assert {b.policy for b in store.backups(policy="catalog")} == {"catalog"}


def test_a_backup_that_never_started_is_ordered_by_when_it_was_first_seen(store, clock):
    """FailedValidation backups have no start time; they still sort by time, not last."""
    a_backup(store, "drd-shop-old", started_at=T0 - 2 * HOUR)
    clock.advance(60)
    store.record_backup(cluster="primary-east", name="drd-shop-invalid", policy="shop", phase="FailedValidation")
    assert [b.name for b in store.backups()] == ["drd-shop-invalid", "drd-shop-old"]


@pytest.mark.parametrize(
    ("recorded", "include_partial", "expected"),
    [
        pytest.param([], False, None, id="no backups"),
        pytest.param([("a", "Completed", 1), ("b", "Completed", 2)], False, "b", id="newest completion wins"),
        pytest.param([("a", "Completed", 2), ("b", "Failed", 3)], False, "a", id="failed never counts"),
        pytest.param([("a", "Completed", 1), ("b", "PartiallyFailed", 2)], False, "a", id="partial not by default"),
        pytest.param([("a", "Completed", 1), ("b", "PartiallyFailed", 2)], True, "b", id="partial when asked"),
        pytest.param([("a", "InProgress", None)], False, None, id="unfinished never counts"),
    ],
)
def test_the_last_good_backup_is_the_newest_restorable_completion(store, recorded, include_partial, expected):
    """Newest by completion time among Completed (and PartiallyFailed when asked for) backups."""
    for name, phase, hour in recorded:
        completed = None if hour is None else T0 + hour * HOUR
        a_backup(store, name, phase=phase, started_at=T0, completed_at=completed)
    found = store.last_good_backup("shop", include_partial=include_partial)
    assert expected == (found.name if found else None)


def test_a_deleted_backup_is_never_the_last_good_one(store):
    """Once its object is gone the backup cannot be restored, so it no longer counts."""
    a_backup(store, "older", completed_at=T0 - 2 * HOUR)
    a_backup(store, "newer", completed_at=T0 - HOUR)
    store.mark_backup_deleted("primary-east", "newer", at=T0)
    found = store.last_good_backup("shop")
    assert found is not None
    assert found.name == "older"


def test_backup_counts_are_by_velero_phase(store):
    """backup_counts counts the policy's live backups per Velero phase."""
    a_backup(store, "a")
    a_backup(store, "b")
    a_backup(store, "c", phase="Failed")
    a_backup(store, "gone")
    store.mark_backup_deleted("primary-east", "gone", at=T0)
    assert store.backup_counts("shop") == {"Completed": 2, "Failed": 1}


def test_a_failure_reason_is_redacted(store):
    """A registered secret in Velero's failure reason never reaches the database."""
    redaction.register_secret("s3cr3t-key-value")
    recorded = a_backup(store, phase="Failed", failure_reason="upload failed with key s3cr3t-key-value")
    assert "s3cr3t-key-value" not in (recorded.failure_reason or "")


def test_naive_timestamps_are_refused(store):
    """A timestamp without a time zone is a bug in the caller, never guessed."""
    with pytest.raises(ValueError, match="timezone-aware"):
        a_backup(store, started_at=datetime(2026, 3, 1, 11, 0))


def test_newest_good_completions_are_one_query_per_policy_and_phase(store):
    """One call gives, per policy, the newest Completed and PartiallyFailed completion, ignoring deleted backups."""
    a_backup(store, "old", completed_at=T0 - timedelta(hours=2))
    a_backup(store, "new", completed_at=T0 - timedelta(hours=1))
    a_backup(store, "partial", phase="PartiallyFailed", completed_at=T0)
    a_backup(store, "failed", phase="Failed", completed_at=T0)
    a_backup(store, "gone", completed_at=T0 + timedelta(hours=1))
    store.mark_backup_deleted("primary-east", "gone", at=T0)
    newest = store.newest_good_completions()
    assert newest == {
        ("shop", "Completed"): T0 - timedelta(hours=1),
        ("shop", "PartiallyFailed"): T0,
    }


def test_backup_names_lists_a_clusters_backups_in_given_phases_deleted_included(store):
    """Names only, filtered by cluster and phase, including backups whose objects are gone."""
    a_backup(store, "done")
    a_backup(store, "running", phase="InProgress", completed_at=None)
    a_backup(store, "elsewhere", cluster="dr-west")
    a_backup(store, "gone")
    store.mark_backup_deleted("primary-east", "gone", at=T0)
    assert store.backup_names(cluster="primary-east", phases=("Completed", "Failed")) == {"done", "gone"}
