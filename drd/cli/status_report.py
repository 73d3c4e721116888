"""``drd status``: per application, the last good backup and its age against the RPO objective, breaches first.

Built from drd's store (what the daemon observed) and, live, each source
cluster's Velero Schedule and storage location. An unreachable cluster is a
fact in the report, not an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from drd.clients.connect import Connections
from drd.clients.errors import KubeError
from drd.clients.kube_resources import VELERO_SCHEDULES
from drd.operations import backup_manifests as render
from drd.operations import velero
from drd.policy.durations import format_duration
from drd.policy.loader import Config
from drd.policy.models.backup import BackupPolicy
from drd.store import Store


@dataclass(frozen=True)
class PolicyStatus:
    """One row of the report."""

    application: str
    policy: str
    cluster: str
    last_good_backup: str | None
    last_good_completed: datetime | None
    rpo_seconds: float
    rpo_objective_seconds: float
    last_backup_phase: str | None
    schedule: str
    location: str
    drill: DrillStatus | None = None

    @property
    def rpo_met(self) -> bool:
        return self.rpo_seconds <= self.rpo_objective_seconds

    @property
    def healthy(self) -> bool:
        """No objective breached: the RPO, and the last drill's RTO when the application has a drill."""
        return self.rpo_met and (self.drill is None or self.drill.rto_met)

    def to_json(self) -> dict[str, Any]:
        return {
            "application": self.application,
            "policy": self.policy,
            "cluster": self.cluster,
            "lastGoodBackup": self.last_good_backup,
            "lastGoodCompleted": self.last_good_completed,
            "rpoSeconds": None if math.isinf(self.rpo_seconds) else round(self.rpo_seconds, 1),
            "rpoObjectiveSeconds": self.rpo_objective_seconds,
            "rpoMet": self.rpo_met,
            "lastBackupPhase": self.last_backup_phase,
            "schedule": self.schedule,
            "storageLocation": self.location,
            "drill": self.drill.to_json() if self.drill else None,
        }

    def to_row(self) -> dict[str, Any]:
        age = "never" if math.isinf(self.rpo_seconds) else _human(self.rpo_seconds)
        return {
            "application": self.application,
            "cluster": self.cluster,
            "last good backup": self.last_good_backup or "-",
            "rpo": f"{age} / {_human(self.rpo_objective_seconds)}",
            "status": "ok" if self.healthy else "BREACHED",
            "last backup": self.last_backup_phase or "-",
            "schedule": self.schedule,
            "location": self.location,
            "last drill": self.drill.summary() if self.drill else "-",
            "rto": self.drill.rto_text() if self.drill else "-",
        }


@dataclass(frozen=True)
class DrillStatus:
    """The last finished drill of the application's DrillPolicy, from the store."""

    policy: str
    result: str | None
    finished: datetime | None
    rto_seconds: float | None
    rto_objective_seconds: float

    @property
    def rto_met(self) -> bool:
        return (
            self.result == "passed" and self.rto_seconds is not None and self.rto_seconds <= self.rto_objective_seconds
        )

    def summary(self) -> str:
        if self.result is None or self.finished is None:
            return f"{self.policy}: never"
        return f"{self.result} {self.finished:%Y-%m-%d %H:%M}"

    def rto_text(self) -> str:
        achieved = "-" if self.rto_seconds is None else _human(self.rto_seconds)
        return f"{achieved} / {_human(self.rto_objective_seconds)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "result": self.result,
            "finished": self.finished,
            "rtoSeconds": self.rto_seconds,
            "rtoObjectiveSeconds": self.rto_objective_seconds,
            "rtoMet": self.rto_met,
        }


COLUMNS = (
    "status", "application", "cluster", "rpo", "last good backup", "last backup", "last drill", "rto", "schedule",
    "location",
)  # fmt: skip


def build(config: Config, store: Store, connections: Connections, *, now: datetime) -> list[PolicyStatus]:
    """The report, breaches first, then by application."""
    rows = [_row(config, policy, store, connections, now) for policy in config.backup_policies.values()]
    return sorted(rows, key=lambda r: (r.healthy, r.application, r.policy))


def _row(config: Config, policy: BackupPolicy, store: Store, connections: Connections, now: datetime) -> PolicyStatus:
    cluster = config.source_cluster(policy)
    good = store.last_good_backup(policy.metadata.name, include_partial=policy.spec.count_partially_failed)
    latest = store.backups(policy=policy.metadata.name, limit=1)
    rpo = (now - good.completed_at).total_seconds() if good and good.completed_at else math.inf
    schedule, location = _live(connections, policy, cluster)
    return PolicyStatus(
        application=policy.spec.application,
        policy=policy.metadata.name,
        cluster=cluster.metadata.name,
        last_good_backup=good.name if good else None,
        last_good_completed=good.completed_at if good else None,
        rpo_seconds=max(0.0, rpo),
        rpo_objective_seconds=policy.spec.objectives.rpo.total_seconds(),
        last_backup_phase=latest[0].phase if latest else None,
        schedule=schedule,
        location=location,
        drill=_drill(config, policy, store),
    )


def _drill(config: Config, policy: BackupPolicy, store: Store) -> DrillStatus | None:
    """The application's most recently finished drill (of any of its DrillPolicies), else its first policy."""
    found: list[DrillStatus] = []
    for drill in sorted(config.drill_policies.values(), key=lambda d: d.name):
        if drill.spec.backup_policy != policy.metadata.name:
            continue
        runs = [r for r in store.list_runs(kind="drill", subject=drill.name, limit=20) if r.details.get("evidence")]
        evidence = runs[0].details["evidence"] if runs else {}
        found.append(
            DrillStatus(
                policy=drill.name,
                result=evidence.get("result"),
                finished=runs[0].finished_at if runs else None,
                rto_seconds=(evidence.get("measurements") or {}).get("rtoSeconds"),
                rto_objective_seconds=drill.spec.objectives.rto.total_seconds(),
            )
        )
    if not found:
        return None
    return max(found, key=lambda d: (d.finished is not None, d.finished or datetime.min.replace(tzinfo=UTC)))


def _live(connections: Connections, policy: BackupPolicy, cluster: Any) -> tuple[str, str]:
    namespace = cluster.spec.velero_namespace
    try:
        kube = connections.get(cluster)
        found = kube.find(VELERO_SCHEDULES, render.schedule_name(policy.metadata.name), namespace=namespace)
        schedule = "missing" if found is None else str((found.get("status") or {}).get("phase") or "New")
        if found is not None and (found.get("spec") or {}).get("paused"):
            schedule = "Paused"
        bsl = velero.storage_location_status(kube, policy.spec.storage_location, namespace=namespace)
        location = (
            "missing" if not bsl.exists else f"{bsl.phase or 'Unknown'}" + (" (ReadOnly)" if bsl.read_only else "")
        )
    except KubeError as exc:
        return "unreachable", f"unreachable: {exc}"[:80]
    return schedule, location


def _human(seconds: float) -> str:
    from datetime import timedelta

    return format_duration(timedelta(seconds=int(seconds))) if seconds >= 1 else "0s"
