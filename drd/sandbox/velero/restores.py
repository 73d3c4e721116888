"""The Restore controller (velero.md §1.2 state machine and validation, §5.1–5.5 restore rules)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from drd.clients.errors import KubeAlreadyExists, KubeError, StorageError
from drd.clients.kube_resources import NAMESPACES, VELERO_BACKUPS, VELERO_RESTORES, Resource
from drd.sandbox.velero.context import SimContext, phase_of
from drd.sandbox.velero.discovery import by_group_resource, served_resources
from drd.sandbox.velero.storage import Location
from drd.velero import archive
from drd.velero.archive import ArchiveError
from drd.velero.restore_plan import RESET_METADATA, PlannedItem, plan_restore
from drd.velero.results import Results
from drd.velero.timefmt import rfc3339
from drd.velero.vocabulary import (
    LABEL_BACKUP_NAME,
    LABEL_RESTORE_NAME,
    LABEL_SCHEDULE_NAME,
    NON_RESTORABLE_RESOURCES,
    RESTORE_FINALIZER,
    BackupPhase,
    RestorePhase,
)

log = structlog.get_logger(__name__)

_RESTORE_LABELS = (LABEL_BACKUP_NAME, LABEL_RESTORE_NAME)


def reconcile_restore(ctx: SimContext, name: str) -> None:
    """Take a New restore to a terminal phase, or clean up one being deleted."""
    restore = ctx.find(VELERO_RESTORES, name)
    if restore is None:
        return
    if restore["metadata"].get("deletionTimestamp"):
        _finalize_deletion(ctx, restore)
        return
    if phase_of(restore) not in ("", RestorePhase.NEW):
        return
    finalizers = list(restore["metadata"].get("finalizers") or [])
    if RESTORE_FINALIZER not in finalizers:
        ctx.patch(VELERO_RESTORES, name, {"metadata": {"finalizers": [*finalizers, RESTORE_FINALIZER]}})
    errors, backup, location = validate_restore(ctx, restore)
    if errors or backup is None or location is None:
        ctx.patch(
            VELERO_RESTORES, name, {"status": {"phase": RestorePhase.FAILED_VALIDATION, "validationErrors": errors}}
        )
        return
    backup_name = backup["metadata"]["name"]
    spec_update: dict[str, Any] = {"backupName": backup_name}
    schedule = (backup["metadata"].get("labels") or {}).get(LABEL_SCHEDULE_NAME)
    if schedule:
        spec_update["scheduleName"] = schedule
    restore = ctx.patch(
        VELERO_RESTORES,
        name,
        {
            "spec": spec_update,
            "status": {"phase": RestorePhase.IN_PROGRESS, "startTimestamp": rfc3339(ctx.clock.now())},
        },
    )
    _run(ctx, restore, backup_name, location)


def validate_restore(
    ctx: SimContext, restore: Mapping[str, Any]
) -> tuple[list[str], dict[str, Any] | None, Location | None]:
    """The restore controller's validation, with Velero's messages (§1.2)."""
    spec = restore.get("spec") or {}
    errors: list[str] = []
    backup_name, schedule_name = spec.get("backupName"), spec.get("scheduleName")
    if bool(backup_name) == bool(schedule_name):
        errors.append("Either a backup or schedule must be specified as a source for the restore, but not both")
    policy = spec.get("existingResourcePolicy")
    if policy not in (None, "", "none", "update"):
        errors.append(f"Invalid ExistingResourcePolicy: {policy}")
    forbidden = sorted(set(spec.get("includedResources") or []) & NON_RESTORABLE_RESOURCES)
    if forbidden:
        errors.append(f"{', '.join(forbidden)} are non-restorable resources")
    if errors:
        return errors, None, None
    backup = _resolve_backup(ctx, backup_name, schedule_name, errors)
    if backup is None:
        return errors, None, None
    location_name = (backup.get("spec") or {}).get("storageLocation") or ""
    location = ctx.location(location_name)
    if location is None or not location.available:
        errors.append(f"The BSL {location_name} is unavailable, cannot retrieve the backup")
        return errors, None, None
    return errors, backup, location


def _resolve_backup(ctx: SimContext, backup_name: Any, schedule_name: Any, errors: list[str]) -> dict[str, Any] | None:
    if backup_name:
        backup = ctx.find(VELERO_BACKUPS, str(backup_name))
        if backup is None:
            errors.append(f'Error retrieving backup: backups.velero.io "{backup_name}" not found')
        return backup
    candidates = ctx.objects(VELERO_BACKUPS, label_selector=f"{LABEL_SCHEDULE_NAME}={schedule_name}")
    if not candidates:
        errors.append("No backups found for schedule")
        return None
    completed = [b for b in candidates if phase_of(b) == BackupPhase.COMPLETED]
    if not completed:
        errors.append("No completed backups found for schedule")
        return None
    return max(completed, key=lambda b: (b.get("status") or {}).get("startTimestamp") or "")


def _run(ctx: SimContext, restore: dict[str, Any], backup_name: str, location: Location) -> None:
    name = restore["metadata"]["name"]
    if ctx.faults.restore_outcome == RestorePhase.FAILED:
        _finish(ctx, name, RestorePhase.FAILED, failure="simulated failure: rpc error: code = Unavailable")
        return
    try:
        tarball = location.bucket.get(location.layout.backup_contents(backup_name))
        _, archived = archive.read_backup_tarball(tarball)
    except (StorageError, ArchiveError) as exc:
        _finish(ctx, name, RestorePhase.FAILED, failure=f"error downloading backup: {exc}")
        return
    planned = plan_restore(archived, restore.get("spec") or {}, backup_name=backup_name, restore_name=name)
    results = Results()
    resources = by_group_resource(served_resources(ctx.kube))
    policy = (restore.get("spec") or {}).get("existingResourcePolicy") or "none"
    listing: dict[str, list[str]] = {}
    total = len(planned)
    interval = ctx.timings.restore_seconds / max(total, 1)
    for done, item in enumerate(planned, start=1):
        if not ctx.sleep(interval):
            return
        while ctx.faults.restore_outcome == "Stuck":
            if not ctx.sleep(ctx.timings.progress_interval_seconds):
                return
        outcome = _restore_item(ctx, item, resources.get(item.group_resource), policy, results)
        key = _gvk(item)
        listing.setdefault(key, []).append(f"{item.namespace + '/' if item.namespace else ''}{item.name}({outcome})")
        if done == total or done % 5 == 0:
            ctx.patch(VELERO_RESTORES, name, {"status": {"progress": {"totalItems": total, "itemsRestored": done}}})
    if ctx.faults.restore_outcome == RestorePhase.PARTIALLY_FAILED:
        results.errors.add("simulated error: error restoring item: the server rejected our request", namespace=None)
    _upload_results(ctx, location, name, results, listing)
    partially = results.errors.count() > 0
    ctx.patch(
        VELERO_RESTORES,
        name,
        {
            "status": {
                "phase": RestorePhase.FINALIZING_PARTIALLY_FAILED if partially else RestorePhase.FINALIZING,
                "warnings": results.warnings.count(),
                "errors": results.errors.count(),
                "progress": {"totalItems": total, "itemsRestored": total},
            }
        },
    )
    _finish(ctx, name, RestorePhase.PARTIALLY_FAILED if partially else RestorePhase.COMPLETED)


def _restore_item(ctx: SimContext, item: PlannedItem, resource: Resource | None, policy: str, results: Results) -> str:
    """Create one object; existing objects are skipped (with a warning when different) or updated (§5.1)."""
    if resource is None:
        results.warnings.add(
            f"could not restore {item.kind} {item.name}: resource type not served", namespace=item.namespace
        )
        return "failed"
    if item.namespace and not _ensure_namespace(ctx, item.namespace, results):
        return "failed"
    try:
        ctx.kube.create(resource, item.obj, namespace=item.namespace)
    except KubeAlreadyExists:
        return _existing(ctx, item, resource, policy, results)
    except KubeError as exc:
        results.errors.add(f"error restoring {resource.group_resource}/{item.name}: {exc}", namespace=item.namespace)
        return "failed"
    return "created"


def _existing(ctx: SimContext, item: PlannedItem, resource: Resource, policy: str, results: Results) -> str:
    current = ctx.kube.find(resource, item.name, namespace=item.namespace)
    if current is None or item.group_resource == "namespaces":
        return "skipped"
    restore_labels = {k: v for k, v in (item.obj["metadata"].get("labels") or {}).items() if k in _RESTORE_LABELS}
    if _comparable(current, restore_labels) == _comparable(item.obj, restore_labels):
        return "skipped"
    if policy == "update":
        patch = {k: v for k, v in item.obj.items() if k not in ("status", "apiVersion", "kind")}
        try:
            ctx.kube.merge_patch(resource, item.name, patch, namespace=item.namespace)
        except KubeError as exc:
            results.warnings.add(f"could not update {item.kind}:{item.name}: {exc}", namespace=item.namespace)
            labels = {"metadata": {"labels": item.obj["metadata"].get("labels") or {}}}
            ctx.kube.merge_patch(resource, item.name, labels, namespace=item.namespace)
            return "failed"
        return "updated"
    results.warnings.add(
        f"could not restore, {item.kind}:{item.name} already exists. Warning: the in-cluster version is different "
        "than the backed-up version",
        namespace=item.namespace,
    )
    return "skipped"


def _ensure_namespace(ctx: SimContext, namespace: str, results: Results) -> bool:
    existing = ctx.kube.find(NAMESPACES, namespace)
    if existing is None:
        try:
            ctx.kube.create(NAMESPACES, {"metadata": {"name": namespace}})
        except KubeAlreadyExists:
            return True
        except KubeError as exc:
            results.errors.add(f"error creating namespace {namespace}: {exc}", namespace=namespace)
            return False
        return True
    if (existing.get("status") or {}).get("phase") == "Terminating":
        results.errors.add(f"namespace {namespace} is terminating; cannot restore into it", namespace=namespace)
        return False
    return True


def _comparable(obj: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """The object as Velero compares it: metadata reset, status dropped, this restore's labels applied (§5.1)."""
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in RESET_METADATA}
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    comparable = {k: v for k, v in obj.items() if k not in ("status", "metadata")}
    comparable["metadata"] = {k: v for k, v in metadata.items() if v not in (None, {}, [])}
    return comparable


def _upload_results(
    ctx: SimContext, location: Location, name: str, results: Results, listing: dict[str, list[str]]
) -> None:
    layout, bucket = location.layout, location.bucket
    try:
        bucket.put(layout.restore_log(name), archive.gzip_text(f'level=info msg="restore {name} finished"\n'))
        bucket.put(layout.restore_results(name), archive.gzip_json(results.to_json()))
        bucket.put(layout.restore_resource_list(name), archive.gzip_json(listing))
        bucket.put(layout.restore_volume_info(name), archive.gzip_json([]))
    except StorageError:  # logs and results are lost, the restore itself stands (§2.3, #1978)
        log.debug("velero_restore_results_upload_failed", restore=name)


def _finish(ctx: SimContext, name: str, phase: str, *, failure: str | None = None) -> None:
    status: dict[str, Any] = {"phase": phase, "completionTimestamp": rfc3339(ctx.clock.now())}
    if failure:
        status["failureReason"] = failure
    ctx.patch(VELERO_RESTORES, name, {"status": status})


def _finalize_deletion(ctx: SimContext, restore: Mapping[str, Any]) -> None:
    """The external-resources finalizer: remove ``restores/<name>/`` from the bucket, then let go (§1.2)."""
    name = restore["metadata"]["name"]
    finalizers = list(restore["metadata"].get("finalizers") or [])
    if RESTORE_FINALIZER not in finalizers:
        return
    backup = ctx.find(VELERO_BACKUPS, str((restore.get("spec") or {}).get("backupName") or ""))
    if backup is not None:
        location = ctx.location(str((backup.get("spec") or {}).get("storageLocation") or ""))
        if location is None or not location.available:
            return  # stays Terminating until the location is back, as in Velero
        try:
            location.bucket.delete_prefix(location.layout.restore_dir(name))
        except StorageError:
            return
    finalizers.remove(RESTORE_FINALIZER)
    try:
        ctx.patch(VELERO_RESTORES, name, {"metadata": {"finalizers": finalizers or None}})
    except KubeError:
        log.debug("velero_restore_finalizer_patch_failed", restore=name)


def _gvk(item: PlannedItem) -> str:
    api_version = str(item.obj.get("apiVersion", "v1"))
    return f"{api_version}/{item.kind}"
