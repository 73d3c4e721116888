"""What steps act on: the clusters of the inventory, Vault, notifications — behind one object.

The daemon and the CLI build one :class:`Environment` from the loaded
configuration and settings; tests build it over the sandbox. Steps name
clusters by their inventory name and never see how connections are made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drd.clients.connect import Connections
from drd.clients.kube import KubeClient
from drd.clock import Clock, SystemClock
from drd.errors import PermanentError
from drd.operations.notify import Notifier
from drd.policy.loader import Config
from drd.policy.models.cluster import Cluster


class UnknownCluster(PermanentError):
    """A step named a cluster that is not in the inventory."""


@dataclass
class Environment:
    """The world a run acts on."""

    config: Config
    connections: Connections
    clock: Clock = field(default_factory=SystemClock)
    notifier: Notifier | None = None
    vault_factory: Callable[[], Any] | None = None
    """Builds a Vault client on first use (``drd.clients.vault.VaultClient``); None when Vault is not configured."""
    identity: str = "drd"
    """Who acts (``user@host`` for the CLI, the pod name for the daemon); recorded in the audit trail."""
    prometheus_url: str | None = None
    """Base URL of the Prometheus server metric gates query (``DRD_PROMETHEUS_URL``); None when not configured."""
    _vault: Any = field(default=None, init=False, repr=False)

    def cluster(self, name: str) -> Cluster:
        """The inventory entry, or a clear error listing the known clusters."""
        try:
            return self.config.clusters[name]
        except KeyError:
            known = ", ".join(sorted(self.config.clusters)) or "none"
            raise UnknownCluster(f"cluster {name!r} is not in the inventory (known: {known})") from None

    def kube(self, name: str) -> KubeClient:
        """The client of an inventory cluster."""
        return self.connections.get(self.cluster(name))

    def velero_namespace(self, name: str) -> str:
        """Where Velero runs in that cluster."""
        return self.cluster(name).spec.velero_namespace

    def vault(self) -> Any:
        """The Vault client (built once), or a clear error when Vault is not configured."""
        if self._vault is None:
            if self.vault_factory is None:
                raise PermanentError("Vault is not configured: set VAULT_ADDR and VAULT_TOKEN")
            self._vault = self.vault_factory()
        return self._vault
