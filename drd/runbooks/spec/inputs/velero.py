"""Inputs of the ``velero.*`` step types: find, list, create and wait for Backups and Restores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PlainSerializer, model_validator

from drd.policy.durations import PositiveDuration
from drd.policy.models.base import raise_violations
from drd.policy.names import Name, NamespacePattern, ObjectName, ResourceName
from drd.runbooks.spec.inputs.common import BackupName, ClusterInputs, NamespaceList, freeze

VeleroPhase = Literal[
    "New", "Queued", "ReadyToStart", "InProgress", "WaitingForPluginOperations",
    "WaitingForPluginOperationsPartiallyFailed", "Finalizing", "FinalizingPartiallyFailed", "Completed",
    "PartiallyFailed", "Failed", "FailedValidation", "Deleting",
]  # fmt: skip
"""Every phase of a Velero Backup or Restore (v1.18)."""


class FindBackupInputs(ClusterInputs):
    """Choose one Backup of a backup policy: the newest restorable one, or one by name."""

    policy: Name
    """The BackupPolicy whose backups are searched (Velero's ``drd.dev/policy`` label)."""
    backup: BackupName = "latest"
    """``latest`` (the newest Completed one) or a Backup name."""
    max_age: PositiveDuration | None = None
    """Fail when the chosen backup completed longer ago than this."""
    allow_partially_failed: bool = False
    """A PartiallyFailed backup may be chosen."""


class ListBackupsInputs(ClusterInputs):
    """List the Backups Velero knows in a cluster, newest first."""

    policy: Name | None = None
    """Only this BackupPolicy's backups."""


class BackupInputs(ClusterInputs):
    """Create a Velero Backup named by the step's idempotency key."""

    policy: Name | None = None
    """Back up this BackupPolicy's scope (namespaces, selector, resources, storage location)."""
    included_namespaces: Annotated[tuple[NamespacePattern, ...], Field(min_length=1)] | None = None
    """Back up these namespaces (or globs; ``["*"]`` is every namespace) instead of a policy's scope."""
    ttl: PositiveDuration | None = None
    """How long Velero keeps the backup; default the policy's, else Velero's (30d)."""
    wait: bool = True
    """Wait until the backup reaches a terminal phase."""

    @model_validator(mode="after")
    def _one_scope(self) -> BackupInputs:
        if (self.policy is None) == (self.included_namespaces is None):
            raise_violations(self, [((), "give either policy or includedNamespaces", None)])
        return self


ResourceList = Annotated[tuple[ResourceName, ...], Field(max_length=200)]
"""Resource names as Velero takes them (``deployments``, ``deployments.apps``, ``*``)."""

NamespaceMapping = Annotated[
    Mapping[Name, Name], AfterValidator(freeze), PlainSerializer(dict, return_type=dict[str, str])
]


class RestoreInputs(ClusterInputs):
    """Create a Velero Restore named by the step's idempotency key."""

    backup: ObjectName
    """The Backup to restore (usually ``${{ steps['find-backup'].outputs.name }}``)."""
    included_namespaces: NamespaceList | None = None
    """Restore only these source namespaces; default all in the backup."""
    included_resources: ResourceList | None = None
    """Restore only these resources (``deployments``, ``configmaps``, ``deployments.apps``); default all."""
    excluded_resources: ResourceList | None = None
    """Do not restore these resources."""
    namespace_mapping: NamespaceMapping = Field(default_factory=dict)
    """Source namespace → namespace to restore into."""
    existing_resource_policy: Literal["none", "update"] = "none"
    """What Velero does with objects that already exist: leave them (``none``) or update them."""
    restore_pvs: bool = Field(default=True, alias="restorePVs")
    """Restore persistent volumes."""
    wait: bool = True
    """Wait until the restore reaches a terminal phase."""
    allow_partially_failed: bool = False
    """A PartiallyFailed restore still succeeds the step (its ``phase`` output says so); a drill measures it."""


class WaitForPhaseInputs(ClusterInputs):
    """Wait until a Backup or Restore reaches one of some phases."""

    kind: Literal["Backup", "Restore"]
    """Which Velero object."""
    name: ObjectName
    """Its name."""
    phases: Annotated[tuple[VeleroPhase, ...], Field(min_length=1)]
    """Stop waiting at any of these phases."""


class SetLocationAccessModeInputs(ClusterInputs):
    """Switch a BackupStorageLocation between read-write and read-only (failover opens the DR copy for writing)."""

    location: Name
    """The BackupStorageLocation."""
    access_mode: Literal["ReadWrite", "ReadOnly"]
    """The new access mode."""
