"""What a Restore does with each archived item, before touching a cluster (velero.md §1.2, §2.2, §5).

Pure: filters (nonRestorableResources, namespaces, resources, labels,
includeClusterResources), namespace mapping, Velero's restore priorities,
metadata reset and the built-in RestoreItemActions that clear server-assigned
fields. The simulator executes the result; drd can use it to predict a restore.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from drd.velero.archive import ArchivedObject
from drd.velero.selection import NamespaceFilter, ResourceFilter, matches_any_selector, matches_label_selector
from drd.velero.vocabulary import LABEL_BACKUP_NAME, LABEL_RESTORE_NAME, NON_RESTORABLE_RESOURCES

HIGH_PRIORITIES = (
    "customresourcedefinitions",
    "namespaces",
    "storageclasses",
    "volumesnapshotclass.snapshot.storage.k8s.io",
    "volumesnapshotcontents.snapshot.storage.k8s.io",
    "volumesnapshots.snapshot.storage.k8s.io",
    "datauploads.velero.io",
    "persistentvolumes",
    "persistentvolumeclaims",
    "clusterroles",
    "roles",
    "serviceaccounts",
    "clusterrolebindings",
    "rolebindings",
    "secrets",
    "configmaps",
    "limitranges",
    "priorityclasses",
    "pods",
    "replicasets.apps",
    "clusterclasses.cluster.x-k8s.io",
    "endpoints",
    "services",
)
"""``defaultRestorePriorities`` (§2.2): these first in this order, then everything else alphabetically."""

RESET_METADATA = (
    "generateName",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "managedFields",
)
_PVC_BIND_ANNOTATIONS = (
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.kubernetes.io/selected-node",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
)
_JOB_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


@dataclass(frozen=True)
class PlannedItem:
    """One object to create in the target cluster."""

    group_resource: str
    source_namespace: str | None
    namespace: str | None
    name: str
    obj: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))


def plan_restore(
    archived: Iterable[ArchivedObject], spec: Mapping[str, Any], *, backup_name: str, restore_name: str
) -> list[PlannedItem]:
    """The items a restore with ``spec`` creates, in Velero's order, already transformed."""
    namespaces = NamespaceFilter(spec.get("includedNamespaces"), spec.get("excludedNamespaces"))
    resources = ResourceFilter(spec.get("includedResources"), spec.get("excludedResources"))
    mapping: Mapping[str, str] = spec.get("namespaceMapping") or {}
    include_cluster = spec.get("includeClusterResources")
    selector = spec.get("labelSelector")
    or_selectors = spec.get("orLabelSelectors") or []
    planned = []
    for item in archived:
        if item.group_resource in NON_RESTORABLE_RESOURCES:
            continue
        plural, _, group = item.group_resource.partition(".")
        if not resources.matches(plural=plural, group=group, kind=str(item.obj.get("kind", ""))):
            continue
        if item.group_resource == "namespaces":
            if not namespaces.matches(item.name):
                continue
        elif item.namespace is not None:
            if not namespaces.matches(item.namespace):
                continue
        elif not (bool(include_cluster) if include_cluster is not None else namespaces.all_namespaces):
            continue
        labels = (item.obj.get("metadata") or {}).get("labels") or {}
        label_ok = (
            matches_any_selector(or_selectors, labels) if or_selectors else matches_label_selector(selector, labels)
        )
        if item.group_resource != "namespaces" and not label_ok:
            continue
        planned.append(_transform(item, mapping, spec, backup_name=backup_name, restore_name=restore_name))
    return sorted(planned, key=_priority)


def _priority(item: PlannedItem) -> tuple[int, str, str, str]:
    try:
        rank = HIGH_PRIORITIES.index(item.group_resource)
    except ValueError:
        rank = len(HIGH_PRIORITIES)
    tie = "" if rank < len(HIGH_PRIORITIES) else item.group_resource
    return rank, tie, item.namespace or "", item.name


def _transform(
    item: ArchivedObject, mapping: Mapping[str, str], spec: Mapping[str, Any], *, backup_name: str, restore_name: str
) -> PlannedItem:
    obj = copy.deepcopy(dict(item.obj))
    metadata = obj.setdefault("metadata", {})
    for field in RESET_METADATA:
        metadata.pop(field, None)
    restore_status = (metadata.get("annotations") or {}).get("velero.io/restore-status") == "true"
    if not restore_status and not _status_requested(item.group_resource, spec):
        obj.pop("status", None)
    target_namespace = mapping.get(item.namespace, item.namespace) if item.namespace else None
    name = item.name
    if item.group_resource == "namespaces":
        name = mapping.get(item.name, item.name)
        metadata["name"] = name
    if target_namespace:
        metadata["namespace"] = target_namespace
    metadata["labels"] = {
        **(metadata.get("labels") or {}),
        LABEL_BACKUP_NAME: backup_name,
        LABEL_RESTORE_NAME: restore_name,
    }
    _apply_item_actions(item.group_resource, obj, mapping, preserve_node_ports=bool(spec.get("preserveNodePorts")))
    return PlannedItem(item.group_resource, item.namespace, target_namespace, name, obj)


def _status_requested(group_resource: str, spec: Mapping[str, Any]) -> bool:
    wanted = (spec.get("restoreStatus") or {}).get("includedResources") or []
    return "*" in wanted or group_resource in wanted or group_resource.split(".", maxsplit=1)[0] in wanted


def _apply_item_actions(
    group_resource: str, obj: dict[str, Any], mapping: Mapping[str, str], *, preserve_node_ports: bool
) -> None:
    """Velero's built-in RestoreItemActions that clear server-assigned or immutable fields (§5.4, §5.5)."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    metadata = obj["metadata"]
    if group_resource == "services" and spec is not None:
        if spec.get("clusterIP") != "None":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if not preserve_node_ports:
            spec.pop("healthCheckNodePort", None)
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
    elif group_resource == "jobs.batch" and spec is not None:
        spec.pop("selector", None)
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        for label in _JOB_LABELS:
            template_labels.pop(label, None)
            (metadata.get("labels") or {}).pop(label, None)
    elif group_resource == "pods" and spec is not None:
        spec.pop("nodeName", None)
        spec.pop("priority", None)
    elif group_resource == "persistentvolumeclaims" and spec is not None:
        spec.pop("volumeName", None)
        annotations = metadata.get("annotations") or {}
        for annotation in _PVC_BIND_ANNOTATIONS:
            annotations.pop(annotation, None)
    elif group_resource == "persistentvolumes" and spec is not None:
        claim = spec.get("claimRef") or {}
        if claim.get("namespace") in mapping:
            claim["namespace"] = mapping[claim["namespace"]]
