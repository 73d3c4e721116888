"""Inputs of the drill step types: what a cross-region restore drill does beyond a plain restore.

Each names the DrillPolicy (``policy``) whose isolation, checks and teardown
rules apply, and the DR cluster (``cluster``) it acts on; the implementation
reads the rest from the loaded configuration, so a drill always runs with
the policy as validated.
"""

from __future__ import annotations

from drd.policy.names import Name
from drd.runbooks.spec.inputs.common import ClusterInputs
from drd.runbooks.spec.inputs.velero import NamespaceMapping


class DrillInputs(ClusterInputs):
    """A drill step: the drill policy and its target cluster."""

    policy: Name
    """The DrillPolicy."""


class DrillNamespacesInputs(DrillInputs):
    """A drill step acting on the drill's namespaces."""

    namespaces: NamespaceMapping
    """Source namespace → drill namespace (``steps.prepare.outputs.namespaces``)."""


class DrillVerifyInputs(DrillNamespacesInputs):
    """Prove the restored application: objects, Velero's warnings, and the policy's checks."""

    backup: Name
    """The restored Backup (its resource list is the reference)."""
    restore: Name
    """The Restore (its results hold Velero's warnings and errors)."""


class DrillTeardownInputs(DrillInputs):
    """Delete what the drill created (or keep it for inspection when the drill failed)."""

    failed: bool = False
    """The drill failed: keep its namespaces for ``teardown.keepFailedFor`` (then the sweeper deletes them)."""
