"""Metrics as the daemon drives it: policies, backups, outcomes, configuration and cluster state.

Aspects: pre-initialised label sets at 0; series of removed policies dropped on
reload while the others keep their values; a terminal backup counted under its
phase with its duration; only Completed moves the last success, and only
forward; unknown policies and non-terminal phases ignored; ``record`` dispatch
by outcome kind; config errors set and cleared; leader, reachability and
storage locations; drill observations and the objectives they own.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from drd.metrics import Metrics
from drd.outcomes import Outcome, Phase
from tests.store.support import T0

from .support import backup_policy, drill_policy, label_sets, samples, value

HOUR = timedelta(hours=1)


def _labels(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def _completed(metrics: Metrics, *, policy: str = "shop", at=T0, took: timedelta = timedelta(minutes=3)) -> None:
    metrics.observe_backup(
        policy=policy, cluster="primary-east", phase=Phase.COMPLETED, started=at - took, completed=at
    )


def test_set_policies_creates_every_known_label_set_at_zero(registry, metrics):
    """From start-up, runs by phase, drills by result and drill objectives exist at 0; objectives are set."""
    metrics.set_policies([backup_policy(rpo="2h")], [drill_policy(rto="30m")])

    runs = samples(registry, "drd_backup_runs_total")
    assert {
        _labels(policy="shop", cluster="primary-east", phase=phase): 0.0
        for phase in ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
    } == runs
    assert {
        _labels(policy="shop-nightly", target_cluster="dr-west", result=result): 0.0
        for result in ("passed", "failed", "error")
    } == samples(registry, "drd_drill_runs_total")
    assert value(registry, "drd_backup_duration_seconds_count", policy="shop", cluster="primary-east") == 0.0
    assert value(registry, "drd_rpo_objective_seconds", policy="shop") == 7200.0
    assert value(registry, "drd_rto_objective_seconds", policy="shop-nightly") == 1800.0
    assert value(registry, "drd_objective_met", policy="shop-nightly", objective="rto") == 0.0
    assert value(registry, "drd_objective_met", policy="shop-nightly", objective="drill_freshness") == 0.0
    assert value(registry, "drd_schedule_drift_total", policy="shop") == 0.0
    assert value(registry, "drd_schedule_reconcile_failures_total", policy="shop") == 0.0
    assert value(registry, "drd_retention_failures_total", policy="shop") == 0.0
    assert value(registry, "drd_backup_in_progress", policy="shop") == 0.0


def test_timestamps_are_not_pre_initialised(registry, metrics):
    """A last-success timestamp of 0 would plot as 1970: before the first success the series is absent."""
    metrics.set_policies([backup_policy()], [drill_policy()])
    assert set() == label_sets(registry, "drd_backup_last_success_timestamp_seconds")
    assert set() == label_sets(registry, "drd_drill_last_success_timestamp_seconds")


def test_completed_backup_is_counted_timed_and_sets_last_success(registry, metrics):
    """A Completed backup counts once under Completed, lands in the duration histogram and is the last success."""
    metrics.set_policies([backup_policy()], [])
    _completed(metrics, took=timedelta(minutes=3))

    assert value(registry, "drd_backup_runs_total", policy="shop", cluster="primary-east", phase="Completed") == 1.0
    assert value(registry, "drd_backup_duration_seconds_count", policy="shop", cluster="primary-east") == 1.0
    assert value(registry, "drd_backup_duration_seconds_sum", policy="shop", cluster="primary-east") == 180.0
    assert (
        value(registry, "drd_backup_duration_seconds_bucket", policy="shop", cluster="primary-east", le="300.0") == 1.0
    )
    assert (
        value(registry, "drd_backup_duration_seconds_bucket", policy="shop", cluster="primary-east", le="60.0") == 0.0
    )
    assert T0.timestamp() == value(
        registry, "drd_backup_last_success_timestamp_seconds", policy="shop", cluster="primary-east"
    )


def test_backup_duration_buckets_reach_four_hours(registry, metrics):
    """Buckets run from 1 s to 4 h, like Velero's own plus the seconds small namespaces take."""
    metrics.set_policies([backup_policy()], [])
    buckets = {dict(labels)["le"] for labels in label_sets(registry, "drd_backup_duration_seconds_bucket")}
    assert {"1.0", "14400.0", "+Inf"} <= buckets


@pytest.mark.parametrize("phase", [Phase.PARTIALLY_FAILED, Phase.FAILED, Phase.FAILED_VALIDATION])
def test_a_backup_that_is_not_completed_never_counts_as_success(registry, metrics, phase):
    """PartiallyFailed (and worse) is counted under its phase and never moves the last success."""
    metrics.set_policies([backup_policy()], [])
    _completed(metrics, at=T0)
    metrics.observe_backup(
        policy="shop", cluster="primary-east", phase=phase, started=T0 + HOUR, completed=T0 + 2 * HOUR
    )

    assert value(registry, "drd_backup_runs_total", policy="shop", cluster="primary-east", phase=phase.value) == 1.0
    assert T0.timestamp() == value(
        registry, "drd_backup_last_success_timestamp_seconds", policy="shop", cluster="primary-east"
    )


def test_last_success_only_moves_forward(registry, metrics):
    """An older backup observed late (catch-up after a restart) does not make the newest success look older."""
    metrics.set_policies([backup_policy()], [])
    _completed(metrics, at=T0)
    _completed(metrics, at=T0 - HOUR)
    metrics.set_backup_last_success(policy="shop", cluster="primary-east", completed=T0 - 2 * HOUR)

    assert T0.timestamp() == value(
        registry, "drd_backup_last_success_timestamp_seconds", policy="shop", cluster="primary-east"
    )
    assert value(registry, "drd_backup_runs_total", policy="shop", cluster="primary-east", phase="Completed") == 2.0


def test_last_success_can_be_seeded_from_the_store(registry, metrics):
    """At start-up the daemon seeds the last success from its store, so it survives restarts."""
    metrics.set_policies([backup_policy()], [])
    metrics.set_backup_last_success(policy="shop", cluster="primary-east", completed=T0)
    assert T0.timestamp() == value(
        registry, "drd_backup_last_success_timestamp_seconds", policy="shop", cluster="primary-east"
    )


def test_failed_validation_is_counted_without_duration(registry, metrics):
    """A FailedValidation backup never ran: counted, not timed, even when dated by its creation."""
    metrics.set_policies([backup_policy()], [])
    metrics.observe_backup(
        policy="shop", cluster="primary-east", phase="FailedValidation", started=None, completed=None
    )
    metrics.record(Outcome("backup", "shop", Phase.FAILED_VALIDATION, T0, T0, {"cluster": "primary-east"}))
    assert (
        value(registry, "drd_backup_runs_total", policy="shop", cluster="primary-east", phase="FailedValidation") == 2.0
    )
    assert value(registry, "drd_backup_duration_seconds_count", policy="shop", cluster="primary-east") == 0.0


def test_non_terminal_phase_and_unknown_policy_are_ignored_with_a_log(registry, metrics):
    """An InProgress backup, or one of a policy that is not loaded, creates no series."""
    metrics.set_policies([backup_policy()], [])
    with capture_logs() as logs:
        metrics.observe_backup(
            policy="shop", cluster="primary-east", phase=Phase.IN_PROGRESS, started=T0, completed=None
        )
        metrics.observe_backup(policy="gone", cluster="primary-east", phase="Completed", started=T0, completed=T0)
        metrics.observe_backup(policy="shop", cluster="dr-west", phase="Completed", started=T0, completed=T0)

    assert [entry["event"] for entry in logs] == [
        "metrics_backup_phase_ignored",
        "metrics_backup_of_unknown_policy",
        "metrics_backup_of_unknown_policy",
    ]
    assert {("shop", "primary-east")} == {
        (dict(labels)["policy"], dict(labels)["cluster"]) for labels in label_sets(registry, "drd_backup_runs_total")
    }
    assert sum(samples(registry, "drd_backup_runs_total").values()) == 0.0


def test_reload_drops_series_of_removed_policies_and_keeps_the_others(registry, metrics):
    """After a reload, a removed policy (and a policy's old cluster) leaves no series; survivors keep counting."""
    metrics.set_policies([backup_policy("shop"), backup_policy("catalog")], [drill_policy("shop-nightly")])
    _completed(metrics, policy="shop")
    _completed(metrics, policy="catalog")
    metrics.observe_drill(policy="shop-nightly", result="passed", finished=T0, rto_seconds=60)

    metrics.set_policies([backup_policy("shop"), backup_policy("catalog", cluster="canary-east")], [])

    policies = {
        (dict(labels)["policy"], dict(labels)["cluster"]) for labels in label_sets(registry, "drd_backup_runs_total")
    }
    assert {("shop", "primary-east"), ("catalog", "canary-east")} == policies
    assert value(registry, "drd_backup_runs_total", policy="shop", cluster="primary-east", phase="Completed") == 1.0
    assert None is value(
        registry, "drd_backup_last_success_timestamp_seconds", policy="catalog", cluster="primary-east"
    )
    for name in (
        "drd_drill_runs_total",
        "drd_rto_objective_seconds",
        "drd_drill_last_success_timestamp_seconds",
        "drd_drill_rto_seconds",
        "drd_objective_met",
        "drd_drill_phase_duration_seconds_count",
    ):
        assert set() == label_sets(registry, name), name


def test_reload_keeps_drill_objective_values(registry, metrics):
    """Re-adopting the same policies does not reset a met objective to 0."""
    metrics.set_policies([], [drill_policy(rto="30m")])
    metrics.observe_drill(policy="shop-nightly", result="passed", finished=T0, rto_seconds=600)
    metrics.set_policies([], [drill_policy(rto="30m")])
    assert value(registry, "drd_objective_met", policy="shop-nightly", objective="rto") == 1.0


def test_record_dispatches_backup_outcomes(registry, metrics):
    """A backup Outcome is recorded like observe_backup, with its cluster from details."""
    metrics.set_policies([backup_policy()], [])
    outcome = Outcome(
        "backup", "shop", Phase.PARTIALLY_FAILED, T0 - HOUR, T0, {"cluster": "primary-east", "backup": "shop-1"}
    )
    metrics.record(outcome)
    assert (
        value(registry, "drd_backup_runs_total", policy="shop", cluster="primary-east", phase="PartiallyFailed") == 1.0
    )
    assert None is value(registry, "drd_backup_last_success_timestamp_seconds", policy="shop", cluster="primary-east")


def test_record_counts_schedule_drift_and_failed_reconciles(registry, metrics):
    """A schedule Outcome counts corrected drift and failed reconciles."""
    metrics.set_policies([backup_policy()], [])
    metrics.record(Outcome("schedule", "shop", Phase.COMPLETED, T0, T0, {"drift": True}))
    metrics.record(Outcome("schedule", "shop", Phase.COMPLETED, T0, T0, {"drift": False}))
    metrics.record(Outcome("schedule", "shop", Phase.FAILED, T0, T0, {}))
    assert value(registry, "drd_schedule_reconcile_failures_total", policy="shop") == 1.0
    assert value(registry, "drd_schedule_drift_total", policy="shop") == 1.0


def test_record_counts_pruned_backups_and_failed_retention_passes(registry, metrics):
    """A retention Outcome counts the backups it pruned, and itself when it failed."""
    metrics.set_policies([backup_policy()], [])
    metrics.record(Outcome("retention", "shop", Phase.COMPLETED, T0, T0, {"pruned": 3}))
    metrics.record(Outcome("retention", "shop", Phase.PARTIALLY_FAILED, T0, T0, {"pruned": 1}))
    metrics.record(Outcome("retention", "shop", Phase.COMPLETED, T0, T0, {"pruned": 0}))
    assert value(registry, "drd_retention_pruned_backups_total", policy="shop") == 4.0
    assert value(registry, "drd_retention_failures_total", policy="shop") == 1.0


def test_record_ignores_unknown_kinds_and_incomplete_outcomes_with_a_log(registry, metrics):
    """Kinds not known yet, non-terminal outcomes and backups without a cluster change nothing."""
    metrics.set_policies([backup_policy()], [])
    before = samples(registry, "drd_backup_runs_total")
    with capture_logs() as logs:
        metrics.record(Outcome("upgrade", "fleet", Phase.COMPLETED, T0, T0))
        metrics.record(Outcome("backup", "shop", Phase.IN_PROGRESS, T0, T0, {"cluster": "primary-east"}))
        metrics.record(Outcome("backup", "shop", Phase.COMPLETED, T0, T0))
    assert [entry["event"] for entry in logs] == [
        "metrics_outcome_kind_not_recorded",
        "metrics_outcome_not_terminal",
        "metrics_backup_outcome_without_cluster",
    ]
    assert before == samples(registry, "drd_backup_runs_total")


def test_config_errors_are_set_per_file_and_cleared_when_fixed(registry, metrics, clock):
    """A file with problems has a series; once fixed it disappears and the reload counts as successful."""
    metrics.set_config_errors({"policies/shop.yaml": 2, "clusters.yaml": 1})
    assert {_labels(file="policies/shop.yaml"): 2.0, _labels(file="clusters.yaml"): 1.0} == samples(
        registry, "drd_config_errors"
    )
    assert value(registry, "drd_config_last_reload_successful") == 0.0

    clock.advance(60)
    metrics.set_config_errors({"policies/shop.yaml": 1, "clusters.yaml": 0})
    assert {_labels(file="policies/shop.yaml"): 1.0} == samples(registry, "drd_config_errors")

    metrics.set_config_errors({})
    assert samples(registry, "drd_config_errors") == {}
    assert value(registry, "drd_config_last_reload_successful") == 1.0
    assert clock.now().timestamp() == value(registry, "drd_config_last_reload_success_timestamp_seconds")


def test_leader_reachability_and_storage_locations(registry, metrics):
    """drd_leader, drd_cluster_reachable and drd_backup_storage_location_available follow what the daemon sees."""
    assert value(registry, "drd_leader") == 0.0
    metrics.set_leader(True)
    metrics.set_cluster_reachable("primary-east", True)
    metrics.set_cluster_reachable("dr-west", False)
    metrics.set_location_available("dr-west", "primary-east", False)
    assert value(registry, "drd_leader") == 1.0
    assert value(registry, "drd_cluster_reachable", cluster="dr-west") == 0.0
    assert value(registry, "drd_backup_storage_location_available", cluster="dr-west", location="primary-east") == 0.0

    metrics.set_clusters(["primary-east"])
    assert {_labels(cluster="primary-east")} == label_sets(registry, "drd_cluster_reachable")
    assert set() == label_sets(registry, "drd_backup_storage_location_available")
    metrics.set_leader(False)
    assert value(registry, "drd_leader") == 0.0


def test_a_passed_drill_within_its_rto_meets_the_objective(registry, metrics):
    """observe_drill counts the drill, records RTO and restored-backup age, and owns the rto objective."""
    metrics.set_policies([], [drill_policy(rto="30m")])
    metrics.observe_drill(
        policy="shop-nightly",
        result="passed",
        finished=T0,
        rto_seconds=900,
        restored_backup_age_seconds=1200,
        phase_seconds={"restore": 600, "verify": 300, "teardown": 60, "unknown": 1},
    )
    assert (
        value(registry, "drd_drill_runs_total", policy="shop-nightly", target_cluster="dr-west", result="passed") == 1.0
    )
    assert T0.timestamp() == value(registry, "drd_drill_last_success_timestamp_seconds", policy="shop-nightly")
    assert value(registry, "drd_drill_rto_seconds", policy="shop-nightly") == 900.0
    assert value(registry, "drd_drill_restored_backup_age_seconds", policy="shop-nightly") == 1200.0
    assert value(registry, "drd_objective_met", policy="shop-nightly", objective="rto") == 1.0
    assert {"restore", "verify", "teardown"} == {
        dict(labels)["phase"] for labels in label_sets(registry, "drd_drill_phase_duration_seconds_count")
    }


def test_a_slow_or_failed_drill_breaches_the_rto_objective(registry, metrics):
    """Passing checks too slowly, or failing them, is not a met RTO; a failed drill is not a success."""
    metrics.set_policies([], [drill_policy(rto="30m")])
    metrics.observe_drill(policy="shop-nightly", result="passed", finished=T0, rto_seconds=600)
    metrics.observe_drill(policy="shop-nightly", result="passed", finished=T0 + HOUR, rto_seconds=3600)
    assert value(registry, "drd_objective_met", policy="shop-nightly", objective="rto") == 0.0
    metrics.observe_drill(policy="shop-nightly", result="failed", finished=T0 + 2 * HOUR, rto_seconds=60)
    assert value(registry, "drd_objective_met", policy="shop-nightly", objective="rto") == 0.0
    assert (T0 + HOUR).timestamp() == value(registry, "drd_drill_last_success_timestamp_seconds", policy="shop-nightly")


def test_drill_freshness_is_set_by_the_daemon_and_rpo_cannot_be(registry, metrics):
    """drill_freshness is pushed; rpo is refused because it is computed at scrape time."""
    metrics.set_policies([], [drill_policy()])
    metrics.set_objective_met("shop-nightly", "drill_freshness", True)
    assert value(registry, "drd_objective_met", policy="shop-nightly", objective="drill_freshness") == 1.0
    with pytest.raises(ValueError, match="computed at scrape time"):
        metrics.set_objective_met("shop", "rpo", True)
    with pytest.raises(ValueError, match="not one of"):
        metrics.observe_drill(policy="shop-nightly", result="ok", finished=T0)
