"""Helpers for the metrics tests: scrape a registry as Prometheus would, and build loaded policies."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from drd.metrics import Metrics, RpoSample
from drd.outcomes import Phase
from drd.policy.models.backup import BackupPolicy
from drd.policy.models.drill import DrillPolicy
from tests.policy.builders import a_backup_policy, a_drill_policy
from tests.store.support import T0


def scrape(registry: CollectorRegistry) -> dict[str, Metric]:
    """The exposition of ``registry``, parsed back into families by name (counters without ``_total``)."""
    text = generate_latest(registry).decode("utf-8")
    families: dict[str, Metric] = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in families, f"{family.name} appears twice in the exposition"
        families[family.name] = family
    return families


def samples(registry: CollectorRegistry, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every sample called ``name`` (e.g. ``drd_backup_runs_total``), keyed by its label set."""
    found: dict[frozenset[tuple[str, str]], float] = {}
    for family in scrape(registry).values():
        for sample in family.samples:
            if sample.name == name:
                key = frozenset(sample.labels.items())
                assert key not in found, f"{name}{sample.labels} appears twice"
                found[key] = sample.value
    return found


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    """The value of one sample, or None when that series does not exist."""
    return samples(registry, name).get(frozenset(labels.items()))


def label_sets(registry: CollectorRegistry, name: str) -> set[frozenset[tuple[str, str]]]:
    """The label sets of ``name`` present in the exposition."""
    return set(samples(registry, name))


def backup_policy(name: str = "shop", *, cluster: str = "primary-east", rpo: str = "2h", **spec: Any) -> BackupPolicy:
    """A loaded BackupPolicy (hourly, ``rpo`` objective) on ``cluster``."""
    return BackupPolicy.model_validate(a_backup_policy(name, cluster=cluster, objectives={"rpo": rpo}, **spec))


def drill_policy(name: str = "shop-nightly", *, target: str = "dr-west", rto: str = "30m", **spec: Any) -> DrillPolicy:
    """A loaded DrillPolicy (nightly, ``rto`` objective) into ``target``."""
    return DrillPolicy.model_validate(a_drill_policy(name, target=target, objectives={"rto": rto}, **spec))


def populate(metrics: Metrics) -> None:
    """Give every metric at least one sample, as a daemon that ran everything would."""
    backup, drill = backup_policy(), drill_policy()
    metrics.set_rpo_provider(lambda: [RpoSample.for_policy(backup, T0)])
    metrics.set_policies([backup], [drill])
    metrics.observe_backup(policy="shop", cluster="primary-east", phase=Phase.COMPLETED, started=T0, completed=T0)
    metrics.observe_drill(
        policy="shop-nightly",
        result="passed",
        finished=T0,
        rto_seconds=600,
        restored_backup_age_seconds=1800,
        phase_seconds={"restore": 300, "verify": 200, "teardown": 100},
    )
    metrics.set_config_errors({"policies/shop.yaml": 2})
    metrics.set_cluster_reachable("primary-east", True)
    metrics.set_location_available("primary-east", "default", True)
    metrics.set_repo_credentials_states({"primary-east": "match"})
    i = metrics.instruments
    i.restore_runs_total.labels("dr-west", "succeeded").inc()
    i.upgrade_cluster_phase.labels("fleet-1.32", "canary-east", "soaking").set(1)
    i.secret_age_seconds.labels("db-password").set(3600)
    i.secret_rotation_runs_total.labels("db-password", "succeeded").inc()
    i.runbook_runs_total.labels("failover", "succeeded").inc()
    i.runbook_step_duration_seconds.labels("failover", "velero-restore").observe(12)
