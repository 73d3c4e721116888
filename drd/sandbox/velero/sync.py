"""Backup sync (velero.md §2.3): how a DR cluster learns of backups made elsewhere.

For each Available BSL whose sync period has elapsed: list ``backups/`` in the
bucket, diff by *name only* against every Backup CR in the namespace, create
the missing ones from ``velero-backup.json`` (namespace rewritten,
storageLocation set to the local BSL, incomplete phases skipped), delete
orphaned Completed/PartiallyFailed CRs of this BSL, and stamp ``lastSyncedTime``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import structlog

from drd.clients.errors import KubeAlreadyExists, KubeError, StorageError
from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_SCHEDULES, VELERO_STORAGE_LOCATIONS
from drd.sandbox.velero.context import SimContext
from drd.sandbox.velero.storage import Location
from drd.velero.timefmt import parse_rfc3339, rfc3339
from drd.velero.vocabulary import LABEL_STORAGE_LOCATION, BackupPhase, valid_label_value

log = structlog.get_logger(__name__)


def sync_locations(ctx: SimContext, *, default_period_seconds: float, last_synced: dict[str, datetime]) -> None:
    """One pass over every BSL that is due (the default BSL first)."""
    now = ctx.clock.now()
    for location in sorted(ctx.locations(), key=lambda loc: not loc.is_default):
        period = location.sync_period_seconds if location.sync_period_seconds is not None else default_period_seconds
        previous = last_synced.get(location.name)
        if period == 0 or not location.available:
            continue
        if previous is not None and (now - previous).total_seconds() < period:
            continue
        try:
            sync_location(ctx, location)
        except (StorageError, KubeError) as exc:
            log.debug("velero_sync_failed", location=location.name, error=str(exc))
            continue
        last_synced[location.name] = now


def sync_location(ctx: SimContext, location: Location) -> None:
    """The sync algorithm for one BSL."""
    in_bucket = {
        name
        for prefix in location.bucket.common_prefixes(location.layout.backups_dir)
        if (name := location.layout.backup_name_from_prefix(prefix))
    }
    existing = {b["metadata"]["name"]: b for b in ctx.objects(VELERO_BACKUPS)}
    schedules = {s["metadata"]["name"]: s["metadata"].get("uid") for s in ctx.objects(VELERO_SCHEDULES)}
    for name in sorted(in_bucket - existing.keys()):
        _import_backup(ctx, location, name, schedules)
    for name, backup in existing.items():
        labels = backup["metadata"].get("labels") or {}
        phase = (backup.get("status") or {}).get("phase")
        orphan = labels.get(LABEL_STORAGE_LOCATION) == valid_label_value(location.name) and name not in in_bucket
        if orphan and phase in (BackupPhase.COMPLETED, BackupPhase.PARTIALLY_FAILED):
            try:
                ctx.kube.delete(VELERO_BACKUPS, name, namespace=ctx.namespace)
            except KubeError:
                log.debug("velero_orphan_delete_failed", backup=name)
    ctx.patch(VELERO_STORAGE_LOCATIONS, location.name, {"status": {"lastSyncedTime": rfc3339(ctx.clock.now())}})


def _import_backup(ctx: SimContext, location: Location, name: str, schedules: dict[str, Any]) -> None:
    key = location.layout.backup_metadata(name)
    if not location.bucket.has(key):
        return
    try:
        backup = json.loads(location.bucket.get(key))
    except ValueError:
        log.debug("velero_sync_bad_metadata", backup=name)
        return
    status = backup.get("status") or {}
    if status.get("phase") in BackupPhase.INCOMPLETE_FOR_SYNC:
        expiration = parse_rfc3339(status.get("expiration"))
        if expiration is None or expiration > ctx.clock.now():
            return
        status["phase"] = BackupPhase.PARTIALLY_FAILED
    metadata = backup.setdefault("metadata", {})
    metadata["namespace"] = ctx.namespace
    for field in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        metadata.pop(field, None)
    metadata["labels"] = {**(metadata.get("labels") or {}), LABEL_STORAGE_LOCATION: valid_label_value(location.name)}
    owners = [
        ref
        for ref in metadata.get("ownerReferences") or []
        if ref.get("kind") != "Schedule" or schedules.get(ref.get("name")) == ref.get("uid")
    ]
    metadata["ownerReferences"] = owners or None
    backup.setdefault("spec", {})["storageLocation"] = location.name
    backup["status"] = status
    try:
        ctx.kube.create(VELERO_BACKUPS, backup, namespace=ctx.namespace)
    except KubeAlreadyExists:
        return
    log.debug("velero_backup_synced", backup=name, location=location.name)
