"""Typed Velero operations over a cluster's API: back up and wait, keep a Schedule as declared, delete properly.

Used by the backup workflows, the daemon, the CLI and runbook steps alike.
Every call takes the :class:`~drd.clients.kube.KubeClient` of one cluster and
the namespace Velero runs in (it ignores objects elsewhere). API failures
surface as :mod:`drd.clients.errors` (``KubeUnavailable``, ``KubeConflict``…
are TemporaryErrors); the errors defined here say what Velero-specific went
wrong. Velero objects have no ``status`` subresource (velero.md §0), so drd
only creates them, merge-patches ``metadata``/``spec`` and never writes
``status``; a Backup is deleted only through a DeleteBackupRequest (§1.6).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from drd.clients.errors import KubeAlreadyExists, KubeNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import (
    VELERO_BACKUPS,
    VELERO_DELETE_REQUESTS,
    VELERO_SCHEDULES,
    VELERO_STORAGE_LOCATIONS,
    Resource,
)
from drd.clock import Clock
from drd.errors import PermanentError, TemporaryError
from drd.operations import drift, labels, waiting
from drd.velero.timefmt import parse_rfc3339
from drd.velero.vocabulary import API_VERSION, LABEL_BACKUP_NAME, LABEL_BACKUP_UID, BackupPhase, valid_label_value

REQUIRED_RESOURCES: tuple[Resource, ...] = (
    VELERO_BACKUPS,
    VELERO_SCHEDULES,
    VELERO_STORAGE_LOCATIONS,
    VELERO_DELETE_REQUESTS,
)
"""The Velero resources drd's backup operations need served (``velero.io/v1``)."""

MANAGED_SCHEDULE_FIELDS = ("schedule", "template", "paused", "useOwnerReferencesInBackup")
"""The Schedule ``spec`` fields drd owns; others (``skipImmediately``…) and ``status`` are left alone."""

PENDING_DELETION_PHASES = frozenset({"", "New", "InProgress"})
"""DeleteBackupRequest phases meaning "Velero has not finished this deletion yet"."""


# -- errors ---------------------------------------------------------------------------------------


class VeleroNotInstalled(PermanentError):
    """The cluster does not serve Velero's CRDs: nothing can be backed up there until Velero is installed."""

    def __init__(self, kube: KubeClient, missing: list[str]) -> None:
        super().__init__(
            f"{kube.system}: Velero is not installed: the API does not serve {', '.join(missing)} "
            f"({API_VERSION}); install Velero (velero install) or check the cluster inventory"
        )
        self.cluster = kube.cluster
        self.missing = tuple(missing)


class BackupTimeout(TemporaryError):
    """A Backup did not reach a terminal phase in time; Velero may still finish it (do not create another)."""

    def __init__(self, kube: KubeClient, name: str, *, phase: str | None, waited: float, cause: str = "") -> None:
        stuck = f"still {phase}" if phase else "still without a phase"
        hint = " (is the Velero server running?)" if phase in (None, "", BackupPhase.NEW) else ""
        because = f"; last API error: {cause}" if cause else ""
        super().__init__(
            f'{kube.system}: backup "{name}" did not finish within {waited:g}s: {stuck}{hint}{because}', delay=30.0
        )
        self.backup = name
        self.phase = phase


class BackupGone(KubeNotFound):
    """The Backup being waited for does not exist (never did, or was deleted meanwhile)."""


# -- backups --------------------------------------------------------------------------------------


def velero_installed(kube: KubeClient) -> bool:
    """Whether the cluster serves every resource in :data:`REQUIRED_RESOURCES`."""
    return not missing_resources(kube)


def missing_resources(kube: KubeClient) -> list[str]:
    """The required Velero resources the cluster does not serve (``backups.velero.io``…), in a stable order."""
    group = VELERO_BACKUPS
    try:
        listing = kube.get_path(f"/apis/{group.group}/{group.version}")
    except KubeNotFound:
        listing = {}
    served = {resource.get("name") for resource in listing.get("resources", [])}
    return [r.group_resource for r in REQUIRED_RESOURCES if r.plural not in served]


def require_velero(kube: KubeClient) -> None:
    """Raise :class:`VeleroNotInstalled` naming what is missing, unless Velero's CRDs are all served."""
    missing = missing_resources(kube)
    if missing:
        raise VeleroNotInstalled(kube, missing)


def create_backup(kube: KubeClient, manifest: Mapping[str, Any], *, namespace: str) -> dict[str, Any]:
    """Create a Backup; KubeAlreadyExists when the name is taken."""
    return kube.create(VELERO_BACKUPS, manifest, namespace=namespace)


def wait_for_backup(
    kube: KubeClient,
    name: str,
    *,
    namespace: str,
    timeout_seconds: float,
    clock: Clock | None = None,
    on_phase: Callable[[Mapping[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The Backup once its phase is terminal (Completed, PartiallyFailed, Failed, FailedValidation).

    Watches the one object (field selector on its name) rather than polling:
    lists once for its current state and a resourceVersion, then watches from
    there, resuming after each server-side watch timeout; a 410 Gone relists.
    Interrupted connections are retried with backoff until the deadline.
    ``on_phase`` is called with the object whenever its phase changes (and
    once at the start). Raises :class:`BackupTimeout` (a TemporaryError naming
    the phase it was stuck in) after ``timeout_seconds``, and
    :class:`BackupGone` if the Backup does not exist or is deleted meanwhile.
    """
    tracker = _PhaseTracker(kube, name, namespace, on_phase)
    try:
        done: dict[str, Any] = waiting.wait_for(
            kube,
            VELERO_BACKUPS,
            name,
            namespace=namespace,
            until=tracker.terminal,
            timeout_seconds=timeout_seconds,
            what=f'backup "{name}" to finish',
            clock=clock,
        )
    except waiting.WaitTimedOut as timed_out:
        raise BackupTimeout(kube, name, phase=tracker.phase, waited=timeout_seconds, cause=timed_out.cause) from None
    return done


def policy_backups(kube: KubeClient, policy_name: str, *, namespace: str) -> list[dict[str, Any]]:
    """Every Backup drd made for a policy (by the ``drd.dev/policy`` and managed-by labels), in any phase."""
    selector = labels.policy_selector(policy_name)
    return kube.list_objects(VELERO_BACKUPS, namespace=namespace, label_selector=selector).items


def request_backup_deletion(kube: KubeClient, backup: Mapping[str, Any], *, namespace: str) -> dict[str, Any]:
    """Ask Velero to delete a backup: its data in the bucket, its Restores, then the Backup object (§1.6).

    Creates a DeleteBackupRequest the way ``velero backup delete`` does
    (``generateName: <backup>-``, labels ``velero.io/backup-name`` and
    ``velero.io/backup-uid``). Never deletes the Backup object directly: that
    would leave the data, and backup sync would bring the Backup back.
    """
    metadata = backup["metadata"]
    name = str(metadata["name"])
    request = {
        "apiVersion": API_VERSION,
        "kind": "DeleteBackupRequest",
        "metadata": {
            "generateName": f"{name}-",
            "labels": {
                LABEL_BACKUP_NAME: valid_label_value(name),
                LABEL_BACKUP_UID: str(metadata.get("uid", "")),
                labels.MANAGED_BY: labels.MANAGER,
            },
        },
        "spec": {"backupName": name},
    }
    return kube.create(VELERO_DELETE_REQUESTS, request, namespace=namespace)


def pending_deletions(kube: KubeClient, *, namespace: str) -> frozenset[str]:
    """Names of backups with a DeleteBackupRequest Velero has not processed yet (so asking again is pointless)."""
    requests = kube.list_objects(VELERO_DELETE_REQUESTS, namespace=namespace).items
    return frozenset(
        str((request.get("spec") or {}).get("backupName") or "")
        for request in requests
        if str((request.get("status") or {}).get("phase") or "") in PENDING_DELETION_PHASES
    )


# -- schedules ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    """What :func:`apply_schedule` did."""

    action: Literal["created", "updated", "unchanged"]
    drift: tuple[str, ...] = ()
    """One item per drifted field, ``spec.template.ttl: "168h0m0s" → "720h0m0s"`` (current → desired)."""
    schedule: Mapping[str, Any] = field(default_factory=dict)
    """The Schedule as the API returned it after the change (or as found, when unchanged)."""


def apply_schedule(kube: KubeClient, desired: Mapping[str, Any], *, namespace: str) -> ScheduleChange:
    """Make the Schedule match ``desired`` in the fields drd manages; report what drifted.

    Creates it when absent. When present, compares ``spec.schedule``,
    ``spec.template``, ``spec.paused``, ``spec.useOwnerReferencesInBackup`` and
    drd's labels (others' labels, annotations, other spec fields and
    ``status`` are left alone) and merge-patches the drifted fields back,
    guarded by the resourceVersion that was read (a concurrent edit raises
    KubeConflict, a TemporaryError: read again next time).
    """
    name = str(desired["metadata"]["name"])
    current = kube.find(VELERO_SCHEDULES, name, namespace=namespace)
    if current is None:
        try:
            return ScheduleChange("created", (), kube.create(VELERO_SCHEDULES, desired, namespace=namespace))
        except KubeAlreadyExists:  # created by someone else since we looked: compare with theirs
            current = kube.get(VELERO_SCHEDULES, name, namespace=namespace)
    have, want = _managed(current, desired), _managed(desired, desired)
    items = tuple(drift.differences(have, want))
    if not items:
        return ScheduleChange("unchanged", (), current)
    patch = drift.merge_patch(have, want)
    patch.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
    return ScheduleChange("updated", items, kube.merge_patch(VELERO_SCHEDULES, name, patch, namespace=namespace))


def _managed(obj: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``obj`` drd owns: its managed spec fields and the label keys ``desired`` sets."""
    spec = obj.get("spec") or {}
    own_labels = (obj.get("metadata") or {}).get("labels") or {}
    wanted_labels = (desired.get("metadata") or {}).get("labels") or {}
    return {
        "metadata": {"labels": {key: own_labels[key] for key in wanted_labels if key in own_labels}},
        "spec": {key: spec[key] for key in MANAGED_SCHEDULE_FIELDS if key in spec},
    }


# -- storage locations ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocationStatus:
    """What a BackupStorageLocation says about itself (velero.md §1.4)."""

    name: str
    exists: bool
    phase: str | None = None
    """``Available``, ``Unavailable``, or None before Velero first validated it."""
    access_mode: str = "ReadWrite"
    """``ReadWrite`` or ``ReadOnly`` (a DR cluster reading the primary's replicated bucket)."""
    message: str | None = None
    """Velero's (sanitised) storage error when Unavailable."""
    last_synced: datetime | None = None
    last_validated: datetime | None = None

    @property
    def available(self) -> bool:
        """Velero validated the bucket and can use it."""
        return self.phase == "Available"

    @property
    def read_only(self) -> bool:
        """Backups can be read and restored but not written or deleted."""
        return self.access_mode == "ReadOnly"

    def refusal(self, *, writes: bool) -> str | None:
        """Why backups cannot be made (``writes``) or used here, or None when the location is fit."""
        if not self.exists:
            return f'BackupStorageLocation "{self.name}" does not exist'
        if self.phase is None:
            return f'BackupStorageLocation "{self.name}" has not been validated by Velero yet'
        if not self.available:
            detail = f": {self.message}" if self.message else ""
            return f'BackupStorageLocation "{self.name}" is {self.phase}{detail}'
        if writes and self.read_only:
            return f'BackupStorageLocation "{self.name}" is ReadOnly: backups cannot be written or deleted through it'
        return None


def storage_location_status(kube: KubeClient, name: str, *, namespace: str) -> LocationStatus:
    """The status of one BackupStorageLocation (``exists=False`` when there is none by that name)."""
    bsl = kube.find(VELERO_STORAGE_LOCATIONS, name, namespace=namespace)
    if bsl is None:
        return LocationStatus(name=name, exists=False)
    spec = bsl.get("spec") or {}
    status = bsl.get("status") or {}
    return LocationStatus(
        name=name,
        exists=True,
        phase=status.get("phase") or None,
        access_mode=str(spec.get("accessMode") or "ReadWrite"),
        message=status.get("message") or None,
        last_synced=parse_rfc3339(status.get("lastSyncedTime")),
        last_validated=parse_rfc3339(status.get("lastValidationTime")),
    )


# -- waiting --------------------------------------------------------------------------------------


class _PhaseTracker:
    """The state of one :func:`wait_for_backup`: the phase last seen, reported on every change."""

    def __init__(
        self, kube: KubeClient, name: str, namespace: str, on_phase: Callable[[Mapping[str, Any]], None] | None
    ):
        self.kube = kube
        self.name = name
        self.namespace = namespace
        self.on_phase = on_phase
        self.phase: str | None = None

    def terminal(self, obj: dict[str, Any] | None) -> dict[str, Any] | None:
        if obj is None:
            raise self._gone()
        phase = str((obj.get("status") or {}).get("phase") or "")
        if phase != self.phase:
            self.phase = phase
            if self.on_phase is not None:
                self.on_phase(obj)
        return obj if phase in BackupPhase.TERMINAL else None

    def _gone(self) -> BackupGone:
        last = f" (last phase {self.phase or 'none'})" if self.phase is not None else ""
        what = "was deleted while waiting for it" if self.phase is not None else "not found"
        return BackupGone(
            f'backup "{self.name}" {what} in namespace {self.namespace}{last}', system=self.kube.system, status=404
        )
