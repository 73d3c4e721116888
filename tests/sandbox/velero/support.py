"""Helpers for Velero simulator tests: create objects, wait for phases."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_RESTORES, Resource

TERMINAL = {"Completed", "PartiallyFailed", "Failed", "FailedValidation"}


def eventually(check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.02) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")


def create(kube: KubeClient, resource: Resource, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    body = {"apiVersion": "velero.io/v1", "kind": resource.kind, "metadata": {"name": name, **metadata}, "spec": spec}
    return kube.create(resource, body, namespace="velero")


def finished(kube: KubeClient, resource: Resource, name: str, *, timeout: float = 20.0) -> dict[str, Any]:
    """The object once its phase is terminal."""

    def terminal() -> dict[str, Any] | None:
        obj = kube.find(resource, name, namespace="velero")
        return obj if obj and (obj.get("status") or {}).get("phase") in TERMINAL else None

    result: dict[str, Any] = eventually(terminal, timeout=timeout)
    return result


def backup(kube: KubeClient, name: str, **spec: Any) -> dict[str, Any]:
    """Create a Backup and wait for its terminal phase."""
    create(kube, VELERO_BACKUPS, name, spec)
    return finished(kube, VELERO_BACKUPS, name)


def restore(kube: KubeClient, name: str, **spec: Any) -> dict[str, Any]:
    """Create a Restore and wait for its terminal phase."""
    create(kube, VELERO_RESTORES, name, spec)
    return finished(kube, VELERO_RESTORES, name)


def synced(kube: KubeClient, name: str, *, timeout: float = 20.0) -> dict[str, Any]:
    """The Backup once backup sync has created it in this cluster."""
    result: dict[str, Any] = eventually(lambda: kube.find(VELERO_BACKUPS, name, namespace="velero"), timeout=timeout)
    return result
