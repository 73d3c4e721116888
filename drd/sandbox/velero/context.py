"""What every reconciler of the simulator shares: the cluster, the buckets, time, faults."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import SECRETS, VELERO_STORAGE_LOCATIONS, Resource
from drd.clock import Clock
from drd.sandbox.velero.config import VeleroFaults, VeleroTimings
from drd.sandbox.velero.storage import BucketResolver, Location

SERVER_VERSION = "v1.18.1"


@dataclass
class SimContext:
    """Shared state of one simulated Velero server."""

    kube: KubeClient
    resolver: BucketResolver
    clock: Clock
    namespace: str = "velero"
    timings: VeleroTimings = field(default_factory=VeleroTimings)
    faults: VeleroFaults = field(default_factory=VeleroFaults)
    queue_mode: bool = True
    """v1.18 behaviour (New → Queued → ReadyToStart → InProgress); False is ≤ v1.17 (New → InProgress)."""
    stop: threading.Event = field(default_factory=threading.Event)
    _cluster_version: dict[str, Any] | None = None

    def patch(self, resource: Resource, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Merge-patch a Velero object (status lives on the main resource: no /status subresource, §0)."""
        return self.kube.merge_patch(resource, name, patch, namespace=self.namespace)

    def find(self, resource: Resource, name: str) -> dict[str, Any] | None:
        return self.kube.find(resource, name, namespace=self.namespace)

    def objects(self, resource: Resource, label_selector: str | None = None) -> list[dict[str, Any]]:
        return self.kube.list_objects(resource, namespace=self.namespace, label_selector=label_selector).items

    def locations(self) -> list[Location]:
        """Every BSL in the Velero namespace."""
        return [self.resolver.location(b, self.secret) for b in self.objects(VELERO_STORAGE_LOCATIONS)]

    def location(self, name: str) -> Location | None:
        bsl = self.find(VELERO_STORAGE_LOCATIONS, name)
        return self.resolver.location(bsl, self.secret) if bsl is not None else None

    def secret(self, name: str) -> dict[str, Any] | None:
        """A Secret of the Velero namespace, read from the API each time (as Velero reads BSL credentials)."""
        return self.find(SECRETS, name)

    def default_location_name(self) -> str:
        """The BSL with ``spec.default: true``, else the server default ``default`` (§1.1)."""
        for location in self.locations():
            if location.is_default:
                return location.name
        return "default"

    def cluster_version(self) -> dict[str, Any]:
        """``/version`` of the cluster, for the source-cluster annotations."""
        if self._cluster_version is None:
            self._cluster_version = self.kube.version()
        return self._cluster_version

    def sleep(self, seconds: float) -> bool:
        """Wait, scaled by the slowdown fault; False when the simulator is stopping."""
        return not self.stop.wait(max(0.0, seconds * self.faults.slowdown))


def phase_of(obj: Mapping[str, Any]) -> str:
    """A Velero object's ``status.phase``; empty while Velero has not set one."""
    return str((obj.get("status") or {}).get("phase") or "")
