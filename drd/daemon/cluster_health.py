"""Is each cluster reachable, is Velero installed, are its storage locations Available?

The answers feed ``/readyz``, the ``drd_cluster_reachable`` and
``drd_backup_storage_location_available`` metrics, and the status command.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from drd.clients.errors import KubeError
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_STORAGE_LOCATIONS
from drd.policy.models.cluster import Cluster


@dataclass(frozen=True)
class ClusterHealth:
    """What one check of one cluster found."""

    cluster: str
    reachable: bool
    checked_at: datetime
    error: str | None = None
    version: str | None = None
    velero_installed: bool = False
    locations: Mapping[str, bool] = field(default_factory=dict)
    """BackupStorageLocation name → Available."""


def check_cluster(kube: KubeClient, cluster: Cluster, *, now: datetime) -> ClusterHealth:
    """Ask the API server; never raises (an unreachable cluster is an answer)."""
    name = cluster.metadata.name
    try:
        version = str(kube.version().get("gitVersion", ""))
        installed = kube.has_resource(VELERO_BACKUPS)
        locations: dict[str, bool] = {}
        if installed:
            for bsl in kube.list_objects(VELERO_STORAGE_LOCATIONS, namespace=cluster.spec.velero_namespace).items:
                locations[str(bsl["metadata"]["name"])] = (bsl.get("status") or {}).get("phase") == "Available"
    except KubeError as exc:
        return ClusterHealth(cluster=name, reachable=False, checked_at=now, error=str(exc))
    error = None if installed else f"Velero is not installed (no velero.io/v1 backups resource) in {name}"
    return ClusterHealth(
        cluster=name,
        reachable=True,
        checked_at=now,
        error=error,
        version=version,
        velero_installed=installed,
        locations=locations,
    )


class HealthBoard:
    """The latest health of every cluster, shared between the check job and the HTTP endpoints."""

    def __init__(self) -> None:
        self._health: dict[str, ClusterHealth] = {}
        self._lock = threading.Lock()

    def update(self, health: ClusterHealth) -> None:
        with self._lock:
            self._health[health.cluster] = health

    def retain(self, names: set[str]) -> None:
        with self._lock:
            self._health = {k: v for k, v in self._health.items() if k in names}

    def snapshot(self) -> dict[str, ClusterHealth]:
        with self._lock:
            return dict(self._health)
