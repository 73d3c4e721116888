""":class:`Metrics`: the one object the daemon records into, and the rules that keep the series honest.

Rules, each for a reason an operator would give:

* **The configuration decides which series exist.** :meth:`Metrics.set_policies`
  creates every known label set at 0 (so ``increase()`` and ``== 0`` work from
  start-up) and removes the series of policies that disappeared on a reload. A
  backup of a policy (or a policy/cluster pair) that is not loaded is not
  recorded, so a removed policy cannot come back as a stale series.
* **A terminal backup is counted once.** :meth:`Metrics.observe_backup` cannot
  tell a repeat from a new backup (backup names are never labels); the caller,
  which watches Backup objects and records them in the store, calls it exactly
  once per backup reaching a terminal phase.
* **Only Completed is success.** A PartiallyFailed backup is counted under its
  phase but never moves ``drd_backup_last_success_timestamp_seconds``; the last
  success only moves forward, so a late (catch-up) observation of an older
  backup never makes the newest success look older.
* **Timestamps are never pre-initialised.** A 0 timestamp would plot as 1970;
  "never" is expressed by the absence of the series and, for alerting, by
  ``drd_rpo_seconds = +Inf`` and ``drd_objective_met = 0``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry

from drd import __version__
from drd.clock import Clock, SystemClock
from drd.logs import get_logger
from drd.metrics.instruments import Instruments
from drd.metrics.objectives import ObjectivesCollector, RpoProvider
from drd.metrics.vocabulary import (
    BACKUP_PHASES,
    DRILL_PHASES,
    DRILL_RESULTS,
    FAILED_PHASES,
    ROTATION_RESULTS,
    RUN_RESULTS,
    UPGRADE_PHASES,
    Objective,
    OutcomeKind,
)
from drd.outcomes import Outcome, Phase
from drd.policy.models.backup import BackupPolicy
from drd.policy.models.drill import DrillPolicy

log = get_logger(__name__)

REPO_CREDENTIALS_STATES: tuple[str, ...] = ("match", "drift", "seeded", "default-password", "unreachable", "missing")
"""The ``state`` label of ``drd_velero_repo_credentials_state``: the values of
:class:`drd.operations.repo_escrow.CredentialState`, which the metrics layer may not import
(a test keeps them equal)."""

_PUSHED_OBJECTIVES = (Objective.RTO, Objective.DRILL_FRESHNESS)


class Metrics:
    """drd's Prometheus metrics on an injected registry (a fresh ``CollectorRegistry`` per test).

    ``rpo_provider`` feeds ``drd_rpo_seconds`` at scrape time (see
    :mod:`drd.metrics.objectives`); it may also be given later with
    :meth:`set_rpo_provider`. ``clock`` is what "now" means for the RPO and for
    the config-reload timestamp. Every method is thread-safe.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        rpo_provider: RpoProvider | None = None,
        clock: Clock | None = None,
        version: str = __version__,
    ) -> None:
        self.registry = registry
        self.clock: Clock = clock or SystemClock()
        self.instruments = Instruments(registry)
        """Every registered instrument; workflows without a method here yet (restore, upgrade…) use these."""
        self.objectives = ObjectivesCollector(
            provider=rpo_provider, clock=self.clock, provider_errors=self.instruments.rpo_provider_errors_total
        )
        registry.register(self.objectives)
        self.instruments.build_info.labels(version).set(1)
        self._lock = threading.RLock()
        self._backups: frozenset[tuple[str, str]] = frozenset()
        self._backup_policies: frozenset[str] = frozenset()
        self._drills: dict[str, tuple[str, float]] = {}
        self._last_success: dict[tuple[str, str], datetime] = {}

    # Configuration
    def set_rpo_provider(self, provider: RpoProvider | None) -> None:
        """Set (or replace) what ``drd_rpo_seconds`` is computed from at scrape."""
        self.objectives.set_provider(provider)

    def set_policies(self, backup_policies: Iterable[BackupPolicy], drill_policies: Iterable[DrillPolicy]) -> None:
        """Adopt the loaded policies: set objectives, create their series at 0, drop the series of removed ones.

        Call at start-up and after every successful reload. Existing values
        (counters, last success) of policies that remain are kept.
        """
        backups = {(policy.name, policy.spec.cluster): policy for policy in backup_policies}
        drills = {policy.name: policy for policy in drill_policies}
        with self._lock:
            self._backups = frozenset(backups)
            self._backup_policies = frozenset(name for name, _ in backups)
            self._drills = {
                name: (policy.spec.target, policy.spec.objectives.rto.total_seconds())
                for name, policy in drills.items()
            }
            self._last_success = {key: value for key, value in self._last_success.items() if key in self._backups}
            removed = self._drop_removed()
            for (name, cluster), backup_policy in backups.items():
                self._touch_backup_policy(name, cluster, backup_policy.spec.objectives.rpo.total_seconds())
            for name, (target, rto_seconds) in self._drills.items():
                self._touch_drill_policy(name, target, rto_seconds)
        log.info(
            "metrics_policies_set", backup_policies=len(backups), drill_policies=len(drills), removed_series=removed
        )

    def set_clusters(self, clusters: Iterable[str]) -> None:
        """Adopt the inventory: drop reachability and storage-location series of clusters that left it."""
        names = frozenset(clusters)
        i = self.instruments
        i.cluster_reachable.retain(lambda v: v[0] in names)
        i.backup_storage_location_available.retain(lambda v: v[0] in names)
        i.velero_repo_credentials_state.retain(lambda v: v[0] in names)

    def set_config_errors(self, errors_by_file: Mapping[str, int]) -> None:
        """Report the problems of the last configuration load, per file; files not listed (or at 0) are fixed.

        Also sets ``drd_config_last_reload_successful`` and, when there is no
        problem, ``drd_config_last_reload_success_timestamp_seconds``.
        """
        failing = {file: count for file, count in errors_by_file.items() if count > 0}
        i = self.instruments
        with self._lock:
            i.config_errors.retain(lambda v: v[0] in failing)
            for file, count in failing.items():
                i.config_errors.labels(file).set(count)
            i.config_last_reload_successful.set(0 if failing else 1)
            if not failing:
                i.config_last_reload_success_timestamp_seconds.set(self.clock.now().timestamp())

    # The daemon's state
    def set_leader(self, is_leader: bool) -> None:
        """``drd_leader``: 1 while this replica holds the Lease."""
        self.instruments.leader.set(1 if is_leader else 0)

    def set_upgrade_phases(self, plan: str, phases: Mapping[str, str]) -> None:
        """``drd_upgrade_cluster_phase{plan,cluster,phase}``: 1 for each cluster's phase, 0 for its other phases.

        Clusters no longer in ``phases`` (a plan removed or changed) lose their series.
        """
        gauge = self.instruments.upgrade_cluster_phase
        gauge.retain(lambda labels: labels[0] != plan or labels[1] in phases)
        for cluster, current in phases.items():
            for phase in UPGRADE_PHASES:
                gauge.labels(plan, cluster, phase).set(1 if phase == current else 0)

    def set_repo_credentials_states(self, states: Mapping[str, str]) -> None:
        """``drd_velero_repo_credentials_state{cluster,state}``: 1 for each cluster's state, 0 for its other states.

        Clusters not in ``states`` lose their series; an unknown state is refused.
        """
        unknown = sorted({state for state in states.values() if state not in REPO_CREDENTIALS_STATES})
        if unknown:
            raise ValueError(f"unknown repo-credentials state(s) {unknown}: use {', '.join(REPO_CREDENTIALS_STATES)}")
        gauge = self.instruments.velero_repo_credentials_state
        with self._lock:
            gauge.retain(lambda labels: labels[0] in states)
            for cluster, current in states.items():
                for state in REPO_CREDENTIALS_STATES:
                    gauge.labels(cluster, state).set(1 if state == current else 0)

    def set_cluster_reachable(self, cluster: str, reachable: bool) -> None:
        """``drd_cluster_reachable{cluster}``."""
        self.instruments.cluster_reachable.labels(cluster).set(1 if reachable else 0)

    def set_location_available(self, cluster: str, location: str, available: bool) -> None:
        """``drd_backup_storage_location_available{cluster,location}`` (a missing location is unavailable)."""
        self.instruments.backup_storage_location_available.labels(cluster, location).set(1 if available else 0)

    # Backups
    def observe_backup(
        self,
        *,
        policy: str,
        cluster: str,
        phase: Phase | str,
        started: datetime | None,
        completed: datetime | None,
    ) -> None:
        """Record one Backup that reached a terminal phase. The caller guarantees it calls once per backup.

        Counts it under its phase, observes its duration when both timestamps
        are known (never for FailedValidation: it never ran), and moves the
        last success forward for Completed only. Non-terminal phases and
        unloaded policies are logged and ignored.
        """
        phase = Phase(phase)
        if phase not in BACKUP_PHASES:
            log.warning("metrics_backup_phase_ignored", policy=policy, cluster=cluster, phase=phase.value)
            return
        i = self.instruments
        with self._lock:
            if (policy, cluster) not in self._backups:
                log.info("metrics_backup_of_unknown_policy", policy=policy, cluster=cluster, phase=phase.value)
                return
            i.backup_runs_total.labels(policy, cluster, phase.value).inc()
            if started is not None and completed is not None and phase is not Phase.FAILED_VALIDATION:
                seconds = max(0.0, (completed - started).total_seconds())
                i.backup_duration_seconds.labels(policy, cluster).observe(seconds)
            if phase is Phase.COMPLETED and completed is not None:
                self._advance_last_success(policy, cluster, completed)

    def set_backup_last_success(self, *, policy: str, cluster: str, completed: datetime) -> None:
        """Seed the last success from the store at start-up (it only ever moves forward)."""
        with self._lock:
            if (policy, cluster) in self._backups:
                self._advance_last_success(policy, cluster, completed)

    def set_backups_in_progress(self, policy: str, count: int) -> None:
        """``drd_backup_in_progress{policy}``: backups of the policy Velero is running now."""
        with self._lock:
            if policy in self._backup_policies:
                self.instruments.backup_in_progress.labels(policy).set(count)

    # Rotations
    def observe_rotation(self, rotation: str, *, result: str, finished: datetime) -> None:
        """``drd_secret_rotation_runs_total{rotation,result}``: one finished rotation.

        ``result`` is ``succeeded``, ``rolled_back`` or ``failed``; every result's series exists from the first.
        """
        counter = self.instruments.secret_rotation_runs_total
        counter.touch((rotation, known) for known in ROTATION_RESULTS)
        counter.labels(rotation, result).inc()

    def set_secret_age(self, rotation: str, seconds: float | None) -> None:
        """``drd_secret_age_seconds{rotation}``: since the last successful rotation (no series before the first)."""
        gauge = self.instruments.secret_age_seconds
        if seconds is None:
            gauge.retain(lambda v: v[0] != rotation)
            return
        gauge.labels(rotation).set(max(0.0, seconds))

    def set_rotations(self, names: Iterable[str]) -> None:
        """Adopt the configured RotationPolicies: series of removed ones are dropped."""
        known = frozenset(names)
        self.instruments.secret_age_seconds.retain(lambda v: v[0] in known)
        self.instruments.secret_rotation_runs_total.retain(lambda v: v[0] in known)

    # Drills
    def observe_drill(
        self,
        *,
        policy: str,
        result: str,
        finished: datetime,
        rto_seconds: float | None = None,
        restored_backup_age_seconds: float | None = None,
        phase_seconds: Mapping[str, float] | None = None,
    ) -> None:
        """Record one finished drill of a loaded drill policy (once per drill, like backups).

        ``result`` is ``passed``, ``failed`` or ``error``. The ``rto`` objective
        is met only by a passed drill within the policy's RTO.
        """
        if result not in DRILL_RESULTS:
            raise ValueError(f"drill result {result!r} is not one of {', '.join(DRILL_RESULTS)}")
        i = self.instruments
        with self._lock:
            if policy not in self._drills:
                log.info("metrics_drill_of_unknown_policy", policy=policy, result=result)
                return
            target, objective = self._drills[policy]
            i.drill_runs_total.labels(policy, target, result).inc()
            if result == "passed":
                i.drill_last_success_timestamp_seconds.labels(policy).set(finished.timestamp())
            if rto_seconds is not None:
                i.drill_rto_seconds.labels(policy).set(rto_seconds)
            if restored_backup_age_seconds is not None:
                i.drill_restored_backup_age_seconds.labels(policy).set(restored_backup_age_seconds)
            for phase, seconds in (phase_seconds or {}).items():
                if phase in DRILL_PHASES:
                    i.drill_phase_duration_seconds.labels(policy, phase).observe(seconds)
            met = result == "passed" and rto_seconds is not None and rto_seconds <= objective
            self.objectives.set_met(policy, Objective.RTO, met)

    def restore_drill_state(
        self,
        policy: str,
        *,
        last_success: datetime | None,
        rto_seconds: float | None,
        restored_backup_age_seconds: float | None,
        rto_met: bool,
    ) -> None:
        """Set a drill policy's gauges from the store (after a restart or a leader change); counts nothing."""
        i = self.instruments
        with self._lock:
            if policy not in self._drills:
                return
            if last_success is not None:
                i.drill_last_success_timestamp_seconds.labels(policy).set(last_success.timestamp())
            if rto_seconds is not None:
                i.drill_rto_seconds.labels(policy).set(rto_seconds)
            if restored_backup_age_seconds is not None:
                i.drill_restored_backup_age_seconds.labels(policy).set(restored_backup_age_seconds)
            self.objectives.set_met(policy, Objective.RTO, rto_met)

    def set_objective_met(self, policy: str, objective: Objective | str, met: bool) -> None:
        """Set ``drd_objective_met`` for a drill objective (``rto``, ``drill_freshness``) of a loaded drill policy.

        ``rpo`` is refused: it is computed at scrape time from the RPO provider.
        """
        objective = Objective(objective)
        with self._lock:
            if objective is not Objective.RPO and policy not in self._drills:
                log.info("metrics_objective_of_unknown_policy", policy=policy, objective=objective.value)
                return
            self.objectives.set_met(policy, objective, met)

    # Outcomes
    def record(self, outcome: Outcome) -> None:
        """Record a workflow's Outcome by ``outcome.kind``; kinds not known yet are logged and ignored.

        ``backup``: ``subject`` is the policy, ``details["cluster"]`` its
        cluster, ``started``/``finished`` Velero's start and completion times.
        ``schedule``: a Schedule reconcile; ``details["drift"]`` true when drift
        was corrected. ``retention``: a retention pass; ``details["pruned"]``
        the number of backups it pruned. For both, a PartiallyFailed, Failed or
        FailedValidation phase counts as a failure.
        """
        if not outcome.phase.terminal:
            log.debug("metrics_outcome_not_terminal", kind=outcome.kind, subject=outcome.subject)
            return
        if outcome.kind == OutcomeKind.BACKUP:
            cluster = outcome.details.get("cluster")
            if not isinstance(cluster, str):
                log.warning("metrics_backup_outcome_without_cluster", subject=outcome.subject)
                return
            self.observe_backup(
                policy=outcome.subject,
                cluster=cluster,
                phase=outcome.phase,
                started=outcome.started,
                completed=outcome.finished,
            )
        elif outcome.kind == OutcomeKind.SCHEDULE:
            self._record_schedule(outcome)
        elif outcome.kind == OutcomeKind.RETENTION:
            self._record_retention(outcome)
        elif outcome.kind == OutcomeKind.RUNBOOK:
            self.instruments.runbook_runs_total.labels(outcome.subject, RUN_RESULTS[outcome.phase]).inc()
        else:
            log.debug("metrics_outcome_kind_not_recorded", kind=outcome.kind, subject=outcome.subject)

    def observe_runbook_step(self, runbook: str, step_type: str, seconds: float) -> None:
        """One runbook step took ``seconds`` (the action only, not the engine's bookkeeping)."""
        self.instruments.runbook_step_duration_seconds.labels(runbook, step_type).observe(seconds)

    # Internals
    def _record_schedule(self, outcome: Outcome) -> None:
        i = self.instruments
        with self._lock:
            if outcome.subject not in self._backup_policies:
                log.info("metrics_schedule_of_unknown_policy", policy=outcome.subject)
                return
            if outcome.phase in FAILED_PHASES:
                i.schedule_reconcile_failures_total.labels(outcome.subject).inc()
            if outcome.details.get("drift"):
                i.schedule_drift_total.labels(outcome.subject).inc()

    def _record_retention(self, outcome: Outcome) -> None:
        i = self.instruments
        pruned = outcome.details.get("pruned", 0)
        with self._lock:
            if outcome.subject not in self._backup_policies:
                log.info("metrics_retention_of_unknown_policy", policy=outcome.subject)
                return
            if outcome.phase in FAILED_PHASES:
                i.retention_failures_total.labels(outcome.subject).inc()
            if isinstance(pruned, int) and not isinstance(pruned, bool) and pruned > 0:
                i.retention_pruned_backups_total.labels(outcome.subject).inc(pruned)

    def _advance_last_success(self, policy: str, cluster: str, completed: datetime) -> None:
        key = (policy, cluster)
        previous = self._last_success.get(key)
        if previous is None or completed > previous:
            self._last_success[key] = completed
            self.instruments.backup_last_success_timestamp_seconds.labels(policy, cluster).set(completed.timestamp())

    def _drop_removed(self) -> int:
        i = self.instruments
        backups, names, drills = self._backups, self._backup_policies, self._drills
        drill_targets = {(name, target) for name, (target, _) in drills.items()}
        removed = 0
        for pair in (i.backup_runs_total, i.backup_last_success_timestamp_seconds):
            removed += pair.retain(lambda v: (v[0], v[1]) in backups)
        removed += i.backup_duration_seconds.retain(lambda v: (v[0], v[1]) in backups)
        for per_policy in (
            i.rpo_objective_seconds,
            i.backup_in_progress,
            i.schedule_drift_total,
            i.schedule_reconcile_failures_total,
            i.retention_pruned_backups_total,
            i.retention_failures_total,
        ):
            removed += per_policy.retain(lambda v: v[0] in names)
        removed += i.drill_runs_total.retain(lambda v: (v[0], v[1]) in drill_targets)
        removed += i.drill_phase_duration_seconds.retain(lambda v: v[0] in drills)
        for per_drill in (
            i.rto_objective_seconds,
            i.drill_last_success_timestamp_seconds,
            i.drill_rto_seconds,
            i.drill_restored_backup_age_seconds,
        ):
            removed += per_drill.retain(lambda v: v[0] in drills)
        removed += self.objectives.pushed.retain(lambda v: v[0] in drills)
        return removed

    def _touch_backup_policy(self, name: str, cluster: str, rpo_seconds: float) -> None:
        i = self.instruments
        i.rpo_objective_seconds.labels(name).set(rpo_seconds)
        i.backup_runs_total.touch((name, cluster, phase.value) for phase in BACKUP_PHASES)
        i.backup_duration_seconds.touch([(name, cluster)])
        i.backup_in_progress.touch([(name,)])
        for per_policy in (
            i.schedule_drift_total,
            i.schedule_reconcile_failures_total,
            i.retention_pruned_backups_total,
            i.retention_failures_total,
        ):
            per_policy.touch([(name,)])

    def _touch_drill_policy(self, name: str, target: str, rto_seconds: float) -> None:
        i = self.instruments
        i.rto_objective_seconds.labels(name).set(rto_seconds)
        i.drill_runs_total.touch((name, target, result) for result in DRILL_RESULTS)
        i.drill_phase_duration_seconds.touch((name, phase) for phase in DRILL_PHASES)
        self.objectives.pushed.touch((name, objective.value) for objective in _PUSHED_OBJECTIVES)
