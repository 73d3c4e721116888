"""Collect the items of a backup from the live cluster, as Velero's item collector does (velero.md §1.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import Resource
from drd.velero.archive import BackupItem
from drd.velero.selection import NamespaceFilter, ResourceFilter, matches_any_selector, matches_label_selector
from drd.velero.vocabulary import LABEL_EXCLUDE_FROM_BACKUP

_ALWAYS_EXCLUDED = frozenset(
    {"volumesnapshots.snapshot.storage.k8s.io", "volumesnapshotcontents.snapshot.storage.k8s.io"}
)


def collect_items(kube: KubeClient, resources: list[Resource], spec: Mapping[str, Any]) -> list[BackupItem]:
    """Every object the spec selects, namespaces first, then each resource type in discovery order."""
    namespaces = NamespaceFilter(spec.get("includedNamespaces"), spec.get("excludedNamespaces"))
    resource_filter = ResourceFilter(spec.get("includedResources"), spec.get("excludedResources"))
    include_cluster = spec.get("includeClusterResources")
    selector = spec.get("labelSelector")
    or_selectors = spec.get("orLabelSelectors") or []

    def selected(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if labels.get(LABEL_EXCLUDE_FROM_BACKUP) == "true":
            return False
        if or_selectors:
            return matches_any_selector(or_selectors, labels)
        return matches_label_selector(selector, labels)

    namespace_objects = kube.list_objects(_NAMESPACES).items
    chosen_namespaces = {
        ns["metadata"]["name"]: ns
        for ns in namespace_objects
        if namespaces.matches(ns["metadata"]["name"])
        and (ns["metadata"].get("labels") or {}).get(LABEL_EXCLUDE_FROM_BACKUP) != "true"
    }
    items = [_item(_NAMESPACES, ns) for ns in chosen_namespaces.values()]
    for resource in resources:
        if resource.group_resource in _ALWAYS_EXCLUDED or resource.group_resource == "namespaces":
            continue
        if not resource_filter.matches(plural=resource.plural, group=resource.group, kind=resource.kind):
            continue
        if not resource.namespaced and not _cluster_scoped_included(include_cluster, namespaces):
            continue
        for obj in kube.list_objects(resource).items:
            namespace = (obj.get("metadata") or {}).get("namespace")
            if resource.namespaced and namespace not in chosen_namespaces:
                continue
            if selected(obj):
                items.append(_item(resource, obj))
    return items


def _cluster_scoped_included(flag: Any, namespaces: NamespaceFilter) -> bool:
    # nil means automatic: cluster resources only for an all-namespaces backup (§1.1)
    return bool(flag) if flag is not None else namespaces.all_namespaces


def _item(resource: Resource, obj: Mapping[str, Any]) -> BackupItem:
    metadata = obj.get("metadata") or {}
    full = {"apiVersion": resource.api_version, "kind": resource.kind, **obj}
    return BackupItem(
        group=resource.group,
        version=resource.version,
        resource=resource.plural,
        kind=resource.kind,
        name=str(metadata.get("name")),
        namespace=metadata.get("namespace") if resource.namespaced else None,
        obj=full,
    )


_NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
