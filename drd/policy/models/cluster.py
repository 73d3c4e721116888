"""``Cluster``: one entry of the inventory: where a cluster is, what it is for, how to reach it.

The inventory is a set of ``Cluster`` documents, usually several in one
``clusters.yaml`` separated by ``---``. A cluster's ``role`` decides what drd
may do to it; the rule for drills lives in :attr:`Role.allows_drills`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import model_validator

from drd.policy.locations import Loc
from drd.policy.models.base import Document, Model, raise_violations
from drd.policy.names import Matches, Name


class Role(StrEnum):
    """What a cluster is for."""

    PRIMARY = "primary"
    DR = "dr"
    CANARY = "canary"
    STAGING = "staging"

    @property
    def allows_drills(self) -> bool:
        """Whether restore drills may target a cluster with this role: every role but ``primary``.

        This is a safety rule of the product (a drill never restores into a
        primary), not a setting.
        """
        return self is not Role.PRIMARY


class Provider(StrEnum):
    """Who runs the cluster; decides which provider-specific operations apply."""

    EKS = "eks"
    GKE = "gke"
    AKS = "aks"
    GENERIC = "generic"
    SANDBOX = "sandbox"
    """The emulated clusters of ``drd sandbox`` (upgraded through the emulator's platform endpoint)."""


Region = Annotated[
    str,
    Matches(
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        "a region such as us-east-1, europe-west4 or eastus (lowercase letters, digits and -)",
        63,
        ("us-east-1", "us-west-2"),
    ),
]

KubeconfigPath = Annotated[
    str,
    Matches(
        r"^/[^$\x00]*$",
        "an absolute path such as /etc/drd/kubeconfig: environment variables and ~ are not expanded; "
        "omit kubeconfig to use the daemon's --kubeconfig or $KUBECONFIG",
        4096,
        ("/etc/drd/kubeconfig",),
    ),
]

ContextName = Annotated[
    str, Matches(r"^\S+$", "a kubeconfig context name (no spaces)", 253, ("primary-east", "arn:aws:eks:…"))
]


class Connection(Model):
    """How drd reaches the cluster: a context of a kubeconfig file, or the service account of its own pod."""

    kubeconfig: KubeconfigPath | None = None
    """Absolute path of a kubeconfig file; omitted means the daemon's ``--kubeconfig`` (or ``$KUBECONFIG``)."""
    context: ContextName | None = None
    """The kubeconfig context to use; required unless ``inCluster``, so drd never acts on a current-context."""
    in_cluster: bool = False
    """Use the service account of the pod drd runs in (only for the cluster drd itself runs in)."""

    @model_validator(mode="after")
    def _one_way_in(self) -> Connection:
        violations: list[tuple[Loc, str, Any]] = []
        if self.in_cluster and (self.kubeconfig or self.context):
            violations.append((("inCluster",), "inCluster: true cannot be combined with kubeconfig or context", True))
        if not self.in_cluster and not self.context:
            violations.append((("context",), "required: name the kubeconfig context, or set inCluster: true", None))
        raise_violations(self, violations)
        return self


class ClusterSpec(Model):
    """Where the cluster is, what it is for and how to reach it."""

    region: Region
    """Cloud region; drills prove recovery in a region other than the backup's."""
    role: Role
    """``primary``, ``dr``, ``canary`` or ``staging``; drills never target ``primary``."""
    connection: Connection
    """How to reach the Kubernetes API."""
    provider: Provider = Provider.GENERIC
    """``eks``, ``gke``, ``aks`` or ``generic``."""
    velero_namespace: Name = "velero"
    """The namespace Velero runs in; Velero only sees objects there."""


class Cluster(Document):
    """A cluster in the inventory."""

    kind: Literal["Cluster"]
    spec: ClusterSpec

    @property
    def allows_drills(self) -> bool:
        """Whether restore drills may target this cluster (see :attr:`Role.allows_drills`)."""
        return self.spec.role.allows_drills
