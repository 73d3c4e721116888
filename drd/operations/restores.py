"""Velero Restores over a cluster's API: build, create idempotently, wait, summarise, delete; pick a backup.

Shared by drills, incident restores and runbook steps. A Restore is made in
Velero's namespace (it ignores others) and named by the caller, so creating it
again after a crash finds the one already made instead of restoring twice.
Velero objects have no ``status`` subresource (velero.md §0): drd creates
Restores and deletes them, and never writes them otherwise. Deleting a Restore
lets Velero's finalizer remove ``restores/<name>/`` from the bucket (§1.2);
restored objects stay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drd.clients.errors import KubeAlreadyExists, KubeNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_RESTORES
from drd.clock import Clock
from drd.errors import PermanentError, TemporaryError
from drd.operations import labels as drd_labels
from drd.operations import velero, waiting
from drd.velero.timefmt import parse_rfc3339
from drd.velero.vocabulary import API_VERSION, BackupPhase, RestorePhase

EXISTING_RESOURCE_POLICIES = ("none", "update")
"""``spec.existingResourcePolicy`` values Velero accepts (§1.2): skip existing objects, or patch them."""


class RestoreNameTaken(PermanentError):
    """A Restore of that name exists for another backup: creating ours would silently do nothing."""


class RestoreBeingDeleted(TemporaryError):
    """A Restore of that name is being deleted; it can be created again once it is gone."""


class RestoreGone(KubeNotFound):
    """The Restore being waited for does not exist (never did, or was deleted meanwhile)."""


# -- manifests ------------------------------------------------------------------------------------


def restore_manifest(
    name: str,
    *,
    backup: str,
    included_namespaces: list[str] | None = None,
    namespace_mapping: Mapping[str, str] | None = None,
    existing_resource_policy: str | None = None,
    restore_pvs: bool | None = None,
    labels: Mapping[str, str] | None = None,
    included_resources: list[str] | None = None,
    excluded_resources: list[str] | None = None,
) -> dict[str, Any]:
    """A Restore of ``backup`` in Velero's field names; unset options are left to Velero's defaults.

    Carries drd's managed-by label plus ``labels``. ``existing_resource_policy``
    is ``none`` (Velero's default: skip what exists) or ``update``; anything else
    is refused here rather than becoming a FailedValidation later.
    """
    if existing_resource_policy is not None and existing_resource_policy not in EXISTING_RESOURCE_POLICIES:
        raise PermanentError(
            f"existingResourcePolicy {existing_resource_policy!r} is not valid: expected one of "
            f"{', '.join(EXISTING_RESOURCE_POLICIES)}"
        )
    spec: dict[str, Any] = {"backupName": backup}
    if included_namespaces:
        spec["includedNamespaces"] = list(included_namespaces)
    if namespace_mapping:
        spec["namespaceMapping"] = dict(namespace_mapping)
    if included_resources:
        spec["includedResources"] = list(included_resources)
    if excluded_resources:
        spec["excludedResources"] = list(excluded_resources)
    if existing_resource_policy is not None:
        spec["existingResourcePolicy"] = existing_resource_policy
    if restore_pvs is not None:
        spec["restorePVs"] = restore_pvs
    return {
        "apiVersion": API_VERSION,
        "kind": "Restore",
        "metadata": {"name": name, "labels": {drd_labels.MANAGED_BY: drd_labels.MANAGER, **(labels or {})}},
        "spec": spec,
    }


# -- restores -------------------------------------------------------------------------------------


def create_restore(kube: KubeClient, manifest: Mapping[str, Any], *, namespace: str) -> dict[str, Any]:
    """Create the Restore, or return the one of that name already made for the same backup.

    Raises :class:`RestoreNameTaken` when the name belongs to a Restore of
    another backup, and :class:`RestoreBeingDeleted` (temporary) when the
    existing one is on its way out.
    """
    name = str(manifest["metadata"]["name"])
    try:
        return kube.create(VELERO_RESTORES, manifest, namespace=namespace)
    except KubeAlreadyExists:
        existing = kube.find(VELERO_RESTORES, name, namespace=namespace)
        if existing is None:  # deleted since: create it now
            return kube.create(VELERO_RESTORES, manifest, namespace=namespace)
    wanted = (manifest.get("spec") or {}).get("backupName")
    found = (existing.get("spec") or {}).get("backupName")
    if existing["metadata"].get("deletionTimestamp"):
        raise RestoreBeingDeleted(
            f'{kube.system}: restore "{name}" in namespace {namespace} is being deleted; create it again once gone',
            delay=5.0,
        )
    if found != wanted:
        raise RestoreNameTaken(
            f'{kube.system}: restore "{name}" already exists in namespace {namespace} for backup '
            f'"{found}", not "{wanted}"; choose another restore name'
        )
    return existing


def find_restore(kube: KubeClient, name: str, *, namespace: str) -> dict[str, Any] | None:
    """The Restore, or None when there is none by that name."""
    return kube.find(VELERO_RESTORES, name, namespace=namespace)


def wait_for_restore(
    kube: KubeClient,
    name: str,
    *,
    namespace: str,
    timeout_seconds: float,
    on_phase: Callable[[Mapping[str, Any]], None] | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """The Restore once its phase is terminal (Completed, PartiallyFailed, Failed, FailedValidation).

    Watches it (see :mod:`drd.operations.waiting`); ``on_phase`` is called
    with the object whenever its phase changes (and once at the start).
    Raises :class:`RestoreGone` if it does not exist or is deleted meanwhile,
    and :class:`~drd.operations.waiting.WaitTimedOut` (naming the phase it was
    stuck in) after ``timeout_seconds``.
    """
    seen: list[str | None] = [None]

    def terminal(restore: dict[str, Any] | None) -> dict[str, Any] | None:
        if restore is None:
            last = f" (last phase {seen[0] or 'none'})" if seen[0] is not None else ""
            what = "was deleted while waiting for it" if seen[0] is not None else "not found"
            raise RestoreGone(f'restore "{name}" {what} in namespace {namespace}{last}', system=kube.system, status=404)
        phase = str((restore.get("status") or {}).get("phase") or "")
        if phase != seen[0]:
            seen[0] = phase
            if on_phase is not None:
                on_phase(restore)
        return restore if phase in RestorePhase.TERMINAL else None

    return waiting.wait_for(
        kube,
        VELERO_RESTORES,
        name,
        namespace=namespace,
        until=terminal,
        timeout_seconds=timeout_seconds,
        what=f'restore "{name}" in namespace {namespace} to finish',
        describe=_describe_restore,
        clock=clock,
    )


def delete_restore(kube: KubeClient, name: str, *, namespace: str) -> bool:
    """Delete the Restore (Velero's finalizer then removes its logs and results); False when already gone."""
    try:
        kube.delete(VELERO_RESTORES, name, namespace=namespace)
    except KubeNotFound:
        return False
    return True


@dataclass(frozen=True, slots=True)
class RestoreSummary:
    """What a Restore reports about itself (§1.2 status), as evidence."""

    name: str
    backup: str
    phase: str
    """Empty before Velero first saw it."""
    warnings: int = 0
    errors: int = 0
    items_restored: int = 0
    total_items: int = 0
    started: datetime | None = None
    completed: datetime | None = None
    failure_reason: str = ""
    validation_errors: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        """The phase is terminal."""
        return self.phase in RestorePhase.TERMINAL

    @property
    def succeeded(self) -> bool:
        """Completed (warnings allowed: skipped existing objects are warnings)."""
        return self.phase == RestorePhase.COMPLETED

    @property
    def duration_seconds(self) -> float | None:
        """From start to completion, when both are known."""
        if self.started is None or self.completed is None:
            return None
        return (self.completed - self.started).total_seconds()

    def fields(self) -> dict[str, Any]:
        """Plain data for logs, outcomes and evidence (timestamps as ISO 8601)."""
        return {
            "name": self.name,
            "backup": self.backup,
            "phase": self.phase,
            "warnings": self.warnings,
            "errors": self.errors,
            "items_restored": self.items_restored,
            "total_items": self.total_items,
            "started": self.started.isoformat() if self.started else None,
            "completed": self.completed.isoformat() if self.completed else None,
            "failure_reason": self.failure_reason,
            "validation_errors": list(self.validation_errors),
        }


def restore_summary(restore: Mapping[str, Any]) -> RestoreSummary:
    """The summary of a Restore object as the API returned it."""
    status = restore.get("status") or {}
    progress = status.get("progress") or {}
    return RestoreSummary(
        name=str((restore.get("metadata") or {}).get("name") or ""),
        backup=str((restore.get("spec") or {}).get("backupName") or ""),
        phase=str(status.get("phase") or ""),
        warnings=int(status.get("warnings") or 0),
        errors=int(status.get("errors") or 0),
        items_restored=int(progress.get("itemsRestored") or 0),
        total_items=int(progress.get("totalItems") or 0),
        started=parse_rfc3339(status.get("startTimestamp")),
        completed=parse_rfc3339(status.get("completionTimestamp")),
        failure_reason=str(status.get("failureReason") or ""),
        validation_errors=tuple(str(e) for e in status.get("validationErrors") or []),
    )


def _describe_restore(restore: dict[str, Any] | None) -> str:
    if restore is None:
        return "absent"
    summary = restore_summary(restore)
    progress = f", {summary.items_restored}/{summary.total_items} items" if summary.total_items else ""
    return f"phase {summary.phase or 'none (is the Velero server running?)'}{progress}"


# -- choosing a backup ----------------------------------------------------------------------------


def restorable_backups(
    kube: KubeClient, *, policy: str, namespace: str, allow_partially_failed: bool = False
) -> list[dict[str, Any]]:
    """A policy's Backups that can be restored now, newest first.

    Backups drd made for ``policy`` (its labels survive backup sync into a DR
    cluster) that are Completed (or PartiallyFailed when allowed), not being
    deleted (no ``deletionTimestamp``, phase not Deleting, no pending
    DeleteBackupRequest). Newest means the latest ``startTimestamp`` (when the
    data was taken), then the latest completion, then the name.
    """
    phases = {BackupPhase.COMPLETED} | ({BackupPhase.PARTIALLY_FAILED} if allow_partially_failed else set())
    selector = drd_labels.policy_selector(policy)
    backups = kube.list_objects(VELERO_BACKUPS, namespace=namespace, label_selector=selector).items
    doomed = velero.pending_deletions(kube, namespace=namespace)
    usable = [
        b
        for b in backups
        if (b.get("status") or {}).get("phase") in phases
        and not b["metadata"].get("deletionTimestamp")
        and b["metadata"]["name"] not in doomed
    ]
    return sorted(usable, key=_newness, reverse=True)


def newest_restorable_backup(
    kube: KubeClient, *, policy: str, namespace: str, allow_partially_failed: bool = False
) -> dict[str, Any] | None:
    """The first of :func:`restorable_backups`, or None when there is none."""
    found = restorable_backups(kube, policy=policy, namespace=namespace, allow_partially_failed=allow_partially_failed)
    return found[0] if found else None


def _newness(backup: Mapping[str, Any]) -> tuple[str, str, str]:
    status = backup.get("status") or {}
    started = parse_rfc3339(status.get("startTimestamp"))
    completed = parse_rfc3339(status.get("completionTimestamp"))
    return (
        started.isoformat() if started else "",
        completed.isoformat() if completed else "",
        str(backup["metadata"]["name"]),
    )
