"""Pre-flight rules for one cluster's upgrade: pure functions from gathered facts to findings.

The version rules are Kubernetes' version-skew policy
(https://kubernetes.io/releases/version-skew-policy/):

- the control plane moves one minor at a time: never skipping a minor, never
  downgrading (a patch upgrade within the minor is fine);
- a kubelet is never newer than the control plane, and at most 3 minors older
  (2 when the control plane is older than 1.28); so a control-plane upgrade
  that would leave a kubelet too far behind is blocked, naming the node.

The drain rules: a PodDisruptionBudget allowing 0 disruptions while pods it
protects run on a node blocks that node's drain (named, with the pods), and a
node that is not Ready is named.

The deprecated-API rule: an API version some client requested
(``apiserver_requested_deprecated_apis``) that the target release no longer
serves blocks, naming the API and the version to move to; one removed in a
later release is a warning; usage that could not be read is a warning too
(never a silent pass). Each rule returns :class:`Finding` values; any
``blocking`` finding stops the cluster's upgrade before it starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from drd.upgrades import versions
from drd.upgrades.versions import Version

MAX_NAMED = 10
"""A finding lists at most this many pods by name, then counts the rest."""


class Severity(StrEnum):
    """``blocking`` stops the cluster's upgrade; ``warning`` is reported and does not."""

    BLOCKING = "blocking"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One thing pre-flight found about one object (``Node/…``, ``PodDisruptionBudget/ns/name``, ``Cluster/…``)."""

    severity: Severity
    object: str
    message: str
    rule: str
    """Which rule found it: ``control-plane-version``, ``kubelet-skew``, ``pdb-blocks-drain``, ``node-ready``, …"""

    @property
    def blocking(self) -> bool:
        """Whether the finding stops the upgrade."""
        return self.severity is Severity.BLOCKING

    def __str__(self) -> str:
        return f"{self.severity}: {self.object}: {self.message}"


@dataclass(frozen=True)
class Node:
    """What pre-flight needs of a node."""

    name: str
    kubelet_version: str
    ready: bool
    unschedulable: bool = False
    group: str = "default"
    """The node group it belongs to (replaced together)."""


@dataclass(frozen=True)
class PodRef:
    """A pod a drain would evict, and where it runs."""

    namespace: str
    name: str
    node: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Budget:
    """A PodDisruptionBudget with ``status.disruptionsAllowed`` and the evictable pods it selects."""

    namespace: str
    name: str
    disruptions_allowed: int
    pods: tuple[PodRef, ...] = ()


@dataclass(frozen=True)
class DeprecatedApi:
    """A deprecated API version requested since the API server started, and the release removing it."""

    group: str
    version: str
    resource: str
    subresource: str = ""
    removed_release: str = ""
    """``1.32``; empty when no removal is planned."""

    def __str__(self) -> str:
        path = "/".join(part for part in (self.group, self.version, self.resource, self.subresource) if part)
        return f"API/{path}"


REPLACEMENTS: Mapping[tuple[str, str], str] = {
    ("flowcontrol.apiserver.k8s.io", "v1beta3"): "flowcontrol.apiserver.k8s.io/v1",
    ("flowcontrol.apiserver.k8s.io", "v1beta2"): "flowcontrol.apiserver.k8s.io/v1",
    ("storage.k8s.io", "v1beta1"): "storage.k8s.io/v1",
    ("autoscaling", "v2beta2"): "autoscaling/v2",
    ("autoscaling", "v2beta1"): "autoscaling/v2",
    ("batch", "v1beta1"): "batch/v1",
    ("discovery.k8s.io", "v1beta1"): "discovery.k8s.io/v1",
    ("events.k8s.io", "v1beta1"): "events.k8s.io/v1",
    ("policy", "v1beta1"): "policy/v1",
    ("node.k8s.io", "v1beta1"): "node.k8s.io/v1",
}
"""The version to move to, from the Kubernetes deprecation guide (removals in 1.25–1.32)."""


@dataclass(frozen=True)
class ClusterFacts:
    """Everything pre-flight reads from one cluster."""

    cluster: str
    server_version: str
    """``/version`` gitVersion, e.g. ``v1.31.4-eks-a5ec690``."""
    nodes: tuple[Node, ...] = ()
    budgets: tuple[Budget, ...] = ()
    deprecated_apis: tuple[DeprecatedApi, ...] = ()
    """Deprecated API versions clients requested (the API server's ``apiserver_requested_deprecated_apis``)."""
    deprecated_apis_unchecked: str | None = None
    """Why deprecated-API usage could not be read (403 on ``/metrics``…); None when it was."""


def control_plane(cluster: str, current: Version, target: Version) -> list[Finding]:
    """The control plane may move one minor up (or a patch within its minor); never skip, never go down."""
    subject = f"Cluster/{cluster}"
    step = target.minors_above(current)
    if step < 0 or (step == 0 and (target.patch < current.patch)):
        message = f"{current} → {target} is a downgrade: a Kubernetes control plane cannot be downgraded"
        return [Finding(Severity.BLOCKING, subject, message, "control-plane-version")]
    if step > 1:
        skipped = ", ".join(f"{current.major}.{current.minor + n}" for n in range(1, step)) if step < 100 else "a major"
        message = (
            f"{current} → {target} would skip {skipped}: the control plane moves one minor at a time, "
            f"never skipping; upgrade to {current.major}.{current.minor + 1} first"
        )
        return [Finding(Severity.BLOCKING, subject, message, "control-plane-version")]
    return []


def kubelet_skew(nodes: Iterable[Node], current: Version, target: Version) -> list[Finding]:
    """Each kubelet must not be newer than the control plane, nor too far behind the target control plane."""
    findings = []
    allowed = versions.max_kubelet_skew(target)
    for node in nodes:
        subject = f"Node/{node.name}"
        try:
            kubelet = versions.parse(node.kubelet_version)
        except ValueError as exc:
            findings.append(Finding(Severity.BLOCKING, subject, f"kubelet version unknown: {exc}", "kubelet-skew"))
            continue
        if kubelet.minors_above(current) > 0:
            message = (
                f"kubelet {kubelet} is newer than the control plane {current}: "
                "a kubelet must never be newer than kube-apiserver"
            )
            findings.append(Finding(Severity.BLOCKING, subject, message, "kubelet-skew"))
        elif (behind := target.minors_above(kubelet)) > allowed:
            message = (
                f"kubelet {kubelet} would be {behind} minors behind the control plane at {target} "
                f"(at most {allowed} allowed): upgrade this node's group to {current.minor_name} "
                "before the control plane"
            )
            findings.append(Finding(Severity.BLOCKING, subject, message, "kubelet-skew"))
    return findings


def budgets_blocking_drain(budgets: Iterable[Budget]) -> list[Finding]:
    """A PodDisruptionBudget allowing no disruption blocks the drain of every node its pods run on."""
    findings = []
    for budget in budgets:
        if budget.disruptions_allowed > 0 or not budget.pods:
            continue
        named = ", ".join(f"{pod} (on {pod.node})" for pod in budget.pods[:MAX_NAMED])
        more = f" and {len(budget.pods) - MAX_NAMED} more" if len(budget.pods) > MAX_NAMED else ""
        nodes = sorted({pod.node for pod in budget.pods})
        message = (
            f"allows {budget.disruptions_allowed} disruptions and protects {named}{more}: "
            f"draining {', '.join(nodes)} would wait for it until the drain timeout"
        )
        subject = f"PodDisruptionBudget/{budget.namespace}/{budget.name}"
        findings.append(Finding(Severity.BLOCKING, subject, message, "pdb-blocks-drain"))
    return findings


def node_readiness(nodes: Iterable[Node]) -> list[Finding]:
    """Every node must be Ready; a cordoned node is reported (perhaps left over from an earlier drain)."""
    findings = []
    for node in nodes:
        subject = f"Node/{node.name}"
        if not node.ready:
            message = "not Ready: fix or remove it first; its node group cannot be rolled predictably"
            findings.append(Finding(Severity.BLOCKING, subject, message, "node-ready"))
        elif node.unschedulable:
            message = "cordoned (spec.unschedulable): left over from an earlier drain? it is drained with its group"
            findings.append(Finding(Severity.WARNING, subject, message, "node-cordoned"))
    return findings


def deprecated_apis(
    cluster: str, apis: Iterable[DeprecatedApi], target: Version, *, unchecked: str | None = None
) -> list[Finding]:
    """An API still requested that ``target`` no longer serves blocks; one removed later warns; unread warns."""
    findings = []
    if unchecked is not None:
        message = (
            f"deprecated-API usage could not be checked ({unchecked}): the check did not run, so clients of APIs "
            f"{target.minor_name} removes may break; allow drd to get the non-resource URL /metrics"
        )
        findings.append(Finding(Severity.WARNING, f"Cluster/{cluster}", message, "deprecated-api"))
    for api in apis:
        move = REPLACEMENTS.get((api.group, api.version))
        advice = f"move its clients to {move} first" if move else "move its clients to a served version first"
        try:
            removed = versions.parse(api.removed_release)
        except ValueError:
            message = f"deprecated and requested since the API server started; {advice.replace(' first', '')}"
            findings.append(Finding(Severity.WARNING, str(api), message, "deprecated-api"))
            continue
        if target.minors_above(removed) >= 0:
            message = (
                f"requested since the API server started, and removed in {removed.minor_name}: "
                f"{target} no longer serves it; {advice}"
            )
            findings.append(Finding(Severity.BLOCKING, str(api), message, "deprecated-api"))
        else:
            message = (
                f"deprecated and requested; {target} still serves it, {removed.minor_name} removes it: "
                f"{advice.replace(' first', '')} before that upgrade"
            )
            findings.append(Finding(Severity.WARNING, str(api), message, "deprecated-api"))
    return findings


def check(facts: ClusterFacts, target: str) -> tuple[Finding, ...]:
    """Every finding for upgrading ``facts.cluster`` to ``target``: versions, deprecated APIs, drains, nodes."""
    wanted = versions.parse(target)
    findings: list[Finding] = []
    try:
        current = versions.parse(facts.server_version)
    except ValueError as exc:
        message = f"server version unknown, so the version rules cannot be checked: {exc}"
        findings.append(Finding(Severity.BLOCKING, f"Cluster/{facts.cluster}", message, "control-plane-version"))
    else:
        findings += control_plane(facts.cluster, current, wanted)
        findings += kubelet_skew(facts.nodes, current, wanted)
    findings += deprecated_apis(facts.cluster, facts.deprecated_apis, wanted, unchecked=facts.deprecated_apis_unchecked)
    findings += budgets_blocking_drain(facts.budgets)
    findings += node_readiness(facts.nodes)
    if not facts.nodes:
        message = "no nodes: only the control plane would be upgraded"
        findings.append(Finding(Severity.WARNING, f"Cluster/{facts.cluster}", message, "node-ready"))
    return tuple(findings)


def blocking(findings: Iterable[Finding]) -> Iterator[Finding]:
    """The findings that stop the upgrade."""
    return (finding for finding in findings if finding.blocking)
