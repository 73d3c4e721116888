"""DownloadRequest and ServerStatusRequest (velero.md §1.7, §1.8)."""

from __future__ import annotations

from datetime import timedelta

from drd.clients.errors import KubeError, StorageError
from drd.clients.kube_resources import (
    VELERO_BACKUPS,
    VELERO_DOWNLOAD_REQUESTS,
    VELERO_RESTORES,
    VELERO_STATUS_REQUESTS,
    Resource,
)
from drd.sandbox.velero.context import SERVER_VERSION, SimContext
from drd.velero.layout import BucketLayout
from drd.velero.timefmt import parse_rfc3339, rfc3339

_KEYS = {
    "BackupLog": BucketLayout.backup_log,
    "BackupContents": BucketLayout.backup_contents,
    "BackupVolumeSnapshots": BucketLayout.backup_volume_snapshots,
    "BackupItemOperations": BucketLayout.backup_item_operations,
    "BackupResourceList": BucketLayout.backup_resource_list,
    "BackupResults": BucketLayout.backup_results,
    "BackupVolumeInfos": BucketLayout.backup_volume_info,
    "RestoreLog": BucketLayout.restore_log,
    "RestoreResults": BucketLayout.restore_results,
    "RestoreResourceList": BucketLayout.restore_resource_list,
    "RestoreItemOperations": BucketLayout.restore_item_operations,
    "RestoreVolumeInfo": BucketLayout.restore_volume_info,
}
PLUGINS = [
    {"name": "velero.io/aws", "kind": "ObjectStore"},
    {"name": "velero.io/aws", "kind": "VolumeSnapshotter"},
    {"name": "velero.io/pod", "kind": "BackupItemAction"},
    {"name": "velero.io/pv", "kind": "BackupItemAction"},
    {"name": "velero.io/service-account", "kind": "BackupItemAction"},
    {"name": "velero.io/pod", "kind": "RestoreItemActionV2"},
    {"name": "velero.io/service", "kind": "RestoreItemActionV2"},
]


def reconcile_download_request(ctx: SimContext, name: str) -> None:
    """Answer with a pre-signed URL of the requested file, valid 10 minutes (v1.18 download_request_controller).

    Like Velero, every attempt stamps ``status.expiration``: a request whose
    Restore, Backup or BSL does not exist (or whose kind Velero does not serve)
    keeps no phase and no URL, is not retried, and is deleted once expired.
    Velero re-stamps the expiration on each attempt; the simulator stamps it
    once, so its own patch does not wake it up again.
    """
    request = ctx.find(VELERO_DOWNLOAD_REQUESTS, name)
    if request is None:
        return
    status = request.get("status") or {}
    if status.get("phase") == "Processed" or status.get("expiration"):
        return
    target = (request.get("spec") or {}).get("target") or {}
    kind, target_name = str(target.get("kind", "")), str(target.get("name", ""))
    expires = rfc3339(ctx.clock.now() + timedelta(seconds=ctx.timings.download_url_ttl_seconds))
    url = _signed_url(ctx, kind, target_name)
    answer = {"phase": "Processed", "downloadURL": url, "expiration": expires} if url else {"expiration": expires}
    ctx.patch(VELERO_DOWNLOAD_REQUESTS, name, {"status": answer})


def _signed_url(ctx: SimContext, kind: str, target_name: str) -> str | None:
    """The pre-signed GET of the target's file, or None where Velero gives up (logging the error)."""
    key_of = _KEYS.get(kind)
    if key_of is None or not target_name:
        return None
    backup_name = target_name
    if kind.startswith("Restore"):
        restore = ctx.find(VELERO_RESTORES, target_name)
        if restore is None:
            return None  # "fail to get restore for DownloadRequest"
        backup_name = str((restore.get("spec") or {}).get("backupName") or "")
    backup = ctx.find(VELERO_BACKUPS, backup_name) if backup_name else None
    if backup is None:
        return None  # "fail to get backup for DownloadRequest"
    location_name = str((backup.get("spec") or {}).get("storageLocation") or "")
    location = ctx.location(location_name) if location_name else None
    if location is None:
        return None  # "BSL for DownloadRequest cannot be found"
    try:
        return location.bucket.presigned_get(key_of(location.layout, target_name))
    except StorageError:
        return None


def reconcile_status_request(ctx: SimContext, name: str) -> None:
    """Report the server version and plugins."""
    request = ctx.find(VELERO_STATUS_REQUESTS, name)
    if request is None or (request.get("status") or {}).get("phase") == "Processed":
        return
    status = {
        "phase": "Processed",
        "processedTimestamp": rfc3339(ctx.clock.now()),
        "serverVersion": SERVER_VERSION,
        "plugins": PLUGINS,
    }
    ctx.patch(VELERO_STATUS_REQUESTS, name, {"status": status})


def expire_requests(ctx: SimContext) -> None:
    """Delete expired DownloadRequests and ServerStatusRequests processed over a minute ago."""
    now = ctx.clock.now()
    for request in ctx.objects(VELERO_DOWNLOAD_REQUESTS):
        expiration = parse_rfc3339((request.get("status") or {}).get("expiration"))
        if expiration is not None and expiration < now:
            _delete(ctx, VELERO_DOWNLOAD_REQUESTS, request["metadata"]["name"])
    for request in ctx.objects(VELERO_STATUS_REQUESTS):
        processed = parse_rfc3339((request.get("status") or {}).get("processedTimestamp"))
        if processed is not None and (now - processed).total_seconds() > ctx.timings.server_status_ttl_seconds:
            _delete(ctx, VELERO_STATUS_REQUESTS, request["metadata"]["name"])


def _delete(ctx: SimContext, resource: Resource, name: str) -> None:
    try:
        ctx.kube.delete(resource, name, namespace=ctx.namespace)
    except KubeError:
        return
