"""Every instrument drd exports, created on an injected registry with the contract's names and labels.

The names, types and labels of the metrics contract (``design.md``) are what
dashboards and alert rules rely on: they are spelled out here once, each with
its help text, and pinned by ``tests/metrics/test_contract.py``. They are
prometheus-client's instruments as subclassed by :mod:`drd.metrics.families`,
which render their own exposition lines for the fast ``/metrics`` encoder. Instruments
that carry a policy or a cluster are :class:`~drd.metrics.series.Tracked`, so a
reload can drop the series of what was removed from the configuration.

``drd_rpo_seconds`` and ``drd_objective_met`` are not here: they are computed
at scrape time by :class:`drd.metrics.objectives.ObjectivesCollector`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from drd.metrics.families import Counter, Gauge, Histogram
from drd.metrics.series import Tracked
from drd.metrics.vocabulary import BACKUP_DURATION_BUCKETS, NAMESPACE, STEP_DURATION_BUCKETS


class Instruments:
    """The registered instruments, as attributes named after their metric (without ``drd_``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, labels: list[str]) -> Tracked[Counter]:
            return Tracked(Counter(name, doc, labels, namespace=NAMESPACE, registry=registry))

        def gauge(name: str, doc: str, labels: list[str]) -> Tracked[Gauge]:
            return Tracked(Gauge(name, doc, labels, namespace=NAMESPACE, registry=registry))

        def histogram(name: str, doc: str, labels: list[str], buckets: tuple[float, ...]) -> Tracked[Histogram]:
            return Tracked(Histogram(name, doc, labels, namespace=NAMESPACE, registry=registry, buckets=buckets))

        # Backups (contract)
        self.backup_runs_total = counter(
            "backup_runs_total",
            "Velero backups of a policy that reached a terminal phase.",
            ["policy", "cluster", "phase"],
        )
        self.backup_last_success_timestamp_seconds = gauge(
            "backup_last_success_timestamp_seconds",
            "Completion time of the newest Completed backup of a policy (PartiallyFailed never counts).",
            ["policy", "cluster"],
        )
        self.backup_duration_seconds = histogram(
            "backup_duration_seconds",
            "Velero backup duration, startTimestamp to completionTimestamp.",
            ["policy", "cluster"],
            BACKUP_DURATION_BUCKETS,
        )
        self.rpo_objective_seconds = gauge("rpo_objective_seconds", "The RPO objective of a backup policy.", ["policy"])
        self.rto_objective_seconds = gauge("rto_objective_seconds", "The RTO objective of a drill policy.", ["policy"])

        # Backups (drd's additions)
        self.backup_in_progress = gauge(
            "backup_in_progress", "Backups of a policy that Velero is running now.", ["policy"]
        )
        self.schedule_drift_total = counter(
            "schedule_drift_total",
            "Times a policy's Velero Schedule was found changed or missing and corrected.",
            ["policy"],
        )
        self.schedule_reconcile_failures_total = counter(
            "schedule_reconcile_failures_total",
            "Reconciles of a policy's Velero Schedule that failed (backups may have stopped).",
            ["policy"],
        )
        self.retention_pruned_backups_total = counter(
            "retention_pruned_backups_total", "Backups pruned by retention (DeleteBackupRequests made).", ["policy"]
        )
        self.retention_failures_total = counter(
            "retention_failures_total", "Retention passes of a policy that failed (old backups pile up).", ["policy"]
        )
        self.backup_storage_location_available = gauge(
            "backup_storage_location_available",
            "1 while a Velero BackupStorageLocation is Available, 0 while Unavailable or missing.",
            ["cluster", "location"],
        )

        # Drills (contract)
        self.drill_runs_total = counter(
            "drill_runs_total", "Restore drills by result.", ["policy", "target_cluster", "result"]
        )
        self.drill_last_success_timestamp_seconds = gauge(
            "drill_last_success_timestamp_seconds", "When a drill of a policy last passed.", ["policy"]
        )
        self.drill_rto_seconds = gauge(
            "drill_rto_seconds", "Achieved RTO of the last drill: restore start to verified application.", ["policy"]
        )
        self.drill_phase_duration_seconds = histogram(
            "drill_phase_duration_seconds",
            "Duration of the phases of a drill.",
            ["policy", "phase"],
            BACKUP_DURATION_BUCKETS,
        )
        self.drill_restored_backup_age_seconds = gauge(
            "drill_restored_backup_age_seconds",
            "Age of the backup the last drill restored, when it started: the RPO that drill achieved.",
            ["policy"],
        )

        # Restores, upgrades, rotation, runbooks (contract; recorded by their workflows)
        self.restore_runs_total = counter("restore_runs_total", "Restores by result.", ["target_cluster", "result"])
        self.upgrade_cluster_phase = gauge(
            "upgrade_cluster_phase",
            "1 for the phase a cluster of an upgrade plan is in, 0 for the others.",
            ["plan", "cluster", "phase"],
        )
        self.secret_age_seconds = gauge("secret_age_seconds", "Age of the current version of a secret.", ["rotation"])
        self.secret_rotation_runs_total = counter(
            "secret_rotation_runs_total", "Secret rotations by result.", ["rotation", "result"]
        )
        self.runbook_runs_total = counter("runbook_runs_total", "Runbook runs by result.", ["runbook", "result"])
        self.runbook_step_duration_seconds = histogram(
            "runbook_step_duration_seconds",
            "Duration of runbook steps by step type.",
            ["runbook", "step_type"],
            STEP_DURATION_BUCKETS,
        )

        # The daemon
        self.config_errors = gauge(
            "config_errors", "Problems found in a configuration file at the last load.", ["file"]
        )
        self.config_last_reload_successful = Gauge(
            "config_last_reload_successful",
            "1 when the last configuration load had no errors (the daemon runs its last good configuration otherwise).",
            namespace=NAMESPACE,
            registry=registry,
        )
        self.config_last_reload_success_timestamp_seconds = Gauge(
            "config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded without errors.",
            namespace=NAMESPACE,
            registry=registry,
        )
        self.leader = Gauge(
            "leader", "1 while this replica holds the leader Lease and acts.", namespace=NAMESPACE, registry=registry
        )
        self.cluster_reachable = gauge(
            "cluster_reachable", "1 while the API server of an inventory cluster answers.", ["cluster"]
        )
        self.rpo_provider_errors_total = Counter(
            "rpo_provider_errors_total",
            "Scrapes at which the RPO could not be read from the store (the last values were served).",
            namespace=NAMESPACE,
            registry=registry,
        )
        self.velero_repo_credentials_state = gauge(
            "velero_repo_credentials_state",
            "1 for the state of a cluster's velero-repo-credentials against drd's escrow (match, drift, seeded, "
            "default-password, unreachable, missing), 0 for the other states.",
            ["cluster", "state"],
        )
        self.build_info = Gauge(
            "build_info", "Always 1; the version of drd.", ["version"], namespace=NAMESPACE, registry=registry
        )
