"""``BackupPolicy``: how one application is backed up, how long backups live, and the RPO they must meet.

Rules that need only this document are checked here, each at the field it is
about: the RPO must not be shorter than the longest gap between scheduled
backups (it would be breached before every backup), the TTL must outlast that
gap (or there are times with no backup at all), and a retention rule must keep
something. Rules that need other documents live in :mod:`drd.policy.validate`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from drd.policy.durations import PositiveDuration, format_duration
from drd.policy.locations import Loc
from drd.policy.models.base import Document, Model, Scheduled, raise_violations
from drd.policy.names import Name, NamespacePattern, ResourceName
from drd.policy.schedule import interval_hint
from drd.policy.selectors import LabelSelector

Count = Annotated[int, Field(ge=0, le=100_000)]


class Scope(Model):
    """What a backup contains, in Velero's filter vocabulary.

    Unlike a bare Velero Backup, an empty ``includedNamespaces`` selects no
    namespace unless ``labelSelector`` is set (then labelled objects in every
    namespace); write ``["*"]`` to back up every namespace.
    """

    included_namespaces: tuple[NamespacePattern, ...] = ()
    """Namespaces (or globs such as ``shop-*``) to back up; ``["*"]`` for all."""
    excluded_namespaces: tuple[NamespacePattern, ...] = ()
    """Namespaces (or globs) to leave out."""
    label_selector: LabelSelector | None = None
    """Only objects with these labels."""
    included_resources: tuple[ResourceName, ...] = ()
    """Resources to back up, e.g. ``deployments.apps``; empty means all."""
    excluded_resources: tuple[ResourceName, ...] = ()
    """Resources to leave out."""
    include_cluster_resources: bool | None = None
    """Cluster-scoped resources (CRDs, ClusterRoles, PVs): true, false, or unset for Velero's automatic choice."""

    @property
    def selects_nothing(self) -> bool:
        """Whether a backup with this scope would be empty, whatever is in the cluster."""
        excluded = set(self.excluded_namespaces)
        namespaces = [namespace for namespace in self.included_namespaces if namespace not in excluded]
        no_namespaced = "*" in excluded or (
            not namespaces and (self.label_selector is None or bool(self.included_namespaces))
        )
        excluded_resources = set(self.excluded_resources)
        no_resources = "*" in excluded_resources or bool(
            self.included_resources and set(self.included_resources) <= excluded_resources
        )
        return no_resources or (no_namespaced and self.include_cluster_resources is not True)

    @property
    def restored_namespaces(self) -> tuple[str, ...] | None:
        """The namespaces a restore of this scope brings back, or None when globs or a selector leave it open."""
        if not self.included_namespaces or any(
            set(namespace) & set("*?[]{},") for namespace in self.included_namespaces
        ):
            return None
        return tuple(namespace for namespace in self.included_namespaces if namespace not in self.excluded_namespaces)


class Retention(Model):
    """How many backups drd keeps before ``ttl`` (a backup is kept while any rule keeps it; ``ttl`` always ends it)."""

    keep_last: Count | None = None
    """Keep the newest N backups."""
    daily: Count | None = None
    """Keep the newest backup of each of the last N days."""
    weekly: Count | None = None
    """Keep the newest backup of each of the last N weeks."""
    monthly: Count | None = None
    """Keep the newest backup of each of the last N months."""

    @property
    def rules(self) -> dict[str, int]:
        """The rules that are set, by YAML name."""
        values = {"keepLast": self.keep_last, "daily": self.daily, "weekly": self.weekly, "monthly": self.monthly}
        return {name: value for name, value in values.items() if value is not None}

    @property
    def span(self) -> timedelta:
        """How far back the calendar rules reach (months counted as 31 days)."""
        return max(
            timedelta(days=self.daily or 0), timedelta(weeks=self.weekly or 0), timedelta(days=31 * (self.monthly or 0))
        )


class Volumes(Model):
    """How the data in persistent volumes is backed up."""

    fs_backup: bool = False
    """Copy volume contents file by file into the backup storage (Velero ``defaultVolumesToFsBackup``)."""
    snapshot_volumes: bool = False
    """Take volume snapshots (they stay in the source region unless ``snapshotMoveData``)."""
    snapshot_move_data: bool = False
    """Copy CSI snapshot data into the backup storage, so it can be restored in another region."""

    @model_validator(mode="after")
    def _move_needs_snapshots(self) -> Volumes:
        if self.snapshot_move_data and not self.snapshot_volumes:
            raise_violations(
                self, [(("snapshotMoveData",), "needs snapshotVolumes: true (it moves snapshot data)", True)]
            )
        return self

    @property
    def region_bound(self) -> bool:
        """Volume data exists only as snapshots, which cannot be restored in another region."""
        return self.snapshot_volumes and not (self.fs_backup or self.snapshot_move_data)


class BackupObjectives(Model):
    """What the backups must achieve."""

    rpo: PositiveDuration
    """Recovery point objective: the newest restorable backup must never be older than this."""


class BackupPolicySpec(Scheduled):
    """How an application is backed up."""

    application: Name
    """The application protected; dashboards and ``drd status`` group by it."""
    cluster: Name
    """The inventory cluster the application runs in (the backup source)."""
    scope: Scope
    """What the backup contains."""
    objectives: BackupObjectives
    """The RPO the schedule must meet."""
    ttl: PositiveDuration = timedelta(days=30)
    """How long Velero keeps each backup (Velero's ``ttl``); default 30d."""
    retention: Retention = Retention()
    """Count-based pruning before ``ttl``; unset keeps every backup until its ttl."""
    storage_location: Name = "default"
    """The Velero BackupStorageLocation to write to."""
    volumes: Volumes = Volumes()
    """How volume data is backed up; default: not at all (stateless applications)."""
    count_partially_failed: bool = False
    """Whether a PartiallyFailed backup counts as restorable when measuring the RPO."""

    @model_validator(mode="after")
    def _fits_schedule(self) -> BackupPolicySpec:
        gap = interval_hint(self.schedule)
        violations: list[tuple[Loc, str, Any]] = []
        if self.objectives.rpo < gap:
            violations.append(
                (
                    ("objectives", "rpo"),
                    f"rpo {format_duration(self.objectives.rpo)} is shorter than the longest gap between scheduled "
                    f'backups ({format_duration(gap)} for "{self.schedule}"), so it would be breached before backups '
                    f"run; set rpo to at least {format_duration(gap)} or back up more often",
                    format_duration(self.objectives.rpo),
                )
            )
        if self.ttl <= gap:
            violations.append(
                (
                    ("ttl",),
                    f"ttl {format_duration(self.ttl)} does not outlast the longest gap between scheduled backups "
                    f"({format_duration(gap)}), so there would be times with no backup; "
                    f"set ttl above {format_duration(gap)}",
                    format_duration(self.ttl),
                )
            )
        if self.retention.rules and not any(self.retention.rules.values()):
            violations.append((("retention",), "every retention rule is 0, so no backup would be kept", None))
        raise_violations(self, violations)
        return self


class BackupPolicy(Document):
    """How an application is backed up and the RPO it must meet."""

    kind: Literal["BackupPolicy"]
    spec: BackupPolicySpec
