"""The ``sandbox`` upgrade provider: the emulated clusters' versions roll, and drains honour PodDisruptionBudgets.

It lives in the sandbox layer because it plays the platform: it changes what an
emulator's ``/version`` reports (``KubeEmulator.api.git_version``) the way a
managed control-plane upgrade would, and the kubelet version nodes report.
Everything a real upgrade does through the API goes through the API: nodes
are drained by :func:`drd.operations.nodes.drain` (evictions, subject to
budgets), bumped through ``nodes/status``, uncordoned and awaited Ready.

A node group rolls **one node at a time**: drain, new kubelet, uncordon, node
Ready, then the workloads whose pods were evicted Ready again before the next
node, so at most one node of the group is unschedulable and budgets see their
pods come back. A drain the budgets still block at the deadline raises
:class:`drd.operations.nodes.DrainBlocked` naming them, and the roll stops
there (the nodes already done keep the new version; the blocked one stays
cordoned, as ``kubectl drain`` leaves it).

Operations complete synchronously: :meth:`SandboxProvider.upgrade_control_plane`
and :meth:`SandboxProvider.upgrade_node_group` return the id of an operation that
is already done, and :meth:`SandboxProvider.wait` only checks the id is known.

The workload simulator reconciles a workload only when it changes, not when one
of its pods is deleted; while a group rolls, the provider subscribes to the
emulator's pods and marks the status of a Deployment or StatefulSet that lost
a pod as not observed (``status.observedGeneration: 0``), so that the
simulator replaces the pod, as the ReplicaSet and StatefulSet controllers would
on their own. The simulator places pods without regard to cordons, so a
replacement may land on the node being drained; the drain evicts the pods it
listed after cordoning, as ``kubectl drain`` does.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Mapping
from typing import Any

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import NODES, PODS
from drd.operations import nodes as node_ops
from drd.operations.waiting import wait_for
from drd.operations.workloads import wait_until_ready
from drd.sandbox.environment import Sandbox
from drd.sandbox.kube.errors import KubeApiError
from drd.sandbox.kube.events import StoreEvent
from drd.sandbox.kube.store import Store
from drd.upgrades.facts import node_of
from drd.upgrades.providers import NodeGroup, ProviderError, check_control_plane_hop, check_node_group_version
from drd.upgrades.versions import parse

_OWNERS = {"Deployment": "deployments", "StatefulSet": "statefulsets"}


class SandboxProvider:
    """Upgrades of the sandbox's emulated clusters (see the module docstring)."""

    name = "sandbox"

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        drain_timeout_seconds: float = 600.0,
        force: bool = False,
        ready_timeout_seconds: float = 60.0,
        retry_seconds: float = node_ops.DEFAULT_RETRY_SECONDS,
    ) -> None:
        self.sandbox = sandbox
        self.drain_timeout_seconds = drain_timeout_seconds
        self.force = force
        self.ready_timeout_seconds = ready_timeout_seconds
        self.retry_seconds = retry_seconds
        self._operations: dict[str, str] = {}
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ control plane

    def control_plane_version(self, cluster: str) -> str:
        return str(self._kube(cluster).version().get("gitVersion", ""))

    def upgrade_control_plane(self, cluster: str, version: str) -> str:
        current = self.control_plane_version(cluster)
        check_control_plane_hop(cluster, current, version)
        self.sandbox.cluster(cluster).emulator.api.git_version = str(parse(version))
        return self._record(cluster, f"control plane {current} -> {version}")

    def wait(self, operation: str, *, timeout_seconds: float = 3600.0) -> None:
        if operation not in self._operations:
            raise ProviderError(f"sandbox: unknown upgrade operation {operation}")

    # ------------------------------------------------------------------ node groups

    def node_groups(self, cluster: str) -> list[NodeGroup]:
        by_group: dict[str, list[Any]] = {}
        for item in self._kube(cluster).list_objects(NODES).items:
            node = node_of(item)
            by_group.setdefault(node.group, []).append(node)
        return [
            NodeGroup(
                name=group,
                nodes=tuple(sorted(n.name for n in members)),
                versions=tuple(sorted({n.kubelet_version for n in members}, key=parse)),
            )
            for group, members in sorted(by_group.items())
        ]

    def upgrade_node_group(self, cluster: str, group: str, version: str) -> str:
        check_node_group_version(cluster, group, self.control_plane_version(cluster), version)
        kube = self._kube(cluster)
        found = next((g for g in self.node_groups(cluster) if g.name == group), None)
        if found is None:
            raise ProviderError(f"cluster {cluster}: no node group {group}")
        store = self.sandbox.cluster(cluster).emulator.store
        subscription = store.subscribe(self._replace_evicted(store), resource="pods")
        try:
            for node in found.nodes:
                if node_of(kube.get(NODES, node)).kubelet_version == version:
                    continue  # done by an earlier, interrupted roll
                self._roll_node(kube, node, version)
        finally:
            subscription.close()
        return self._record(cluster, f"node group {group} -> {version}")

    def _roll_node(self, kube: KubeClient, node: str, version: str) -> None:
        before = kube.list_objects(PODS, field_selector=f"spec.nodeName={node}").items
        result = node_ops.drain(
            kube, node, timeout_seconds=self.drain_timeout_seconds, force=self.force, retry_seconds=self.retry_seconds
        )
        removed = {*result.evicted, *result.forced}
        namespaces = {p["metadata"]["namespace"] for p in before if _ref(p) in removed}
        status = {"nodeInfo": {"kubeletVersion": version, "kubeProxyVersion": version}}
        kube.merge_patch(NODES, node, {"status": status}, subresource="status")
        node_ops.uncordon(kube, node)
        wait_for(
            kube,
            NODES,
            node,
            namespace=None,
            until=lambda obj: True if obj is not None and node_of(obj).ready else None,
            timeout_seconds=self.ready_timeout_seconds,
            what=f"node {node} to be Ready",
        )
        for namespace in sorted(namespaces):
            wait_until_ready(kube, namespace, timeout_seconds=self.ready_timeout_seconds)

    def _replace_evicted(self, store: Store) -> Callable[[StoreEvent], None]:
        """A store callback: a deleted pod of a Deployment or StatefulSet marks its owner's status as not observed."""

        def on_pod(event: StoreEvent) -> None:
            if event.type != "DELETED":
                return
            metadata = event.object["metadata"]
            for ref in metadata.get("ownerReferences") or []:
                plural = _OWNERS.get(str(ref.get("kind")))
                if plural is None:
                    continue
                with contextlib.suppress(KubeApiError):
                    patch = {"status": {"observedGeneration": 0}}
                    store.patch(plural, ref["name"], patch, namespace=metadata["namespace"], subresource="status")

        return on_pod

    # ------------------------------------------------------------------ plumbing

    def _kube(self, cluster: str) -> KubeClient:
        return self.sandbox.cluster(cluster).kube

    def _record(self, cluster: str, what: str) -> str:
        operation = f"sandbox-{cluster}-{next(self._ids)}"
        self._operations[operation] = what
        return operation


def _ref(pod: Mapping[str, Any]) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
