"""The Backup controller (velero.md §1.1 state machine, §2.1 upload order, §2.2 tarball)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import structlog

from drd.clients.errors import StorageError
from drd.clients.kube_resources import VELERO_BACKUPS
from drd.sandbox.velero.collect import collect_items
from drd.sandbox.velero.context import SimContext, phase_of
from drd.sandbox.velero.discovery import served_resources
from drd.sandbox.velero.storage import Location
from drd.velero import archive
from drd.velero.archive import BackupItem
from drd.velero.results import Results
from drd.velero.selection import overlapping_namespaces
from drd.velero.timefmt import parse_go_duration, rfc3339
from drd.velero.vocabulary import (
    ANNOTATION_SOURCE_GITVERSION,
    ANNOTATION_SOURCE_MAJOR,
    ANNOTATION_SOURCE_MINOR,
    API_VERSION,
    DEFAULT_TTL,
    FORMAT_VERSION,
    LABEL_STORAGE_LOCATION,
    BackupPhase,
    go_duration,
    valid_label_value,
)

log = structlog.get_logger(__name__)

_OLD_FILTERS = ("includedResources", "excludedResources", "includeClusterResources")
_NEW_FILTERS = (
    "includedClusterScopedResources",
    "excludedClusterScopedResources",
    "includedNamespaceScopedResources",
    "excludedNamespaceScopedResources",
)


def reconcile_backup(ctx: SimContext, name: str) -> None:
    """Take a New backup through to a terminal phase."""
    backup = ctx.find(VELERO_BACKUPS, name)
    if backup is None or phase_of(backup) not in ("", BackupPhase.NEW):
        return
    if ctx.queue_mode:
        ctx.patch(VELERO_BACKUPS, name, {"status": {"phase": BackupPhase.QUEUED, "queuePosition": 1}})
        ctx.patch(VELERO_BACKUPS, name, {"status": {"phase": BackupPhase.READY_TO_START, "queuePosition": 0}})
    errors, location = validate_backup(ctx, backup)
    if errors or location is None:
        ctx.patch(
            VELERO_BACKUPS, name, {"status": {"phase": BackupPhase.FAILED_VALIDATION, "validationErrors": errors}}
        )
        return
    backup = _start(ctx, backup, location)
    try:
        exists = location.bucket.has(location.layout.backup_metadata(name))
    except StorageError as exc:  # credentials refused, bucket gone, …: Velero fails the backup
        _fail(ctx, name, f"error checking if backup already exists in object storage: {exc}", location=None)
        return
    if exists:
        _fail(ctx, name, "backup already exists in object storage", location=None)
        return
    _run(ctx, backup, location)


def validate_backup(ctx: SimContext, backup: Mapping[str, Any]) -> tuple[list[str], Location | None]:
    """Velero's prepareBackupRequest checks, with its messages (§1.1)."""
    spec = backup.get("spec") or {}
    errors: list[str] = []
    name = spec.get("storageLocation") or ctx.default_location_name()
    location = ctx.location(name)
    if location is None:
        errors.append(
            f"an existing backup storage location was not specified at backup creation time and the "
            f"(server) default {name} does not exist. Please address this issue (see `velero backup-location -h` "
            f"for options) and create a new backup."
        )
    elif location.read_only:
        errors.append(f"backup can't be created because backup storage location {name} is currently in read-only mode")
    elif not location.available:
        errors.append(f"backup can't be created because BackupStorageLocation {name} is in Unavailable status.")
    if any(spec.get(f) is not None for f in _OLD_FILTERS) and any(spec.get(f) for f in _NEW_FILTERS):
        errors.append(
            "include-resources, exclude-resources and include-cluster-resources are old filter parameters.\n"
            "include-cluster-scoped-resources, exclude-cluster-scoped-resources, include-namespace-scoped-resources "
            "and exclude-namespace-scoped-resources are new filter parameters.\nThey cannot be used together"
        )
    if spec.get("labelSelector") and spec.get("orLabelSelectors"):
        errors.append("encountered labelSelector as well as orLabelSelectors in backup spec, only one can be specified")
    overlap = overlapping_namespaces(spec.get("includedNamespaces"), spec.get("excludedNamespaces"))
    if overlap:
        errors.append(
            "Invalid included/excluded namespace lists: excludes list cannot contain an item in the includes list: "
            + ", ".join(overlap)
        )
    try:
        parse_go_duration(str(spec.get("ttl") or "0"))
    except ValueError as exc:
        errors.append(str(exc))
    return errors, (location if not errors else None)


def _start(ctx: SimContext, backup: Mapping[str, Any], location: Location) -> dict[str, Any]:
    name = backup["metadata"]["name"]
    spec = backup.get("spec") or {}
    ttl = str(spec.get("ttl") or DEFAULT_TTL)
    ttl_seconds = parse_go_duration(ttl) or parse_go_duration(DEFAULT_TTL)
    now = ctx.clock.now()
    version = ctx.cluster_version()
    return ctx.patch(
        VELERO_BACKUPS,
        name,
        {
            "metadata": {
                "labels": {LABEL_STORAGE_LOCATION: valid_label_value(location.name)},
                "annotations": {
                    ANNOTATION_SOURCE_GITVERSION: str(version.get("gitVersion", "")),
                    ANNOTATION_SOURCE_MAJOR: str(version.get("major", "")),
                    ANNOTATION_SOURCE_MINOR: str(version.get("minor", "")),
                    "velero.io/resource-timeout": "10m0s",
                },
            },
            "spec": {
                "storageLocation": location.name,
                "ttl": go_duration(ttl_seconds) if spec.get("ttl") else DEFAULT_TTL,
                "includedNamespaces": spec.get("includedNamespaces") or ["*"],
            },
            "status": {
                "phase": BackupPhase.IN_PROGRESS,
                "queuePosition": None,
                "version": 1,
                "formatVersion": FORMAT_VERSION,
                "startTimestamp": rfc3339(now),
                "expiration": rfc3339(now + timedelta(seconds=ttl_seconds)),
            },
        },
    )


def _run(ctx: SimContext, backup: dict[str, Any], location: Location) -> None:
    name = backup["metadata"]["name"]
    items = collect_items(ctx.kube, served_resources(ctx.kube), backup.get("spec") or {})
    if not _progress(ctx, name, len(items)):
        return
    outcome = ctx.faults.backup_outcome
    if outcome == BackupPhase.FAILED:
        _fail(ctx, name, "simulated failure: rpc error: code = Unavailable desc = connection error", location=location)
        return
    results = Results()
    if outcome == BackupPhase.PARTIALLY_FAILED:
        namespace = next((i.namespace for i in items if i.namespace), None)
        results.errors.add(
            "simulated error: error executing hook: command terminated with exit code 1", namespace=namespace
        )
    partially = results.errors.count() > 0
    finalizing = BackupPhase.FINALIZING_PARTIALLY_FAILED if partially else BackupPhase.FINALIZING
    status = {
        "phase": finalizing,
        "progress": {"totalItems": len(items), "itemsBackedUp": len(items)},
        "errors": results.errors.count(),
        "warnings": results.warnings.count(),
    }
    backup = ctx.patch(VELERO_BACKUPS, name, {"status": status})
    try:
        _upload(ctx, backup, location, items, results)
    except StorageError as exc:
        _fail(ctx, name, f"error uploading backup: {exc}", location=None)
        return
    final = BackupPhase.PARTIALLY_FAILED if partially else BackupPhase.COMPLETED
    finished = {"phase": final, "completionTimestamp": rfc3339(ctx.clock.now())}
    # As Velero's finalizer controller: the final metadata reaches the bucket, then the Backup object is patched
    # (its deferred patch), so whoever sees the object Completed finds it Completed in the bucket too.
    completed = {**backup, "status": {**(backup.get("status") or {}), **finished}}
    try:
        location.bucket.put(
            location.layout.backup_metadata(name), _metadata_json(completed), content_type="application/json"
        )
    except StorageError as exc:
        _fail(ctx, name, f"error uploading backup: {exc}", location=None)
        return
    ctx.patch(VELERO_BACKUPS, name, {"status": finished})
    log.debug("velero_backup_finished", backup=name, phase=final, items=len(items))


def _progress(ctx: SimContext, name: str, total: int) -> bool:
    """Spend the backup's duration, patching progress; honour the Stuck fault. False if stopping."""
    steps = max(1, int(ctx.timings.backup_seconds / max(ctx.timings.progress_interval_seconds, 0.001)))
    for step in range(1, steps + 1):
        if not ctx.sleep(ctx.timings.backup_seconds / steps):
            return False
        while ctx.faults.backup_outcome == "Stuck":
            if not ctx.sleep(ctx.timings.progress_interval_seconds):
                return False
        done = total * step // steps
        ctx.patch(VELERO_BACKUPS, name, {"status": {"progress": {"totalItems": total, "itemsBackedUp": done}}})
    return True


def _upload(
    ctx: SimContext, backup: Mapping[str, Any], location: Location, items: list[BackupItem], results: Results
) -> None:
    """PutBackup's order (§2.1): log, metadata, tarball, then the side files; undo on failure."""
    name = backup["metadata"]["name"]
    layout, bucket = location.layout, location.bucket
    if ctx.faults.upload_fails:
        raise StorageError("PutObject: simulated failure", system=f's3 bucket "{bucket.bucket}"')
    log_text = "".join(f'level=info msg="Backed up item" name={i.name} namespace={i.namespace or ""}\n' for i in items)
    bucket.put(layout.backup_log(name), archive.gzip_text(log_text))
    bucket.put(layout.backup_metadata(name), _metadata_json(backup), content_type="application/json")
    try:
        bucket.put(layout.backup_contents(name), archive.write_backup_tarball(items, mtime=ctx.clock.now().timestamp()))
        bucket.put(layout.backup_resource_list(name), archive.gzip_json(archive.resource_list(items)))
        bucket.put(layout.backup_results(name), archive.gzip_json(results.to_json()))
        bucket.put(layout.backup_volume_snapshots(name), archive.gzip_json(None))
        bucket.put(layout.backup_pod_volume_backups(name), archive.gzip_json(None))
        bucket.put(layout.backup_item_operations(name), archive.gzip_json([]))
        bucket.put(layout.backup_volume_info(name), archive.gzip_json([]))
    except StorageError:
        bucket.delete_prefix(layout.backup_dir(name))
        raise


def _fail(ctx: SimContext, name: str, reason: str, *, location: Location | None) -> None:
    backup = ctx.patch(
        VELERO_BACKUPS,
        name,
        {
            "status": {
                "phase": BackupPhase.FAILED,
                "failureReason": reason,
                "completionTimestamp": rfc3339(ctx.clock.now()),
            }
        },
    )
    if location is not None:  # a failed backup's metadata and log are still uploaded (§2.1)
        try:
            location.bucket.put(location.layout.backup_log(name), archive.gzip_text(f'level=error msg="{reason}"\n'))
            location.bucket.put(
                location.layout.backup_metadata(name), _metadata_json(backup), content_type="application/json"
            )
        except StorageError:
            log.debug("velero_failed_backup_upload_failed", backup=name)


def _metadata_json(backup: Mapping[str, Any]) -> bytes:
    """``velero-backup.json``: pretty-printed with apiVersion and kind (§2.1)."""
    return json.dumps({"apiVersion": API_VERSION, "kind": "Backup", **backup}, indent=2).encode()
