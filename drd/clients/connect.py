"""From an inventory ``Cluster`` to a connected :class:`KubeClient`, cached per cluster."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from drd.clients.kube import KubeClient
from drd.policy.models.cluster import Cluster


def connect(cluster: Cluster, *, default_kubeconfig: str = "", timeout_seconds: float = 10.0) -> KubeClient:
    """A client for the cluster, by its connection: in-cluster, or a kubeconfig context (never current-context)."""
    connection = cluster.spec.connection
    name = cluster.metadata.name
    if connection.in_cluster:
        return KubeClient.in_cluster(cluster=name, timeout_seconds=timeout_seconds)
    return KubeClient.from_kubeconfig(
        connection.kubeconfig or default_kubeconfig or None,
        context=connection.context,
        cluster=name,
        timeout_seconds=timeout_seconds,
    )


class Connections:
    """One client per cluster, rebuilt when a cluster's connection changes (after a config reload)."""

    def __init__(self, *, default_kubeconfig: str = "", timeout_seconds: float = 10.0) -> None:
        self._default_kubeconfig = default_kubeconfig
        self._timeout = timeout_seconds
        self._clients: dict[str, tuple[Cluster, KubeClient]] = {}
        self._lock = threading.Lock()

    def get(self, cluster: Cluster) -> KubeClient:
        """The client of ``cluster`` (connecting on first use)."""
        name = cluster.metadata.name
        with self._lock:
            cached = self._clients.get(name)
            if cached is not None and cached[0].spec.connection == cluster.spec.connection:
                return cached[1]
            client = connect(cluster, default_kubeconfig=self._default_kubeconfig, timeout_seconds=self._timeout)
            if cached is not None:
                cached[1].close()
            self._clients[name] = (cluster, client)
            return client

    def retain(self, clusters: Mapping[str, Cluster]) -> None:
        """Close the clients of clusters no longer in the inventory."""
        with self._lock:
            for name in [n for n in self._clients if n not in clusters]:
                self._clients.pop(name)[1].close()

    def close(self) -> None:
        with self._lock:
            for _, client in self._clients.values():
                client.close()
            self._clients.clear()
