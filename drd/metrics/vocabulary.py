"""The bounded label values and bucket layouts of drd's metrics.

Every label value a metric can carry is either a configured name (a policy, a
cluster, a storage location, a config file) or one of the closed sets below,
so the number of series is bounded by the configuration. Pre-initialisation
iterates these sets: a series exists at 0 from start-up, so ``increase()`` and
``== 0`` alerts work before the first event.
"""

from __future__ import annotations

from enum import StrEnum

from drd.outcomes import Phase

NAMESPACE = "drd"
"""Every metric is ``drd_…``."""

BACKUP_PHASES: tuple[Phase, ...] = (Phase.COMPLETED, Phase.PARTIALLY_FAILED, Phase.FAILED, Phase.FAILED_VALIDATION)
"""The terminal phases of a Velero Backup: the ``phase`` label of ``drd_backup_runs_total``."""

DRILL_RESULTS: tuple[str, ...] = ("passed", "failed", "error")
"""``result`` of a drill: checks passed; a check failed; the drill could not run to the end."""

DRILL_PHASES: tuple[str, ...] = ("restore", "verify", "teardown")
"""``phase`` of ``drd_drill_phase_duration_seconds``."""


class Objective(StrEnum):
    """The ``objective`` label of ``drd_objective_met``."""

    RPO = "rpo"
    """The newest restorable backup is younger than the RPO objective (computed at scrape)."""
    RTO = "rto"
    """The last drill restored and verified within the RTO objective."""
    DRILL_FRESHNESS = "drill_freshness"
    """Recovery was proven recently enough (a drill passed within its expected interval)."""


class OutcomeKind(StrEnum):
    """The ``Outcome.kind`` values :meth:`drd.metrics.recorder.Metrics.record` understands."""

    BACKUP = "backup"
    """A Velero Backup reached a terminal phase; ``subject`` is the policy, ``details["cluster"]`` its cluster."""
    SCHEDULE = "schedule"
    """A policy's Velero Schedule was reconciled; ``details["drift"]`` is true when drift was corrected."""
    RETENTION = "retention"
    """A retention pass ran for a policy; ``details["pruned"]`` counts the DeleteBackupRequests it made."""
    RUNBOOK = "runbook"
    """A runbook run ended; ``subject`` is the runbook."""


RUN_RESULTS: dict[Phase, str] = {
    Phase.COMPLETED: "succeeded",
    Phase.PARTIALLY_FAILED: "partially_failed",
    Phase.FAILED: "failed",
    Phase.FAILED_VALIDATION: "failed",
    Phase.SKIPPED: "skipped",
}
"""The ``result`` label of run counters (runbooks, restores, rotations) for a terminal phase."""


FAILED_PHASES: frozenset[Phase] = frozenset({Phase.PARTIALLY_FAILED, Phase.FAILED, Phase.FAILED_VALIDATION})
"""Phases that count as a failure of drd's own per-policy tasks (schedule reconcile, retention pass)."""


BACKUP_DURATION_BUCKETS: tuple[float, ...] = (1, 10, 60, 300, 900, 1800, 3600, 7200, 14400)
"""1 s … 4 h: Velero's own range (60 s … 4 h) plus the seconds a small namespace takes.

Nine buckets, not more: with 500 policies every bucket is 500 more lines in every scrape."""

STEP_DURATION_BUCKETS: tuple[float, ...] = (0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600)
"""100 ms … 1 h: runbook steps range from an API call to waiting for a rollout."""

UPGRADE_PHASES: tuple[str, ...] = (
    "pending",
    "preflight",
    "backup",
    "control_plane",
    "verify",
    "addons",
    "node_groups",
    "post_verify",
    "canary_drill",
    "soak",
    "done",
    "halted",
    "skipped",
)
"""The ``phase`` label of ``drd_upgrade_cluster_phase``: where one cluster of an upgrade is (the same list as
:data:`drd.upgrades.progress.PHASES`, which the metrics layer may not import; a test keeps them equal)."""

ROTATION_RESULTS: tuple[str, ...] = ("succeeded", "rolled_back", "failed")
"""The ``result`` label of ``drd_secret_rotation_runs_total``: promoted; failed before promotion with the old
credential put back; failed otherwise (paused after promotion, or a rollback that could not finish)."""
