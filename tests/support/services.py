"""Services and pods in an emulated cluster, for the service proxy and the checks that use it."""

from __future__ import annotations

from typing import Any

from drd.sandbox.kube.store import Store


def a_service(
    name: str = "web",
    *,
    selector: dict[str, str] | None = None,
    ports: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Service manifest selecting ``app=<name>`` on port 80 named ``http`` unless told otherwise."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "selector": {"app": name} if selector is None else selector,
            "ports": ports if ports is not None else [{"name": "http", "port": 80, "targetPort": 8080}],
        },
    }


def add_pod(
    store: Store,
    name: str,
    *,
    labels: dict[str, str],
    namespace: str = "default",
    ready: bool = True,
    phase: str = "Running",
    finalizers: list[str] | None = None,
) -> dict[str, Any]:
    """Create a pod and give it the status a kubelet would report (Ready condition as asked)."""
    store.create(
        "pods",
        {
            "metadata": {"name": name, "labels": labels, "finalizers": finalizers or []},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
        },
        namespace=namespace,
    )
    flag = "True" if ready else "False"
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": flag}]}
    return store.patch("pods", name, {"status": status}, namespace=namespace, patch_type="merge", subresource="status")
