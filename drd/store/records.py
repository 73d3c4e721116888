"""What the store hands out: frozen snapshots of rows, never live ORM objects or SQLAlchemy rows.

JSON fields are plain ``dict``s decoded from the database (mutating one changes nothing
stored); timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from drd.outcomes import Phase


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run: a backup, a drill, a restore, a runbook run…"""

    id: str
    kind: str
    subject: str
    phase: Phase
    trigger: str
    requested_by: str | None
    parameters: dict[str, Any]
    details: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    """When the run left Pending."""
    finished_at: datetime | None
    """When the run reached a terminal phase; None while it is not terminal."""
    updated_at: datetime
    version: int
    """Increases on every update; pass it back as ``expected_version`` to update only an unchanged run."""


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One attempt of one step of a run."""

    id: str
    run_id: str
    ordinal: int
    attempt: int
    name: str
    type: str
    phase: Phase
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    error_message: str | None
    error_class: str | None
    idempotency_key: str | None
    deadline_at: datetime | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One entry of a run's audit trail; ``id`` increases in the order entries were written."""

    id: int
    run_id: str
    at: datetime
    actor: str
    event: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BackupRecord:
    """What drd knows of one Velero Backup of a drd policy in one cluster."""

    id: int
    cluster: str
    name: str
    uid: str | None
    policy: str
    schedule: str | None
    """The Velero Schedule that made it; None for on-demand backups."""
    phase: str
    """Velero's phase as last seen (``InProgress``, ``Completed``, ``PartiallyFailed``, ``Failed``…)."""
    started_at: datetime | None
    completed_at: datetime | None
    expiration: datetime | None
    items_total: int | None
    items_backed_up: int | None
    errors: int
    warnings: int
    storage_location: str | None
    failure_reason: str | None
    """Velero's failureReason, or its validation errors for FailedValidation."""
    first_seen_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    """When drd saw the Backup object disappear; the row stays as history."""


def run_from(row: RowMapping) -> RunRecord:
    """A RunRecord from a ``drd_runs`` row."""
    return RunRecord(
        id=row["id"],
        kind=row["kind"],
        subject=row["subject"],
        phase=Phase(row["phase"]),
        trigger=row["trigger"],
        requested_by=row["requested_by"],
        parameters=row["parameters"],
        details=row["details"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def step_from(row: RowMapping) -> StepRecord:
    """A StepRecord from a ``drd_steps`` row."""
    return StepRecord(
        id=row["id"],
        run_id=row["run_id"],
        ordinal=row["ordinal"],
        attempt=row["attempt"],
        name=row["name"],
        type=row["type"],
        phase=Phase(row["phase"]),
        inputs=row["inputs"],
        outputs=row["outputs"],
        error_message=row["error_message"],
        error_class=row["error_class"],
        idempotency_key=row["idempotency_key"],
        deadline_at=row["deadline_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def event_from(row: RowMapping) -> EventRecord:
    """An EventRecord from a ``drd_events`` row."""
    return EventRecord(
        id=row["id"], run_id=row["run_id"], at=row["at"], actor=row["actor"], event=row["event"], data=row["data"]
    )


def backup_from(row: RowMapping) -> BackupRecord:
    """A BackupRecord from a ``drd_backups`` row."""
    return BackupRecord(**{field.name: row[field.name] for field in fields(BackupRecord)})
