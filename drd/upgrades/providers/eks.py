"""The ``eks`` upgrade provider: Amazon EKS moves the control plane, add-ons and managed node groups.

Everything goes through :class:`drd.clients.eks.EksApi` (boto3 lives in
:mod:`drd.clients.eks`; tests pass an in-memory fake). EKS's rules, enforced
here before asking so the refusal names what to fix:

* the control plane moves one minor at a time (:func:`check_control_plane_hop`),
  and only once every managed node group runs the control plane's minor
  (``UpdateClusterVersion`` requires it; the groups behind are named);
* a node group never runs a minor newer than the control plane
  (:func:`check_node_group_version`); ``force`` (replace nodes whose pods a
  PodDisruptionBudget will not let go) only when the plan's drain says so;
  a group on a custom AMI is refused (its launch template decides the version);
* an add-on whose installed version does not list the target minor among its
  compatibilities moves to the version EKS marks default for that minor.

Updates are asynchronous. An operation id names the cluster, the resource and
EKS's update id (``eks:prod-a:nodegroup/ng-1:<updateId>``), so a provider built
after a crash can :meth:`EksProvider.wait` on an id an earlier one returned; the
update id ``-`` means nothing had to change. Requests carry a
``clientRequestToken`` derived from cluster, resource and versions, so a step
repeated after a crash gets the update it already started instead of a second
one; if that update had already failed (a resume after a failure), a new token
derived from the failed update's id starts a fresh attempt.

:meth:`EksProvider.wait` polls ``DescribeUpdate`` (EKS has no waiter for
updates). ``Failed`` or ``Cancelled`` is a :class:`ProviderError` carrying EKS's
error codes, messages and the resources they name (``PodEvictionFailure`` with
the node group), so a halt says what blocked. The deadline raises
:class:`UpgradeTimedOut` (temporary: the update may still finish).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from functools import partial

from drd.clients.eks import (
    EksApi,
    EksClient,
    EksError,
    EksNodegroup,
    EksUnavailable,
    EksUpdate,
    Insight,
    InsightSummary,
)
from drd.clock import Clock, SystemClock
from drd.errors import TemporaryError
from drd.policy.models.cluster import Cluster
from drd.upgrades.preflight import Finding, Severity
from drd.upgrades.providers import NodeGroup, ProviderError, check_control_plane_hop, check_node_group_version
from drd.upgrades.providers.registry import DrainPolicy
from drd.upgrades.versions import parse

DONE = "-"
"""The update id of an operation that had nothing to do."""
CLUSTER = "cluster"
_FINISHED_BADLY = {"Failed", "Cancelled"}
_ATTEMPTS = 5
"""How many earlier failed updates of one step a resume steps over before giving up."""
_CONTEXT_ARN = re.compile(r"^arn:aws[a-z-]*:eks:[a-z0-9-]+:[0-9]+:cluster/(?P<name>[0-9A-Za-z][A-Za-z0-9_-]*)$")
_HINTS = {
    "PodEvictionFailure": (
        "a PodDisruptionBudget (or a pod EKS could not evict) held the drain: `drd upgrade plan` names blocking "
        "budgets; set `drain: {force: true}` in the plan only to replace the nodes regardless"
    ),
}


class UpgradeTimedOut(TemporaryError):
    """An EKS update was still running at the deadline; it may yet finish, so waiting again may succeed."""

    def __init__(self, operation: str, *, waited: float, last_seen: str, cause: str = "") -> None:
        because = f"; last API error: {cause}" if cause else ""
        super().__init__(
            f"timed out after {waited:g}s waiting for {operation}; last seen: {last_seen}{because}", delay=30.0
        )
        self.operation = operation
        self.waited = waited
        self.last_seen = last_seen


def eks_name(cluster: Cluster) -> str:
    """The EKS name of an inventory cluster: from a context ``arn:aws:eks:…:cluster/NAME``, else its drd name."""
    match = _CONTEXT_ARN.match(cluster.spec.connection.context or "")
    return match["name"] if match else cluster.name


class EksProvider:
    """Upgrades of EKS clusters, each reached through an :class:`EksApi` by drd's cluster name."""

    name = "eks"

    def __init__(
        self,
        clusters: Mapping[str, EksApi],
        *,
        drain: DrainPolicy | None = None,
        clock: Clock | None = None,
        poll_seconds: float = 30.0,
    ) -> None:
        self._clusters = dict(clusters)
        self.drain = drain or DrainPolicy()
        self.clock: Clock = clock or SystemClock()
        self.poll_seconds = poll_seconds

    @classmethod
    def for_cluster(cls, cluster: Cluster, *, drain: DrainPolicy) -> EksProvider:
        """The provider of one inventory cluster, over boto3 in the cluster's region."""
        return cls({cluster.name: EksClient(eks_name(cluster), region=cluster.spec.region)}, drain=drain)

    # ------------------------------------------------------------------ control plane

    def control_plane_version(self, cluster: str) -> str:
        """``v1.31``: EKS reports the minor only (it chooses the patch)."""
        return f"v{self._api(cluster).describe_cluster().version}"

    def upgrade_control_plane(self, cluster: str, version: str) -> str:
        api = self._api(cluster)
        current = api.describe_cluster().version
        check_control_plane_hop(cluster, current, version)
        target = parse(version).minor_name
        if target == current:
            return _operation(cluster, CLUSTER, DONE)
        behind = [g for g in self._describe_groups(api) if g.version != current]
        if behind:
            named = ", ".join(f"{g.name} ({g.version})" for g in behind)
            raise ProviderError(
                f"cluster {cluster}: EKS upgrades the control plane only when every managed node group runs its "
                f"version {current}; upgrade these node groups to {current} first: {named}"
            )
        try:
            update = self._start(cluster, api, CLUSTER, partial(api.update_cluster_version, target), current, target)
        except EksError as exc:
            if exc.code != "InvalidStateException":
                raise
            raise ProviderError(f"cluster {cluster}: {exc}{self._blockers(cluster, api, target)}") from exc
        return _operation(cluster, CLUSTER, update.id)

    # ------------------------------------------------------------------ waiting

    def wait(self, operation: str, *, timeout_seconds: float = 3600.0) -> None:
        cluster, resource, update_id = _parse_operation(operation)
        api = self._api(cluster)
        if update_id == DONE:
            return
        kind, _, name = resource.partition("/")
        started = self.clock.monotonic()
        last_seen, cause = "not read yet", ""
        while True:
            try:
                update = api.describe_update(
                    update_id, nodegroup=name if kind == "nodegroup" else "", addon=name if kind == "addon" else ""
                )
            except EksUnavailable as exc:
                cause = str(exc)
            else:
                if update.status == "Successful":
                    return
                if update.status in _FINISHED_BADLY:
                    raise ProviderError(_failure(cluster, resource, update, operation))
                last_seen, cause = f"{update.type or 'update'} {update.status}", ""
            waited = self.clock.monotonic() - started
            if waited >= timeout_seconds:
                raise UpgradeTimedOut(operation, waited=waited, last_seen=last_seen, cause=cause)
            self.clock.sleep(min(self.poll_seconds, timeout_seconds - waited))

    # ------------------------------------------------------------------ node groups

    def node_groups(self, cluster: str) -> list[NodeGroup]:
        """The managed node groups; EKS names no nodes (drd's facts find them by the node group label)."""
        return [
            NodeGroup(name=g.name, nodes=(), versions=(f"v{g.version}",) if g.version else ())
            for g in sorted(self._describe_groups(self._api(cluster)), key=lambda g: g.name)
        ]

    def upgrade_node_group(self, cluster: str, group: str, version: str) -> str:
        api = self._api(cluster)
        control_plane = api.describe_cluster().version
        check_node_group_version(cluster, group, f"v{control_plane}", version)
        found = api.describe_nodegroup(group)
        target = parse(version).minor_name
        if found.version == target:
            return _operation(cluster, f"nodegroup/{group}", DONE)
        if found.ami_type == "CUSTOM":
            raise ProviderError(
                f"cluster {cluster}: node group {group} runs a custom AMI; EKS takes its Kubernetes version from "
                f"the launch template, so drd cannot move it to {target}: update the launch template instead"
            )
        start = partial(api.update_nodegroup_version, group, target, force=self.drain.force)
        forced = "force" if self.drain.force else ""
        update = self._start(cluster, api, f"nodegroup/{group}", start, found.version, target, forced)
        return _operation(cluster, f"nodegroup/{group}", update.id)

    # ------------------------------------------------------------------ add-ons

    def upgrade_addons(self, cluster: str, version: str) -> list[str]:
        api = self._api(cluster)
        target = parse(version).minor_name
        started = []
        for addon in sorted(api.list_addons()):
            installed = api.describe_addon(addon)
            available = api.describe_addon_versions(addon, target)
            if any(v.version == installed.version and target in v.cluster_versions for v in available):
                continue
            chosen = next((v for v in available if target in v.default_for), None)
            chosen = chosen or next((v for v in available if target in v.cluster_versions), None)
            if chosen is None:
                raise ProviderError(
                    f"cluster {cluster}: add-on {addon} {installed.version} has no version EKS publishes for "
                    f"Kubernetes {target}; remove it or install a compatible version yourself"
                )
            start = partial(api.update_addon, addon, chosen.version)
            update = self._start(cluster, api, f"addon/{addon}", start, installed.version, chosen.version)
            started.append(_operation(cluster, f"addon/{addon}", update.id))
        return started

    # ------------------------------------------------------------------ readiness

    def readiness(self, cluster: str, version: str) -> list[Finding]:
        """EKS upgrade insights for the target minor: ERROR and UNKNOWN block, WARNING warns, PASSING is silent."""
        api = self._api(cluster)
        target = parse(version).minor_name
        findings = []
        for summary in api.list_insights(target):
            if summary.status == "PASSING":
                continue
            insight = api.describe_insight(summary.id)
            severity = Severity.WARNING if summary.status == "WARNING" else Severity.BLOCKING
            where = insight.resources[0] if len(insight.resources) == 1 else f"Cluster/{cluster}"
            findings.append(Finding(severity, where, _insight_message(insight), "eks-insight"))
        return findings

    # ------------------------------------------------------------------ helpers

    def _api(self, cluster: str) -> EksApi:
        api = self._clusters.get(cluster)
        if api is None:
            raise ProviderError(f"cluster {cluster}: not an EKS cluster of this provider ({', '.join(self._clusters)})")
        return api

    def _describe_groups(self, api: EksApi) -> list[EksNodegroup]:
        return [api.describe_nodegroup(name) for name in api.list_nodegroups()]

    def _start(
        self, cluster: str, api: EksApi, resource: str, start: Callable[..., EksUpdate], *versions: str
    ) -> EksUpdate:
        """Start an update idempotently (see the module docstring): same step, same token, same update."""
        token = _token(api.name, resource, *versions)
        for _ in range(_ATTEMPTS):
            update = start(token=token)
            if update.status not in _FINISHED_BADLY:
                return update
            token = _token(api.name, resource, *versions, update.id)
        raise ProviderError(f"cluster {cluster}: {resource} already failed {_ATTEMPTS} times on EKS; see its updates")

    def _blockers(self, cluster: str, api: EksApi, target: str) -> str:
        """The blocking insights, to name in the refusal (EKS's own message only says to call ListInsights)."""
        try:
            blocking = [f for f in self.readiness(cluster, f"v{target}.0") if f.blocking]
        except EksError:
            return ""
        return "; blocking insights: " + "; ".join(f.message for f in blocking) if blocking else ""


def _token(*parts: str) -> str:
    return "drd-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _operation(cluster: str, resource: str, update_id: str) -> str:
    return f"eks:{cluster}:{resource}:{update_id}"


def _parse_operation(operation: str) -> tuple[str, str, str]:
    parts = operation.split(":")
    if len(parts) != 4 or parts[0] != "eks" or not all(parts[1:]):
        raise ProviderError(f"eks: {operation!r} is not an EKS operation id (eks:CLUSTER:RESOURCE:UPDATE)")
    return parts[1], parts[2], parts[3]


def _failure(cluster: str, resource: str, update: EksUpdate, operation: str) -> str:
    """What failed, with every error EKS reported and the resources it named (plus a hint for known codes)."""
    what = "control plane" if resource == CLUSTER else resource.replace("/", " ", 1)
    params = ", ".join(f"{k} {v}" for k, v in update.params)
    errors = "; ".join(str(e) for e in update.errors) or "EKS reported no error details"
    hints = [_HINTS[e.code] for e in update.errors if e.code in _HINTS]
    hint = f" ({'; '.join(dict.fromkeys(hints))})" if hints else ""
    return (
        f"cluster {cluster}: {what} {update.type or 'update'}{f' ({params})' if params else ''} "
        f"{update.status}: {errors}{hint} [{operation}]"
    )


def _insight_message(insight: Insight) -> str:
    summary: InsightSummary = insight.summary
    parts = [f"EKS insight {summary.name!r} is {summary.status}"]
    if summary.reason or summary.description:
        parts.append(summary.reason or summary.description)
    for d in insight.deprecations:
        removed = f" is removed in {d.stop_serving_version}" if d.stop_serving_version else " is deprecated"
        instead = f" (use {d.replaced_with})" if d.replaced_with else ""
        callers = ", ".join(f"{c.user_agent} ({c.requests_last_30_days} requests in 30 days)" for c in d.clients)
        parts.append(f"{d.usage}{removed}{instead}" + (f", still called by {callers}" if callers else ""))
    if len(insight.resources) > 1:
        parts.append("resources: " + ", ".join(insight.resources))
    if insight.recommendation:
        parts.append(insight.recommendation)
    return "; ".join(parts)
