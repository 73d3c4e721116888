"""What an incident restore's plan is decided from, read from the clusters (the only I/O of planning).

Everything is read from the **target** cluster: its Velero lists the backups
it can restore (its own, or the primary's synced from the replicated bucket)
and serves their resource lists through DownloadRequests. The application's
own cluster is asked only for one thing, when it is another cluster: which
backups exist there, to tell "not replicated yet" from "does not exist". Its
API being unreachable (the primary region is gone) is recorded and planning
goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drd.clients.errors import KubeError
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import NAMESPACES, VELERO_BACKUPS
from drd.operations import labels, restore_scope, restore_verification, velero, velero_downloads, workloads
from drd.policy.models.backup import BackupPolicy
from drd.restore.plan import Facts, NamespaceFacts, Request
from drd.runbooks.engine.environment import Environment

DOWNLOAD_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Backups:
    """The application's backups as the target cluster sees them, and as its own cluster does."""

    target: list[dict[str, Any]]
    doomed: frozenset[str]
    source: list[dict[str, Any]] | None
    source_error: str | None


def read_backups(env: Environment, policy: BackupPolicy, request: Request) -> Backups:
    """Every backup of the application in the target (any phase), pending deletions, and the source's view."""
    kube = env.kube(request.target_cluster)
    namespace = env.velero_namespace(request.target_cluster)
    found = list(
        kube.list_objects(VELERO_BACKUPS, namespace=namespace, label_selector=labels.policy_selector(policy.name)).items
    )
    if request.backup and all(b["metadata"]["name"] != request.backup for b in found):
        named = kube.find(VELERO_BACKUPS, request.backup, namespace=namespace)
        if named is not None:
            found.append(named)
    doomed = velero.pending_deletions(kube, namespace=namespace)
    source: list[dict[str, Any]] | None = None
    error = None
    if request.source_cluster != request.target_cluster:
        try:
            source_kube = env.kube(request.source_cluster)
            source = list(
                source_kube.list_objects(
                    VELERO_BACKUPS,
                    namespace=env.velero_namespace(request.source_cluster),
                    label_selector=labels.policy_selector(policy.name),
                ).items
            )
        except KubeError as exc:
            error = str(exc)
    return Backups(found, doomed, source, error)


def read_facts(
    env: Environment,
    request: Request,
    backup: Mapping[str, Any],
    mapping: Mapping[str, str],
    *,
    resource_list: Mapping[str, list[str]] | None = None,
) -> Facts:
    """The objects the restore would bring back and which exist, and the target namespaces' state."""
    kube = env.kube(request.target_cluster)
    listing = resource_list if resource_list is not None else read_resource_list(env, request, backup)
    names = {gvk: restore_scope.names_of(kube, gvk) for gvk in listing}
    expected = restore_verification.expected_objects(
        listing, namespace_mapping=mapping, included_namespaces=sorted(mapping)
    )
    present = restore_verification.present_objects(kube, expected)
    return Facts(
        resource_list=listing,
        resource_names=names,
        present=frozenset(present),
        namespaces={target: namespace_facts(kube, target) for target in sorted(set(mapping.values()))},
    )


def read_resource_list(env: Environment, request: Request, backup: Mapping[str, Any]) -> dict[str, list[str]]:
    """The backup's resource list, through the target cluster's Velero."""
    return velero_downloads.backup_resource_list(
        env.kube(request.target_cluster),
        namespace=env.velero_namespace(request.target_cluster),
        backup=str(backup["metadata"]["name"]),
        timeout_seconds=DOWNLOAD_TIMEOUT_SECONDS,
    )


def namespace_facts(kube: KubeClient, name: str) -> NamespaceFacts:
    """Whether the namespace exists, is being deleted, and which workloads live in it."""
    found = kube.find(NAMESPACES, name)
    if found is None:
        return NamespaceFacts(exists=False)
    terminating = (
        bool(found["metadata"].get("deletionTimestamp")) or (found.get("status") or {}).get("phase") == "Terminating"
    )
    live = tuple(f"{w.kind}/{w.name}" for w in workloads.workloads(kube, name))
    return NamespaceFacts(exists=True, terminating=terminating, workloads=live)
