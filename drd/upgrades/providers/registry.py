"""Which :class:`~drd.upgrades.providers.Provider` upgrades a cluster: chosen by the inventory's ``spec.provider``."""

from __future__ import annotations

from dataclasses import dataclass

from drd.clients.kube import KubeClient
from drd.errors import PermanentError
from drd.policy.models.cluster import Cluster
from drd.upgrades.providers import Provider


@dataclass(frozen=True, slots=True)
class DrainPolicy:
    """How nodes are drained (the UpgradePlan's ``drain``)."""

    timeout_seconds: float = 600.0
    force: bool = False


def provider_for(cluster: Cluster, kube: KubeClient, *, drain: DrainPolicy) -> Provider:
    """The provider of ``cluster``; PermanentError naming the cluster when drd cannot upgrade its platform."""
    kind = str(cluster.spec.provider)
    if kind == "sandbox":
        from drd.upgrades.providers.sandbox import SandboxProvider

        return SandboxProvider(cluster.name, kube, drain=drain)
    if kind == "eks":
        from drd.upgrades.providers.eks import EksProvider

        return EksProvider.for_cluster(cluster, drain=drain)
    raise PermanentError(f"cluster {cluster.name}: drd cannot upgrade provider {kind!r} yet (supported: eks, sandbox)")
