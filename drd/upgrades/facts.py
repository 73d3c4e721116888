"""Gathering pre-flight facts from a live cluster through drd's KubeClient.

Reads ``/version`` (the control plane's gitVersion), nodes (kubelet version,
Ready, cordoned, node group), PodDisruptionBudgets (``status.disruptionsAllowed``)
and the pods a drain would evict: pods bound to a node, not finished, not
owned by a DaemonSet and not mirror pods (``kubectl drain --ignore-daemonsets``
leaves those alone), and the deprecated APIs clients requested (the API
server's ``/metrics``; when it cannot be read, why, so the rule can say so). Everything else is pure and lives in
:mod:`drd.upgrades.preflight`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from drd.clients import apiserver_metrics
from drd.clients.errors import KubeError
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import NODES, PODS, Resource
from drd.upgrades.preflight import Budget, ClusterFacts, DeprecatedApi, Node, PodRef

PDBS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")

NODE_GROUP_LABELS = (
    "eks.amazonaws.com/nodegroup",
    "alpha.eksctl.io/nodegroup-name",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
    "cluster.x-k8s.io/deployment-name",
)
"""Labels naming a node's group, by provider; a node without any is in group ``default``."""

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def gather(kube: KubeClient, *, cluster: str) -> ClusterFacts:
    """The facts pre-flight needs, read from one cluster (KubeError when it cannot be reached)."""
    server = str(kube.version().get("gitVersion", ""))
    nodes = tuple(sorted((node_of(item) for item in kube.list_objects(NODES).items), key=lambda n: n.name))
    pods = [pod for pod in kube.list_objects(PODS).items if evictable(pod)]
    budgets = tuple(budget_of(item, pods) for item in kube.list_objects(PDBS).items)
    apis, unchecked = deprecated_apis(kube)
    return ClusterFacts(
        cluster=cluster,
        server_version=server,
        nodes=nodes,
        budgets=budgets,
        deprecated_apis=apis,
        deprecated_apis_unchecked=unchecked,
    )


def deprecated_apis(kube: KubeClient) -> tuple[tuple[DeprecatedApi, ...], str | None]:
    """The deprecated APIs requested, or why they could not be read (403 without ``get`` on ``/metrics``)."""
    try:
        requested = apiserver_metrics.deprecated_api_requests(kube)
    except KubeError as exc:
        status = f"HTTP {exc.status}: " if exc.status else ""
        return (), f"{status}{exc}"
    apis = tuple(
        DeprecatedApi(api.group, api.version, api.resource, api.subresource, api.removed_release) for api in requested
    )
    return apis, None


def node_of(obj: Mapping[str, Any]) -> Node:
    """A :class:`Node` from a Node object."""
    metadata, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    labels = metadata.get("labels") or {}
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    group = next((str(labels[key]) for key in NODE_GROUP_LABELS if labels.get(key)), "default")
    return Node(
        name=str(metadata.get("name", "")),
        kubelet_version=str((status.get("nodeInfo") or {}).get("kubeletVersion", "")),
        ready=ready,
        unschedulable=bool(spec.get("unschedulable")),
        group=group,
    )


def evictable(pod: Mapping[str, Any]) -> bool:
    """Whether draining the pod's node would evict it."""
    metadata, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return False
    if MIRROR_ANNOTATION in (metadata.get("annotations") or {}):
        return False
    return not any(owner.get("kind") == "DaemonSet" for owner in metadata.get("ownerReferences") or [])


def budget_of(pdb: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> Budget:
    """A :class:`Budget` with the evictable pods of its namespace its selector matches."""
    metadata = pdb.get("metadata") or {}
    namespace = str(metadata.get("namespace", ""))
    selector = (pdb.get("spec") or {}).get("selector")
    protected = tuple(
        PodRef(namespace, str(pod["metadata"]["name"]), str(pod["spec"]["nodeName"]))
        for pod in pods
        if pod["metadata"].get("namespace") == namespace and selects(selector, pod["metadata"].get("labels") or {})
    )
    allowed = int((pdb.get("status") or {}).get("disruptionsAllowed") or 0)
    return Budget(namespace=namespace, name=str(metadata.get("name", "")), disruptions_allowed=allowed, pods=protected)


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics for a PDB: ``null`` selects nothing, ``{}`` every pod of the namespace."""
    if selector is None:
        return False
    match_labels: Mapping[str, str] = selector.get("matchLabels") or {}
    if any(labels.get(key) != value for key, value in match_labels.items()):
        return False
    return all(_requirement(item, labels) for item in selector.get("matchExpressions") or [])


def _requirement(item: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = item.get("key", ""), item.get("operator", "")
    values: Sequence[str] = item.get("values") or []
    match operator:
        case "In":
            return key in labels and labels[key] in values
        case "NotIn":
            return key not in labels or labels[key] not in values
        case "Exists":
            return key in labels
        case "DoesNotExist":
            return key not in labels
    return False  # an operator the API server would have refused
