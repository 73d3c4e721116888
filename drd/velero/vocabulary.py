"""Velero API names, phases and labels (velero.md §0, §1)."""

from __future__ import annotations

import hashlib

GROUP = "velero.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
DEFAULT_NAMESPACE = "velero"
DEFAULT_TTL = "720h0m0s"
FORMAT_VERSION = "1.1.0"

BACKUPS = "backups"
RESTORES = "restores"
SCHEDULES = "schedules"
STORAGE_LOCATIONS = "backupstoragelocations"
SNAPSHOT_LOCATIONS = "volumesnapshotlocations"
DELETE_REQUESTS = "deletebackuprequests"
DOWNLOAD_REQUESTS = "downloadrequests"
STATUS_REQUESTS = "serverstatusrequests"

# Labels Velero sets (§1.1, §1.2, §1.3, §1.6)
LABEL_STORAGE_LOCATION = "velero.io/storage-location"
LABEL_SCHEDULE_NAME = "velero.io/schedule-name"
LABEL_BACKUP_NAME = "velero.io/backup-name"
LABEL_BACKUP_UID = "velero.io/backup-uid"
LABEL_RESTORE_NAME = "velero.io/restore-name"
LABEL_GC_FAILURE = "velero.io/gc-failure"
LABEL_EXCLUDE_FROM_BACKUP = "velero.io/exclude-from-backup"
ANNOTATION_SOURCE_GITVERSION = "velero.io/source-cluster-k8s-gitversion"
ANNOTATION_SOURCE_MAJOR = "velero.io/source-cluster-k8s-major-version"
ANNOTATION_SOURCE_MINOR = "velero.io/source-cluster-k8s-minor-version"
RESTORE_FINALIZER = "restores.velero.io/external-resources-finalizer"


class BackupPhase:
    """Backup phases (§1.1), v1.18 enum."""

    NEW = "New"
    QUEUED = "Queued"
    READY_TO_START = "ReadyToStart"
    FAILED_VALIDATION = "FailedValidation"
    IN_PROGRESS = "InProgress"
    WAITING_FOR_PLUGIN_OPERATIONS = "WaitingForPluginOperations"
    WAITING_FOR_PLUGIN_OPERATIONS_PARTIALLY_FAILED = "WaitingForPluginOperationsPartiallyFailed"
    FINALIZING = "Finalizing"
    FINALIZING_PARTIALLY_FAILED = "FinalizingPartiallyFailed"
    COMPLETED = "Completed"
    PARTIALLY_FAILED = "PartiallyFailed"
    FAILED = "Failed"
    DELETING = "Deleting"

    TERMINAL = frozenset({COMPLETED, PARTIALLY_FAILED, FAILED, FAILED_VALIDATION})
    RUNNING = frozenset({"", NEW, QUEUED, READY_TO_START, IN_PROGRESS})
    """Not started or not finished running: a Schedule skips its slot, a DeleteBackupRequest is refused."""
    INCOMPLETE_FOR_SYNC = frozenset(
        {
            WAITING_FOR_PLUGIN_OPERATIONS,
            WAITING_FOR_PLUGIN_OPERATIONS_PARTIALLY_FAILED,
            FINALIZING,
            FINALIZING_PARTIALLY_FAILED,
        }
    )


class RestorePhase:
    """Restore phases (§1.2); there is no Deleting phase."""

    NEW = "New"
    FAILED_VALIDATION = "FailedValidation"
    IN_PROGRESS = "InProgress"
    WAITING_FOR_PLUGIN_OPERATIONS = "WaitingForPluginOperations"
    WAITING_FOR_PLUGIN_OPERATIONS_PARTIALLY_FAILED = "WaitingForPluginOperationsPartiallyFailed"
    FINALIZING = "Finalizing"
    FINALIZING_PARTIALLY_FAILED = "FinalizingPartiallyFailed"
    COMPLETED = "Completed"
    PARTIALLY_FAILED = "PartiallyFailed"
    FAILED = "Failed"

    TERMINAL = frozenset({COMPLETED, PARTIALLY_FAILED, FAILED, FAILED_VALIDATION})


# Resources Velero never restores (§1.2 nonRestorableResources)
NON_RESTORABLE_RESOURCES = frozenset(
    {
        "nodes",
        "events",
        "events.events.k8s.io",
        "backups.velero.io",
        "restores.velero.io",
        "resticrepositories.velero.io",
        "csinodes.storage.k8s.io",
        "volumeattachments.storage.k8s.io",
        "backuprepositories.velero.io",
    }
)

_MAX_LABEL_VALUE = 63
_HASHED_PREFIX = 57


def valid_label_value(name: str) -> str:
    """Velero's ``label.GetValidName``: names over 63 chars become 57 chars + 6 hex of sha256 (§1.1)."""
    if len(name) <= _MAX_LABEL_VALUE:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()
    return name[:_HASHED_PREFIX] + digest[:6]


def go_duration(seconds: float) -> str:
    """Format seconds as Go's ``time.Duration`` string the way Velero writes TTLs (``720h0m0s``)."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s"
