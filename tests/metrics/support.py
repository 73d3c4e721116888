"""Helpers for the metrics tests: scrape a registry as Prometheus would, and build loaded policies."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from drd.policy.models.backup import BackupPolicy
from drd.policy.models.drill import DrillPolicy
from tests.policy.builders import a_backup_policy, a_drill_policy


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
