"""Where a cluster's Kubernetes version actually changes: one interface, one implementation per platform.

A :class:`Provider` upgrades a control plane (asynchronously on managed
platforms: it returns an operation id to :meth:`Provider.wait` on) and node
groups, one group per call, moves managed add-ons, and reports the
platform's own upgrade-readiness findings. :mod:`.registry` picks one by the
inventory's ``spec.provider``. Implementations:

* ``sandbox`` (:mod:`drd.upgrades.providers.sandbox`, over HTTP only): moves the
  emulator's reported version through its platform endpoint and rolls a group's
  nodes one at a time (drain through the eviction API, kubelet version bumped,
  uncordon, Ready);
* ``eks`` (:mod:`drd.upgrades.providers.eks`): ``update_cluster_version`` /
  ``describe_update`` / ``update_nodegroup_version`` / ``update_addon`` and upgrade
  insights, over the boto3 adapter :mod:`drd.clients.eks`;
* Cluster API (room left): ``KubeadmControlPlane.spec.version`` and
  ``MachineDeployment.spec.template.spec.version`` on the management cluster.

Every implementation refuses a control-plane hop that skips a minor or goes
down (:func:`check_control_plane_hop`), as EKS, GKE and AKS do, and a node
group newer than its control plane (:func:`check_node_group_version`).
Failures are :class:`ProviderError` (permanent: the platform refused) or the
drain's own :class:`drd.operations.nodes.DrainBlocked`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from drd.errors import PermanentError
from drd.upgrades.preflight import Finding
from drd.upgrades.versions import Version, parse


class ProviderError(PermanentError):
    """The platform refused or failed an upgrade step; the message names the cluster and the step."""


@dataclass(frozen=True, slots=True)
class NodeGroup:
    """A set of nodes upgraded together (an EKS managed node group, a GKE node pool, a MachineDeployment)."""

    name: str
    nodes: tuple[str, ...]
    versions: tuple[str, ...]
    """The distinct kubelet versions its nodes report, oldest first (one once the group is rolled)."""


class Provider(Protocol):
    """Upgrades of one platform's clusters, addressed by drd's cluster names."""

    def control_plane_version(self, cluster: str) -> str:
        """The version the API server reports now (``gitVersion``)."""
        ...

    def upgrade_control_plane(self, cluster: str, version: str) -> str:
        """Start moving the control plane to ``version`` (one minor at most); returns an operation id."""
        ...

    def wait(self, operation: str, *, timeout_seconds: float = 3600.0) -> None:
        """Return once the operation succeeded; ProviderError if it failed, WaitTimedOut-like errors on timeout."""
        ...

    def node_groups(self, cluster: str) -> list[NodeGroup]:
        """The cluster's node groups, by name."""
        ...

    def upgrade_node_group(self, cluster: str, group: str, version: str) -> str:
        """Start rolling ``group`` to ``version`` (never newer than the control plane); returns an operation id."""
        ...

    def upgrade_addons(self, cluster: str, version: str) -> list[str]:
        """Start moving the platform's managed add-ons to versions compatible with ``version``.

        Returns one operation id per add-on changed (``[]`` when the platform manages none or all fit).
        """
        ...

    def readiness(self, cluster: str, version: str) -> list[Finding]:
        """The platform's own upgrade-readiness findings for ``version`` (EKS insights); ``[]`` when it has none."""
        ...


def check_control_plane_hop(cluster: str, current: str, target: str) -> None:
    """ProviderError unless ``target`` is ``current``'s minor (a patch) or the next one."""
    now, then = parse(current), parse(target)
    hop = then.minors_above(now)
    if then < now:
        raise ProviderError(f"cluster {cluster}: control plane {now} cannot be downgraded to {then}")
    if hop > 1:
        raise ProviderError(
            f"cluster {cluster}: control plane {now} cannot skip to {then}; upgrade to "
            f"{Version(now.major, now.minor + 1).minor_name} first"
        )


def check_node_group_version(cluster: str, group: str, control_plane: str, target: str) -> None:
    """ProviderError when nodes would run a kubelet newer than the control plane (version-skew policy)."""
    if parse(target).minors_above(parse(control_plane)) > 0:
        raise ProviderError(
            f"cluster {cluster}: node group {group} cannot run {target}, newer than the control plane {control_plane}"
        )
