"""Putting a credential where consumers read it: a Kubernetes Secret updated in place, then rolling restarts.

A Secret is updated in place (merge patch of the keys drd manages, other keys
kept), never deleted and recreated: tools such as Reloader miss a recreated
Secret. A restart sets a pod-template annotation to a value unique to the
rotation and the workload (not a timestamp to the second: two restarts in one
second would collapse into one and leave pods on mixed credentials).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

from drd.clients.errors import KubeNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import DAEMONSETS, DEPLOYMENTS, SECRETS, STATEFULSETS, Resource

MANAGED_BY = {"app.kubernetes.io/managed-by": "drd"}
RESTART_ANNOTATION = "drd.dev/restarted-for"
"""On a consumer's pod template: the rotation that last restarted it."""
WORKLOADS: Mapping[str, Resource] = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS, "DaemonSet": DAEMONSETS}


def deliver(kube: KubeClient, namespace: str, name: str, data: Mapping[str, str]) -> None:
    """Set ``data``'s keys in Secret ``namespace/name`` (created if missing), keeping its other keys."""
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    try:
        kube.merge_patch(SECRETS, name, {"data": encoded}, namespace=namespace)
    except KubeNotFound:
        body = {"metadata": {"name": name, "labels": dict(MANAGED_BY)}, "type": "Opaque", "data": encoded}
        kube.create(SECRETS, body, namespace=namespace)


def snapshot(kube: KubeClient, namespace: str, name: str, keys: list[str]) -> dict[str, str | None]:
    """What the Secret holds now for ``keys`` (None for a key, or a Secret, that is absent): for a rollback."""
    try:
        secret = kube.get(SECRETS, name, namespace=namespace)
    except KubeNotFound:
        return dict.fromkeys(keys)
    data = secret.get("data") or {}
    return {key: base64.b64decode(data[key]).decode() if key in data else None for key in keys}


def restore(kube: KubeClient, namespace: str, name: str, held: Mapping[str, str | None]) -> None:
    """Put back what :func:`snapshot` saw: keys that held a value get it again, keys that were absent go."""
    patch = {
        key: base64.b64encode(value.encode()).decode() if value is not None else None for key, value in held.items()
    }
    try:
        kube.merge_patch(SECRETS, name, {"data": patch}, namespace=namespace)
    except KubeNotFound:
        if any(value is not None for value in held.values()):
            deliver(kube, namespace, name, {k: v for k, v in held.items() if v is not None})


def delivered_digest(kube: KubeClient, namespace: str, name: str, keys: list[str]) -> str | None:
    """A digest of the Secret's values for ``keys`` (None when the Secret or a key is missing)."""
    try:
        secret = kube.get(SECRETS, name, namespace=namespace)
    except KubeNotFound:
        return None
    data = secret.get("data") or {}
    if any(key not in data for key in keys):
        return None
    joined = "\0".join(base64.b64decode(data[key]).decode(errors="replace") for key in sorted(keys))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def expected_digest(data: Mapping[str, str]) -> str:
    """What :func:`delivered_digest` gives once ``data`` is delivered."""
    joined = "\0".join(data[key] for key in sorted(data))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def rollout_restart(kube: KubeClient, kind: str, name: str, *, namespace: str, token: str) -> None:
    """Restart a workload's pods (rolling) by setting :data:`RESTART_ANNOTATION` to ``token`` on its template."""
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTART_ANNOTATION: token}}}}}
    kube.merge_patch(WORKLOADS[kind], name, patch, namespace=namespace)
