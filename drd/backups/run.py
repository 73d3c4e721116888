"""Backups from policies against one cluster (thin runners): each returns an Outcome and records nothing.

The daemon (or the CLI) calls these with the KubeClient of the policy's
source cluster and records each Outcome in one place. What can be decided
from the policy alone is decided by :mod:`drd.operations.backup_manifests` and
:mod:`drd.backups.retention`; here is only the talking to the cluster.

Failures of the domain (Velero not installed, a storage location that is
missing, Unavailable or ReadOnly, a policy Velero cannot express) are
outcomes with a ``reason``. API failures are raised as the clients' typed
errors, so that the job wrapper retries TemporaryErrors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from drd import logs
from drd.backups import observe, retention
from drd.clients.errors import KubeAlreadyExists
from drd.clients.kube import KubeClient
from drd.clock import Clock
from drd.operations import backup_manifests as render
from drd.operations import velero
from drd.outcomes import Outcome, Phase
from drd.policy.models.backup import BackupPolicy
from drd.policy.models.cluster import Cluster

log = logs.get_logger(__name__)

_NAME_ATTEMPTS = 3
"""On-demand backup names have one-second resolution; a clash moves the name on by a second, this many times."""


def reconcile_schedule(kube: KubeClient, policy: BackupPolicy, cluster: Cluster, *, clock: Clock) -> Outcome:
    """Keep the policy's Velero Schedule as the policy declares it (kind ``schedule``).

    Checks first that Velero is installed and the policy's storage location
    exists, is Available and writable (FAILED with the reason otherwise).
    Details: ``action`` (created, updated, unchanged), ``drift`` (the fields
    that were corrected, current → desired), ``schedule``, ``cluster``. A
    Schedule Velero itself rejected is FAILED_VALIDATION with its errors.
    """
    schedule = render.schedule_name(policy.name)
    unit = _Unit.begin("schedule", policy, clock=clock, cluster=cluster.name, schedule=schedule)
    unsupported = render.problems(policy)
    if unsupported:
        return unit.outcome(Phase.FAILED_VALIDATION, reason="; ".join(unsupported))
    refusal = _refusal(kube, policy, cluster)
    if refusal:
        return unit.outcome(Phase.FAILED, reason=refusal)
    change = velero.apply_schedule(kube, render.schedule_for(policy, cluster), namespace=cluster.spec.velero_namespace)
    details = {"action": change.action, "drift": list(change.drift)}
    if change.drift:
        log.info("schedule_drift_corrected", policy=policy.name, cluster=cluster.name, drift=list(change.drift))
    status = change.schedule.get("status") or {}
    if change.action == "unchanged" and status.get("phase") == "FailedValidation":
        errors = "; ".join(str(error) for error in status.get("validationErrors") or ()) or "no reason given"
        reason = f"Velero rejected the Schedule: {errors}"
        return unit.outcome(Phase.FAILED_VALIDATION, **details, reason=reason)
    return unit.outcome(Phase.COMPLETED, **details)


def backup_now(
    kube: KubeClient,
    policy: BackupPolicy,
    cluster: Cluster,
    *,
    wait: bool,
    timeout_seconds: float,
    clock: Clock,
    trigger: str = "cli",
    on_phase: Callable[[Mapping[str, Any]], None] | None = None,
) -> Outcome:
    """Create an on-demand Backup with the policy's scope (kind ``backup``); with ``wait``, until Velero finishes.

    Waiting, the phase mirrors Velero's terminal phase (Completed,
    PartiallyFailed, Failed, FailedValidation) and ``started``/``finished`` are
    Velero's own times; without it the outcome is PENDING with the backup's
    name. A wait that runs out raises :class:`~drd.operations.velero.BackupTimeout`
    (the backup goes on in Velero: do not retry by creating another).
    """
    unit = _Unit.begin("backup", policy, clock=clock, cluster=cluster.name)
    unsupported = render.problems(policy)
    if unsupported:
        return unit.outcome(Phase.FAILED_VALIDATION, reason="; ".join(unsupported))
    missing = velero.missing_resources(kube)
    if missing:
        return unit.outcome(Phase.FAILED, reason=str(velero.VeleroNotInstalled(kube, missing)))
    name = _create(kube, policy, cluster, at=unit.started, trigger=trigger)
    if not wait:
        return unit.outcome(Phase.PENDING, backup=name, velero_phase="New")
    namespace = cluster.spec.velero_namespace
    finished = velero.wait_for_backup(
        kube, name, namespace=namespace, timeout_seconds=timeout_seconds, clock=clock, on_phase=on_phase
    )
    observed = observe.observation(finished, cluster=cluster.name)
    outcome = observe.outcome_of(observed, observed_at=clock.now()) if observed is not None else None
    if outcome is None:  # someone stripped drd's labels meanwhile: report what Velero says, all the same
        phase = observe.TERMINAL_PHASES[str(finished["status"]["phase"])]
        return unit.outcome(phase, backup=name)
    return outcome


def prune(kube: KubeClient, policy: BackupPolicy, cluster: Cluster, *, in_use: frozenset[str], clock: Clock) -> Outcome:
    """Apply the policy's retention rules (kind ``retention``): a DeleteBackupRequest per backup to prune.

    SKIPPED without retention rules (Velero's ttl expires backups). Refuses
    (FAILED with a reason) when Velero is not installed or the storage
    location is missing, Unavailable or ReadOnly, where Velero would refuse
    the deletions. Backups in ``in_use`` (an active drill or restore), the
    newest good one and unfinished ones are never pruned. Details:
    ``pruned`` (how many requests were made), ``pruned_backups``,
    ``already_requested``, ``kept`` and a ``reasons`` entry per pruned backup.
    """
    unit = _Unit.begin("retention", policy, clock=clock, cluster=cluster.name)
    if not policy.spec.retention.rules:
        return unit.outcome(Phase.SKIPPED, pruned=0, reason="no retention rules: Velero's ttl expires the backups")
    refusal = _refusal(kube, policy, cluster)
    if refusal:
        return unit.outcome(Phase.FAILED, pruned=0, reason=refusal)
    namespace = cluster.spec.velero_namespace
    found = velero.policy_backups(kube, policy.name, namespace=namespace)
    objects = {str(obj["metadata"]["name"]): obj for obj in found}
    observed = [o for o in (observe.observation(obj, cluster=cluster.name) for obj in objects.values()) if o]
    decided = retention.plan(
        policy.spec.retention,
        observed,
        now=unit.started,
        in_use=in_use,
        count_partially_failed=policy.spec.count_partially_failed,
    )
    pending = velero.pending_deletions(kube, namespace=namespace) if decided.delete else frozenset()
    requested: list[str] = []
    for name in decided.delete:
        if name not in pending:
            log.info("backup_deletion_requesting", policy=policy.name, backup=name, reason=decided.reasons[name])
            velero.request_backup_deletion(kube, objects[name], namespace=namespace)
            requested.append(name)
    return unit.outcome(
        Phase.COMPLETED,
        pruned=len(requested),
        pruned_backups=requested,
        already_requested=[name for name in decided.delete if name in pending],
        kept=len(decided.keep),
        reasons={name: decided.reasons[name] for name in decided.delete},
    )


def _refusal(kube: KubeClient, policy: BackupPolicy, cluster: Cluster) -> str | None:
    """Why backups of ``policy`` cannot be written or deleted in ``cluster`` now, or None."""
    missing = velero.missing_resources(kube)
    if missing:
        return str(velero.VeleroNotInstalled(kube, missing))
    namespace = cluster.spec.velero_namespace
    location = velero.storage_location_status(kube, policy.spec.storage_location, namespace=namespace)
    refusal = location.refusal(writes=True)
    return f"{kube.system}, namespace {namespace}: {refusal}" if refusal else None


def _create(kube: KubeClient, policy: BackupPolicy, cluster: Cluster, *, at: datetime, trigger: str) -> str:
    """Create the on-demand Backup; returns its name (moved on by a second if a backup of that second exists)."""
    for attempt in range(_NAME_ATTEMPTS):
        name = render.backup_name(policy.name, at + timedelta(seconds=attempt))
        manifest = render.backup_for(policy, cluster, name=name, trigger=trigger)
        try:
            velero.create_backup(kube, manifest, namespace=cluster.spec.velero_namespace)
        except KubeAlreadyExists:
            if attempt == _NAME_ATTEMPTS - 1:
                raise
            continue
        return name
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


@dataclass(frozen=True, slots=True)
class _Unit:
    """One unit of work being reported: its kind, policy, start and the details known from the start."""

    kind: str
    policy: BackupPolicy
    clock: Clock
    details: Mapping[str, Any]
    started: datetime

    @classmethod
    def begin(cls, kind: str, policy: BackupPolicy, *, clock: Clock, **details: Any) -> _Unit:
        return cls(kind=kind, policy=policy, clock=clock, details=details, started=clock.now())

    def outcome(self, phase: Phase, **more: Any) -> Outcome:
        """The Outcome, finished now, with the details known from the start plus ``more``."""
        return Outcome(
            kind=self.kind,
            subject=self.policy.name,
            phase=phase,
            started=self.started,
            finished=self.clock.now(),
            details={**self.details, **more},
        )
