"""DeleteBackupRequests and garbage collection (velero.md §1.6, §2.4).

Deleting a backup properly means a DeleteBackupRequest: the data under
``backups/<name>/`` goes, the Restores of that backup go, then the Backup CR.
GC creates such requests for expired backups, unless the location forbids it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from drd.clients.errors import KubeError, KubeNotFound, StorageError
from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_DELETE_REQUESTS, VELERO_RESTORES, Resource
from drd.sandbox.velero.context import SimContext
from drd.velero.timefmt import parse_rfc3339
from drd.velero.vocabulary import LABEL_BACKUP_NAME, LABEL_BACKUP_UID, LABEL_GC_FAILURE, BackupPhase, valid_label_value

log = structlog.get_logger(__name__)


def reconcile_delete_request(ctx: SimContext, name: str) -> None:
    """Process one DeleteBackupRequest."""
    request = ctx.find(VELERO_DELETE_REQUESTS, name)
    if request is None or (request.get("status") or {}).get("phase") not in (None, "", "New"):
        return
    backup_name = str((request.get("spec") or {}).get("backupName") or "")
    if not backup_name:
        _processed(ctx, name, ["spec.backupName is required"])
        return
    backup = ctx.find(VELERO_BACKUPS, backup_name)
    labels = {LABEL_BACKUP_NAME: valid_label_value(backup_name)}
    if backup is not None:
        labels[LABEL_BACKUP_UID] = str(backup["metadata"].get("uid", ""))
    ctx.patch(VELERO_DELETE_REQUESTS, name, {"metadata": {"labels": labels}})
    for other in ctx.objects(VELERO_DELETE_REQUESTS, label_selector=f"{LABEL_BACKUP_NAME}={labels[LABEL_BACKUP_NAME]}"):
        other_name = other["metadata"]["name"]
        if other_name != name and (other.get("status") or {}).get("phase") in (None, "", "New"):
            _delete_quietly(ctx, VELERO_DELETE_REQUESTS, other_name)
    refusal = _refusal(ctx, backup, backup_name)
    if refusal:
        _processed(ctx, name, [refusal])
        return
    assert backup is not None
    ctx.patch(VELERO_DELETE_REQUESTS, name, {"status": {"phase": "InProgress"}})
    ctx.patch(VELERO_BACKUPS, backup_name, {"status": {"phase": BackupPhase.DELETING}})
    location = ctx.location(str(backup["spec"]["storageLocation"]))
    assert location is not None
    try:
        location.bucket.delete_prefix(location.layout.backup_dir(backup_name))
    except StorageError as exc:
        _processed(ctx, name, [f"error deleting backup from backup storage: {exc}"])
        return
    for restore in ctx.objects(VELERO_RESTORES):
        if (restore.get("spec") or {}).get("backupName") == backup_name:
            _delete_quietly(ctx, VELERO_RESTORES, restore["metadata"]["name"])
    _delete_quietly(ctx, VELERO_BACKUPS, backup_name)
    _processed(ctx, name, [])
    for done in ctx.objects(VELERO_DELETE_REQUESTS, label_selector=f"{LABEL_BACKUP_NAME}={labels[LABEL_BACKUP_NAME]}"):
        _delete_quietly(ctx, VELERO_DELETE_REQUESTS, done["metadata"]["name"])


def _refusal(ctx: SimContext, backup: Mapping[str, Any] | None, backup_name: str) -> str:
    if backup is None:
        return "backup not found"
    if (backup.get("status") or {}).get("phase", "") in BackupPhase.RUNNING:
        return "backup is still in progress"
    location_name = str((backup.get("spec") or {}).get("storageLocation") or "")
    location = ctx.location(location_name)
    if location is None:
        return f"backup storage location {location_name} not found"
    if location.read_only:
        return f"cannot delete backup because backup storage location {location_name} is currently in read-only mode"
    if not location.available:
        return f"backup storage location {location_name} is unavailable"
    return ""


def collect_garbage(ctx: SimContext) -> None:
    """Create a DeleteBackupRequest for each expired backup whose location allows it (§2.4)."""
    now = ctx.clock.now()
    pending = {
        (r.get("spec") or {}).get("backupName")
        for r in ctx.objects(VELERO_DELETE_REQUESTS)
        if (r.get("status") or {}).get("phase") in (None, "", "New", "InProgress")
    }
    for backup in ctx.objects(VELERO_BACKUPS):
        name = backup["metadata"]["name"]
        expiration = parse_rfc3339((backup.get("status") or {}).get("expiration"))
        if expiration is None or expiration > now or name in pending:
            continue
        location_name = str((backup.get("spec") or {}).get("storageLocation") or "")
        location = ctx.location(location_name)
        failure = "BSLNotFound" if location is None else ("BSLReadOnly" if location.read_only else "")
        if failure:
            ctx.patch(VELERO_BACKUPS, name, {"metadata": {"labels": {LABEL_GC_FAILURE: failure}}})
            continue
        if location is None or not location.available:
            continue
        request = {
            "apiVersion": "velero.io/v1",
            "kind": "DeleteBackupRequest",
            "metadata": {
                "generateName": f"{name}-",
                "labels": {
                    LABEL_BACKUP_NAME: valid_label_value(name),
                    LABEL_BACKUP_UID: str(backup["metadata"].get("uid", "")),
                },
            },
            "spec": {"backupName": name},
        }
        ctx.kube.create(VELERO_DELETE_REQUESTS, request, namespace=ctx.namespace)


def _processed(ctx: SimContext, name: str, errors: list[str]) -> None:
    ctx.patch(VELERO_DELETE_REQUESTS, name, {"status": {"phase": "Processed", "errors": errors or None}})


def _delete_quietly(ctx: SimContext, resource: Resource, name: str) -> None:
    try:
        ctx.kube.delete(resource, name, namespace=ctx.namespace)
    except KubeNotFound:
        return
    except KubeError as exc:
        log.debug("velero_delete_failed", resource=resource.plural, name=name, error=str(exc))
