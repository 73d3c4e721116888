"""Builders for backup tests: policy and cluster models with YAML-named overrides, Backup observations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drd.backups.observe import BackupObservation
from drd.policy.models.backup import BackupPolicy
from drd.policy.models.cluster import Cluster
from tests.policy.builders import a_backup_policy, a_cluster

T0 = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
"""A Monday noon (ISO week 25 of 2026): "now" in the pure tests."""


def a_policy(name: str = "shop", **spec: Any) -> BackupPolicy:
    """An hourly backup of namespace ``shop`` on primary-east (see tests.policy.builders), validated."""
    return BackupPolicy.model_validate(a_backup_policy(name, **spec))


def the_primary(**spec: Any) -> Cluster:
    """primary-east, Velero in namespace ``velero``."""
    return Cluster.model_validate(a_cluster("primary-east", region="us-east-1", role="primary", **spec))


def an_observation(
    name: str, at: str | None = "2026-06-15T11:00", *, phase: str = "Completed", **fields: Any
) -> BackupObservation:
    """A Backup of policy shop that completed (or started, for unfinished phases) at ``at`` (UTC, ISO form)."""
    moment = None if at is None else datetime.fromisoformat(at).replace(tzinfo=UTC)
    finished = phase in ("Completed", "PartiallyFailed", "Failed")
    values: dict[str, Any] = {
        "cluster": "primary-east",
        "name": name,
        "uid": f"uid-{name}",
        "policy": "shop",
        "schedule": "drd-shop",
        "trigger": "schedule",
        "phase": phase,
        "created": moment,
        "started": moment if phase != "FailedValidation" else None,
        "completed": moment if finished else None,
        "expiration": None,
        "items_total": None,
        "items_backed_up": None,
        "errors": 0,
        "warnings": 0,
        "storage_location": "default",
        "failure_reason": None,
    }
    return BackupObservation(**(values | fields))
