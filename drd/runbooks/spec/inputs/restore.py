"""Inputs of the ``restore.*`` step types: what an incident restore does beyond a plain Velero restore."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from drd.policy.names import Name, ObjectName
from drd.runbooks.spec.inputs.common import ClusterInputs, NamespaceList
from drd.runbooks.spec.inputs.velero import NamespaceMapping, ResourceList


class RestoreVerifyInputs(ClusterInputs):
    """Prove a restored application with the drill's checks, in namespaces drd did not create."""

    application: Name
    """The BackupPolicy whose backup was restored; its DrillPolicy's checks apply when it has one."""
    namespaces: Annotated[NamespaceList, Field(min_length=1)]
    """The source namespaces restored (as the backup names them)."""
    namespace_mapping: NamespaceMapping = Field(default_factory=dict)
    """Source namespace → namespace restored into, where they differ."""
    backup: ObjectName
    """The restored Backup (its resource list is the reference)."""
    restore: ObjectName
    """The Restore (its results hold Velero's warnings, errors and per-object outcomes)."""
    included_resources: ResourceList | None = None
    """The restore's ``includedResources``: objects of other resources are not expected."""
    excluded_resources: ResourceList | None = None
    """The restore's ``excludedResources``: their objects are not expected."""
