"""An in-memory EKS cluster implementing :class:`drd.clients.eks.EksApi`, for the ``eks`` provider's state machine.

Updates follow a script: each ``describe_update`` moves an update one status
along ``script`` (``InProgress`` … then the last status, kept). A repeated
``clientRequestToken`` returns the update it started, as EKS does. ERROR
insights make ``update_cluster_version`` fail with ``InvalidStateException``,
as EKS enforces since March 2025. Every request is recorded in ``calls``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from drd.clients.eks import (
    AddonVersion,
    EksAddon,
    EksCluster,
    EksNodegroup,
    EksNotFound,
    EksRefused,
    EksUnavailable,
    EksUpdate,
    Insight,
    InsightSummary,
    UpdateError,
)


@dataclass
class _Update:
    update: EksUpdate
    script: list[str]
    resource: tuple[str, str]


@dataclass
class FakeEks:
    """One EKS cluster in memory (see the module docstring)."""

    name: str = "prod-a"
    version: str = "1.31"
    nodegroups: dict[str, str] = field(default_factory=dict)
    """Node group name → minor."""
    custom_ami: set[str] = field(default_factory=set)
    addons: dict[str, str] = field(default_factory=dict)
    """Add-on name → installed version."""
    addon_versions: dict[str, list[AddonVersion]] = field(default_factory=dict)
    insights: list[Insight] = field(default_factory=list)
    script: list[str] = field(default_factory=lambda: ["InProgress", "Successful"])
    """The statuses each new update goes through, one per describe_update."""
    errors: tuple[UpdateError, ...] = ()
    """The errors a Failed update reports."""
    unavailable: int = 0
    """How many describe_update calls fail with a temporary error first."""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    updates: dict[str, _Update] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def describe_cluster(self) -> EksCluster:
        self.calls.append(("describe_cluster", {}))
        return EksCluster(self.name, self.version, "ACTIVE")

    def update_cluster_version(self, version: str, *, token: str) -> EksUpdate:
        self.calls.append(("update_cluster_version", {"version": version, "token": token}))
        if any(i.summary.status == "ERROR" for i in self.insights) and token not in self.tokens:
            raise EksRefused(
                "update cluster version: InvalidStateException: Upgrade readiness issues detected.",
                system=f'eks cluster "{self.name}"',
                code="InvalidStateException",
            )
        return self._start(token, "VersionUpdate", ("", ""))

    def describe_update(self, update_id: str, *, nodegroup: str = "", addon: str = "") -> EksUpdate:
        self.calls.append(("describe_update", {"id": update_id, "nodegroup": nodegroup, "addon": addon}))
        if self.unavailable:
            self.unavailable -= 1
            raise EksUnavailable("describe update: ThrottlingException", system="eks")
        found = self.updates.get(update_id)
        if found is None or found.resource != (nodegroup, addon):
            raise EksNotFound(f"describe update {update_id}: ResourceNotFoundException", system="eks")
        if len(found.script) > 1:
            found.script.pop(0)
        status = found.script[0]
        found.update = replace(found.update, status=status, errors=self.errors if status == "Failed" else ())
        return found.update

    def list_nodegroups(self) -> list[str]:
        return list(self.nodegroups)

    def describe_nodegroup(self, nodegroup: str) -> EksNodegroup:
        if nodegroup not in self.nodegroups:
            raise EksNotFound(f"describe node group {nodegroup}: ResourceNotFoundException", system="eks")
        ami = "CUSTOM" if nodegroup in self.custom_ami else "AL2023_x86_64_STANDARD"
        return EksNodegroup(nodegroup, self.nodegroups[nodegroup], status="ACTIVE", ami_type=ami)

    def update_nodegroup_version(self, nodegroup: str, version: str, *, token: str, force: bool) -> EksUpdate:
        self.calls.append(("update_nodegroup_version", {"nodegroup": nodegroup, "version": version, "force": force}))
        return self._start(token, "VersionUpdate", (nodegroup, ""))

    def list_addons(self) -> list[str]:
        return list(self.addons)

    def describe_addon(self, addon: str) -> EksAddon:
        return EksAddon(addon, self.addons[addon], "ACTIVE")

    def describe_addon_versions(self, addon: str, kubernetes_version: str) -> list[AddonVersion]:
        return [v for v in self.addon_versions.get(addon, []) if kubernetes_version in v.cluster_versions]

    def update_addon(self, addon: str, version: str, *, token: str) -> EksUpdate:
        self.calls.append(("update_addon", {"addon": addon, "version": version}))
        return self._start(token, "AddonUpdate", ("", addon))

    def list_insights(self, kubernetes_version: str) -> list[InsightSummary]:
        return [i.summary for i in self.insights if i.summary.kubernetes_version == kubernetes_version]

    def describe_insight(self, insight_id: str) -> Insight:
        return next(i for i in self.insights if i.summary.id == insight_id)

    def started(self, operation: str) -> list[dict[str, Any]]:
        """The requests of one kind (``update_cluster_version``, …) made so far."""
        return [params for name, params in self.calls if name == operation]

    def _start(self, token: str, kind: str, resource: tuple[str, str]) -> EksUpdate:
        if token in self.tokens:
            return self.updates[self.tokens[token]].update
        update_id = f"u-{len(self.updates) + 1}"
        update = EksUpdate(update_id, "InProgress", kind)
        self.updates[update_id] = _Update(update, list(self.script), resource)
        self.tokens[token] = update_id
        return update
