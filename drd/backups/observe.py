"""A Velero Backup object as drd sees it (pure): who it belongs to, where it stands, what it achieved.

The daemon watches Backups and turns each event into a
:class:`BackupObservation`; the observation is what gets recorded in the
store (:meth:`BackupObservation.record_fields` matches
``Store.record_backup``), what retention plans over, and — once terminal —
a ``backup`` :class:`~drd.outcomes.Outcome` for the metrics
(:func:`outcome_of`). Objects without drd's labels are not drd's business:
:func:`observation` returns None for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drd.operations import labels
from drd.outcomes import Outcome, Phase
from drd.velero.timefmt import parse_rfc3339
from drd.velero.vocabulary import LABEL_SCHEDULE_NAME, BackupPhase

TERMINAL_PHASES: Mapping[str, Phase] = {
    BackupPhase.COMPLETED: Phase.COMPLETED,
    BackupPhase.PARTIALLY_FAILED: Phase.PARTIALLY_FAILED,
    BackupPhase.FAILED: Phase.FAILED,
    BackupPhase.FAILED_VALIDATION: Phase.FAILED_VALIDATION,
}
"""Velero's terminal Backup phases and the Outcome phase each one becomes."""


@dataclass(frozen=True, slots=True)
class BackupObservation:
    """One Backup of a drd policy in one cluster, at the moment it was observed."""

    cluster: str
    name: str
    uid: str
    policy: str
    """From the ``drd.dev/policy`` label."""
    schedule: str | None
    """The Velero Schedule that made it (``velero.io/schedule-name``), None for on-demand backups."""
    trigger: str | None
    """From the ``drd.dev/trigger`` label: ``schedule``, ``cli``…"""
    phase: str
    """Velero's phase (``New`` when Velero has not set one yet)."""
    created: datetime | None
    started: datetime | None
    completed: datetime | None
    """Set on every terminal phase, Failed included (never on FailedValidation, which never started)."""
    expiration: datetime | None
    items_total: int | None
    items_backed_up: int | None
    errors: int
    warnings: int
    storage_location: str | None
    failure_reason: str | None
    validation_errors: tuple[str, ...] = ()

    @property
    def terminal(self) -> bool:
        """Velero has finished with it (Completed, PartiallyFailed, Failed, FailedValidation)."""
        return self.phase in BackupPhase.TERMINAL

    def good(self, *, count_partially_failed: bool = False) -> bool:
        """Restorable: Completed, or PartiallyFailed when the policy counts those."""
        return self.phase == BackupPhase.COMPLETED or (
            count_partially_failed and self.phase == BackupPhase.PARTIALLY_FAILED
        )

    @property
    def moment(self) -> datetime | None:
        """When it happened, for ordering: completion, else start, else creation."""
        return self.completed or self.started or self.created

    @property
    def reason(self) -> str | None:
        """Why it did not complete: Velero's failureReason, or its validation errors joined."""
        return self.failure_reason or ("; ".join(self.validation_errors) or None)

    def record_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``Store.record_backup`` (the store must not import this package)."""
        return {
            "cluster": self.cluster,
            "name": self.name,
            "uid": self.uid or None,
            "policy": self.policy,
            "schedule": self.schedule,
            "phase": self.phase,
            "started_at": self.started,
            "completed_at": self.completed,
            "expiration": self.expiration,
            "items_total": self.items_total,
            "items_backed_up": self.items_backed_up,
            "errors": self.errors,
            "warnings": self.warnings,
            "storage_location": self.storage_location,
            "failure_reason": self.reason,
        }

    def details(self) -> dict[str, Any]:
        """Outcome details: what an operator wants to read about this backup."""
        found: dict[str, Any] = {
            "cluster": self.cluster,
            "backup": self.name,
            "velero_phase": self.phase,
            "storage_location": self.storage_location,
            "items_backed_up": self.items_backed_up,
            "items_total": self.items_total,
            "errors": self.errors,
            "warnings": self.warnings,
        }
        if self.schedule:
            found["schedule"] = self.schedule
        if self.reason:
            found["reason"] = self.reason
        return found


def observation(obj: Mapping[str, Any], *, cluster: str) -> BackupObservation | None:
    """The observation of a Backup object, or None when it is not drd's (no drd policy label)."""
    metadata = obj.get("metadata") or {}
    own_labels = metadata.get("labels") or {}
    policy = own_labels.get(labels.POLICY)
    if not policy or own_labels.get(labels.MANAGED_BY) != labels.MANAGER:
        return None
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    progress = status.get("progress") or {}
    return BackupObservation(
        cluster=cluster,
        name=str(metadata.get("name", "")),
        uid=str(metadata.get("uid", "")),
        policy=str(policy),
        schedule=own_labels.get(LABEL_SCHEDULE_NAME) or None,
        trigger=own_labels.get(labels.TRIGGER) or None,
        phase=str(status.get("phase") or BackupPhase.NEW),
        created=parse_rfc3339(metadata.get("creationTimestamp")),
        started=parse_rfc3339(status.get("startTimestamp")),
        completed=parse_rfc3339(status.get("completionTimestamp")),
        expiration=parse_rfc3339(status.get("expiration")),
        items_total=_count(progress.get("totalItems")),
        items_backed_up=_count(progress.get("itemsBackedUp")),
        errors=_count(status.get("errors")) or 0,
        warnings=_count(status.get("warnings")) or 0,
        storage_location=spec.get("storageLocation") or None,
        failure_reason=status.get("failureReason") or None,
        validation_errors=tuple(str(error) for error in status.get("validationErrors") or ()),
    )


def outcome_of(observed: BackupObservation, *, observed_at: datetime) -> Outcome | None:
    """The ``backup`` Outcome of a terminal backup (None while Velero is still working on it).

    ``started``/``finished`` are Velero's start and completion times, so the
    duration is the backup's own; a FailedValidation backup never started and
    is dated by its creation (or ``observed_at`` when even that is unknown).
    """
    phase = TERMINAL_PHASES.get(observed.phase)
    if phase is None:
        return None
    finished = observed.completed or observed.created or observed_at
    started = min(observed.started or observed.created or finished, finished)
    return Outcome(
        kind="backup",
        subject=observed.policy,
        phase=phase,
        started=started,
        finished=finished,
        details=observed.details(),
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
