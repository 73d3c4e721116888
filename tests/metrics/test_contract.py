"""The metrics contract of design.md: every name, type and label set dashboards and alerts rely on.

Aspects: each contract metric is exposed with its type and exactly its labels;
drd's additions are exposed too; nothing carries an unbounded label; a name
that the contract owns cannot be registered twice.
"""

from __future__ import annotations

import pytest
from prometheus_client import Gauge

from .support import populate, scrape

CONTRACT: dict[str, tuple[str, set[str]]] = {
    "drd_backup_runs_total": ("counter", {"policy", "cluster", "phase"}),
    "drd_backup_last_success_timestamp_seconds": ("gauge", {"policy", "cluster"}),
    "drd_backup_duration_seconds": ("histogram", {"policy", "cluster"}),
    "drd_rpo_seconds": ("gauge", {"policy"}),
    "drd_rpo_objective_seconds": ("gauge", {"policy"}),
    "drd_rto_objective_seconds": ("gauge", {"policy"}),
    "drd_drill_runs_total": ("counter", {"policy", "target_cluster", "result"}),
    "drd_drill_last_success_timestamp_seconds": ("gauge", {"policy"}),
    "drd_drill_rto_seconds": ("gauge", {"policy"}),
    "drd_drill_phase_duration_seconds": ("histogram", {"policy", "phase"}),
    "drd_drill_restored_backup_age_seconds": ("gauge", {"policy"}),
    "drd_objective_met": ("gauge", {"policy", "objective"}),
    "drd_restore_runs_total": ("counter", {"target_cluster", "result"}),
    "drd_upgrade_cluster_phase": ("gauge", {"plan", "cluster", "phase"}),
    "drd_secret_age_seconds": ("gauge", {"rotation"}),
    "drd_secret_rotation_runs_total": ("counter", {"rotation", "result"}),
    "drd_runbook_runs_total": ("counter", {"runbook", "result"}),
    "drd_runbook_step_duration_seconds": ("histogram", {"runbook", "step_type"}),
    "drd_config_errors": ("gauge", {"file"}),
    "drd_leader": ("gauge", set()),
}

ADDITIONS: dict[str, tuple[str, set[str]]] = {
    "drd_backup_in_progress": ("gauge", {"policy"}),
    "drd_backup_storage_location_available": ("gauge", {"cluster", "location"}),
    "drd_schedule_drift_total": ("counter", {"policy"}),
    "drd_schedule_reconcile_failures_total": ("counter", {"policy"}),
    "drd_retention_pruned_backups_total": ("counter", {"policy"}),
    "drd_retention_failures_total": ("counter", {"policy"}),
    "drd_rpo_backup_partially_failed": ("gauge", {"policy"}),
    "drd_rpo_provider_errors_total": ("counter", set()),
    "drd_cluster_reachable": ("gauge", {"cluster"}),
    "drd_velero_repo_credentials_state": ("gauge", {"cluster", "state"}),
    "drd_config_last_reload_successful": ("gauge", set()),
    "drd_config_last_reload_success_timestamp_seconds": ("gauge", set()),
    "drd_build_info": ("gauge", {"version"}),
}


def _family_name(metric: str, kind: str) -> str:
    return metric.removesuffix("_total") if kind == "counter" else metric


@pytest.mark.parametrize("metric", sorted(CONTRACT))
def test_contract_metric_has_its_type_and_exactly_its_labels(registry, metrics, metric):
    """Each metric of design.md's contract is exposed under its name, with its type and labels."""
    populate(metrics)
    kind, labels = CONTRACT[metric]
    family = scrape(registry)[_family_name(metric, kind)]
    assert kind == family.type
    assert family.samples, f"{metric} has no sample"
    for sample in family.samples:
        assert labels == set(sample.labels) - {"le"}


@pytest.mark.parametrize("metric", sorted(ADDITIONS))
def test_additional_metric_has_its_type_and_labels(registry, metrics, metric):
    """drd's own additions are exposed with bounded labels only."""
    populate(metrics)
    kind, labels = ADDITIONS[metric]
    family = scrape(registry)[_family_name(metric, kind)]
    assert kind == family.type
    assert family.samples
    for sample in family.samples:
        assert labels == set(sample.labels)


def test_every_metric_is_documented_in_the_contract_or_the_additions(registry, metrics):
    """No metric appears that this test (and docs/metrics.md) does not know about."""
    populate(metrics)
    known = {_family_name(name, kind) for name, (kind, _) in (CONTRACT | ADDITIONS).items()}
    exposed = {name for name in scrape(registry) if not name.endswith("_created")}
    assert set() == exposed - known


def test_build_info_carries_the_version(registry, metrics):
    """drd_build_info{version} is 1, so dashboards can show which drd produced the numbers."""
    family = scrape(registry)["drd_build_info"]
    assert [(s.labels, s.value) for s in family.samples] == [({"version": "1.2.3"}, 1.0)]


def test_a_contract_name_cannot_be_registered_twice(registry, metrics):
    """The scrape-time collector declares its names, so a second drd_rpo_seconds is refused at start-up."""
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Gauge("rpo_seconds", "again", ["policy"], namespace="drd", registry=registry)
