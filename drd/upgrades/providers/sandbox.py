"""The ``sandbox`` upgrade provider: the clusters of ``drd sandbox`` upgraded over HTTP, from any process.

Everything goes through drd's :class:`~drd.clients.kube.KubeClient`, so a
``drd upgrade run`` in one process can upgrade a ``drd sandbox up`` started in
another. The control plane moves through the emulator's platform endpoint
(:meth:`KubeClient.sandbox_control_plane`, the sandbox's stand-in for EKS
``UpdateClusterVersion``), after which ``/version`` reports the new version.

A node group rolls **one node at a time**: drain (:func:`drd.operations.nodes.drain`,
evictions subject to PodDisruptionBudgets), the kubelet version bumped through
``nodes/status`` as a replaced node would report it, uncordon, node Ready, and
the pods the drain removed replaced and Ready again (the sandbox's workload
simulator replaces them by itself, as the ReplicaSet and StatefulSet
controllers do, never on a cordoned node) before the next node. So at most one
node of the group is unschedulable, and budgets see their pods come back. A
drain the budgets still block at the deadline raises
:class:`drd.operations.nodes.DrainBlocked` naming them; the roll stops there
(the nodes already done keep the new version; the blocked one stays cordoned,
as ``kubectl drain`` leaves it).

Operations complete synchronously, and their ids say what they did
(``sandbox:canary-east:controlplane:v1.32.0``,
``sandbox:canary-east:nodegroup/default:v1.32.0``), so :meth:`SandboxProvider.wait`
accepts an id from another instance (a resumed run builds a new provider): it
checks the cluster reached that state and, if a crash interrupted the operation,
finishes it (every step is idempotent). The sandbox manages no add-ons and has no
readiness insights.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from drd.clients.errors import KubeInvalid, KubeNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import NODES, PODS
from drd.operations import nodes as node_ops
from drd.operations.waiting import wait_for, wait_for_all
from drd.operations.workloads import wait_until_ready
from drd.upgrades.facts import node_of
from drd.upgrades.preflight import Finding
from drd.upgrades.providers import NodeGroup, ProviderError, check_control_plane_hop, check_node_group_version
from drd.upgrades.providers.registry import DrainPolicy
from drd.upgrades.versions import parse

CONTROL_PLANE = "controlplane"
NODE_GROUP = "nodegroup/"


class SandboxProvider:
    """Upgrades of one sandbox cluster (see the module docstring)."""

    name = "sandbox"

    def __init__(
        self,
        cluster_name: str,
        kube: KubeClient,
        *,
        drain: DrainPolicy,
        ready_timeout_seconds: float = 60.0,
        retry_seconds: float = node_ops.DEFAULT_RETRY_SECONDS,
    ) -> None:
        self.cluster_name = cluster_name
        self.kube = kube
        self.drain = drain
        self.ready_timeout_seconds = ready_timeout_seconds
        self.retry_seconds = retry_seconds

    # ------------------------------------------------------------------ control plane

    def control_plane_version(self, cluster: str) -> str:
        self._check_cluster(cluster)
        return str(self.kube.version().get("gitVersion", ""))

    def upgrade_control_plane(self, cluster: str, version: str) -> str:
        current = self.control_plane_version(cluster)
        target = str(parse(version))
        check_control_plane_hop(cluster, current, target)
        try:
            self.kube.sandbox_control_plane(target)
        except (KubeNotFound, KubeInvalid) as exc:
            refused = f"cluster {cluster}: the sandbox platform refused control plane {target}: {exc}"
            raise ProviderError(refused) from exc
        return _operation(cluster, CONTROL_PLANE, target)

    def wait(self, operation: str, *, timeout_seconds: float = 3600.0) -> None:
        cluster, what, version = _parse_operation(operation)
        self._check_cluster(cluster)
        if what == CONTROL_PLANE:
            if self.control_plane_version(cluster) != version:
                self.upgrade_control_plane(cluster, version)
        else:
            group = what.removeprefix(NODE_GROUP)
            found = self._group(group)
            if set(found.versions) != {version}:
                self.upgrade_node_group(cluster, group, version)

    # ------------------------------------------------------------------ add-ons and insights

    def upgrade_addons(self, cluster: str, version: str) -> list[str]:
        """The sandbox manages no add-ons: nothing to move."""
        self._check_cluster(cluster)
        return []

    def readiness(self, cluster: str, version: str) -> list[Finding]:
        """The sandbox has no upgrade insights of its own (drd's pre-flight rules still apply)."""
        self._check_cluster(cluster)
        return []

    # ------------------------------------------------------------------ node groups

    def node_groups(self, cluster: str) -> list[NodeGroup]:
        self._check_cluster(cluster)
        by_group: dict[str, list[Any]] = {}
        for item in self.kube.list_objects(NODES).items:
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
        target = str(parse(version))
        check_node_group_version(cluster, group, self.control_plane_version(cluster), target)
        for node in self._group(group).nodes:
            if node_of(self.kube.get(NODES, node)).kubelet_version == target:
                continue  # done by an earlier, interrupted roll
            self._roll_node(node, target)
        return _operation(cluster, NODE_GROUP + group, target)

    def _roll_node(self, node: str, version: str) -> None:
        """Drain, new kubelet, uncordon, Ready; then the pods the drain removed are replaced and Ready."""
        before = self.kube.list_objects(PODS, field_selector=f"spec.nodeName={node}").items
        namespaces = sorted({str(p["metadata"]["namespace"]) for p in before})
        ready_before = _ready_by_controller(
            pod for namespace in namespaces for pod in self.kube.list_objects(PODS, namespace=namespace).items
        )
        result = node_ops.drain(
            self.kube,
            node,
            timeout_seconds=self.drain.timeout_seconds,
            force=self.drain.force,
            retry_seconds=self.retry_seconds,
        )
        removed = {*result.evicted, *result.forced}
        gone = [p for p in before if _ref(p) in removed]
        status = {"nodeInfo": {"kubeletVersion": version, "kubeProxyVersion": version}}
        self.kube.merge_patch(NODES, node, {"status": status}, subresource="status")
        node_ops.uncordon(self.kube, node)
        wait_for(
            self.kube,
            NODES,
            node,
            namespace=None,
            until=lambda obj: True if obj is not None and node_of(obj).ready else None,
            timeout_seconds=self.ready_timeout_seconds,
            what=f"node {node} to be Ready",
        )
        for namespace in sorted({str(p["metadata"]["namespace"]) for p in gone}):
            self._wait_replaced(namespace, gone, ready_before)
            wait_until_ready(self.kube, namespace, timeout_seconds=self.ready_timeout_seconds)

    def _wait_replaced(self, namespace: str, gone: Sequence[Mapping[str, Any]], ready_before: Counter[str]) -> None:
        """Until each controller that lost pods in ``namespace`` has as many Ready pods as before the drain.

        Counted from the pods themselves (not the controllers' status, which may
        not have noticed the eviction yet), excluding the removed pods.
        """
        gone_uids = {p["metadata"].get("uid") for p in gone}
        owners = {_controller(p) for p in gone if p["metadata"]["namespace"] == namespace} - {""}
        wanted = {owner: ready_before[owner] for owner in owners}
        if not wanted:
            return

        def replaced(pods: list[dict[str, Any]]) -> bool | None:
            now = _ready_by_controller(p for p in pods if p["metadata"].get("uid") not in gone_uids)
            return True if all(now[owner] >= count for owner, count in wanted.items()) else None

        wait_for_all(
            self.kube,
            PODS,
            namespace=namespace,
            until_all=replaced,
            timeout_seconds=self.ready_timeout_seconds,
            what=f"the pods evicted in namespace {namespace} to be replaced and Ready",
        )

    # ------------------------------------------------------------------ plumbing

    def _group(self, group: str) -> NodeGroup:
        found = next((g for g in self.node_groups(self.cluster_name) if g.name == group), None)
        if found is None:
            raise ProviderError(f"cluster {self.cluster_name}: no node group {group}")
        return found

    def _check_cluster(self, cluster: str) -> None:
        if cluster != self.cluster_name:
            raise ProviderError(f"sandbox provider of cluster {self.cluster_name} cannot upgrade cluster {cluster}")


def _operation(cluster: str, what: str, version: str) -> str:
    """The id of an operation: ``sandbox:CLUSTER:WHAT:VERSION``, meaningful to any instance."""
    return f"sandbox:{cluster}:{what}:{version}"


def _parse_operation(operation: str) -> tuple[str, str, str]:
    """(cluster, what, version) of an id :func:`_operation` made; ProviderError for anything else."""
    parts = operation.split(":")
    if len(parts) != 4 or parts[0] != "sandbox" or not (parts[2] == CONTROL_PLANE or parts[2].startswith(NODE_GROUP)):
        raise ProviderError(f"sandbox: unknown upgrade operation {operation!r}")
    try:
        version = str(parse(parts[3]))
    except ValueError as exc:
        raise ProviderError(f"sandbox: unknown upgrade operation {operation!r}") from exc
    return parts[1], parts[2], version


def _ready_by_controller(pods: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How many Ready pods each controller (by uid) has."""
    return Counter(_controller(p) for p in pods if _controller(p) and _ready(p))


def _ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _controller(pod: Mapping[str, Any]) -> str:
    """The uid of the pod's controller (its ownerReference with ``controller: true``), or ""."""
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    return next((str(r.get("uid")) for r in refs if r.get("controller")), "")


def _ref(pod: Mapping[str, Any]) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
