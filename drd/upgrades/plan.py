"""What ``drd upgrade plan`` shows: per stage and cluster, in order, the hop, the findings and the steps.

Pure: it takes the resolved stages and, per cluster, the gathered facts (or
why they could not be gathered) and returns a :class:`PlanReport`. Nothing
here acts on a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from drd.policy.durations import format_duration
from drd.policy.models.upgrade import ResolvedStage, UpgradePlan
from drd.upgrades import preflight, versions
from drd.upgrades.preflight import ClusterFacts, Finding, Severity


@dataclass(frozen=True)
class ClusterPlan:
    """One cluster of a stage: where it is, what blocks it, what would happen."""

    cluster: str
    role: str
    current: str | None
    target: str
    findings: tuple[Finding, ...]
    steps: tuple[str, ...]

    @property
    def blocked(self) -> bool:
        """Whether a finding blocks this cluster's upgrade."""
        return any(finding.blocking for finding in self.findings)


@dataclass(frozen=True)
class StagePlan:
    """One stage: its clusters in order, its concurrency, soak and gates."""

    index: int
    name: str
    concurrency: int
    soak: timedelta
    gates: tuple[str, ...]
    clusters: tuple[ClusterPlan, ...]


@dataclass(frozen=True)
class PlanReport:
    """The whole plan, stage by stage."""

    plan: str
    target: str
    stages: tuple[StagePlan, ...]

    @property
    def blocked(self) -> bool:
        """Whether any cluster is blocked (``drd upgrade plan`` then exits 1)."""
        return any(cluster.blocked for stage in self.stages for cluster in stage.clusters)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``-o json``)."""
        return {
            "plan": self.plan,
            "targetVersion": self.target,
            "blocked": self.blocked,
            "stages": [
                {
                    "name": stage.name,
                    "concurrency": stage.concurrency,
                    "soak": format_duration(stage.soak),
                    "gates": list(stage.gates),
                    "clusters": [
                        {
                            "name": c.cluster,
                            "role": c.role,
                            "currentVersion": c.current,
                            "targetVersion": c.target,
                            "blocked": c.blocked,
                            "findings": [
                                {"severity": str(f.severity), "object": f.object, "rule": f.rule, "message": f.message}
                                for f in c.findings
                            ],
                            "steps": list(c.steps),
                        }
                        for c in stage.clusters
                    ],
                }
                for stage in self.stages
            ],
        }


def build(
    plan: UpgradePlan,
    stages: tuple[ResolvedStage, ...],
    facts: Mapping[str, ClusterFacts | str],
) -> PlanReport:
    """The report; ``facts`` maps each cluster to its facts, or to why they could not be gathered."""
    target = plan.spec.target_version
    result = []
    for resolved in stages:
        clusters = []
        for cluster in resolved.clusters:
            gathered = facts[cluster.name]
            drill = plan.spec.canary_drill if resolved.index == 0 else None
            if isinstance(gathered, str):
                finding = Finding(Severity.BLOCKING, f"Cluster/{cluster.name}", gathered, "reachable")
                clusters.append(ClusterPlan(cluster.name, str(cluster.spec.role), None, target, (finding,), ()))
                continue
            found = preflight.check(gathered, target)
            steps = _steps(plan, gathered, drill)
            clusters.append(
                ClusterPlan(cluster.name, str(cluster.spec.role), gathered.server_version, target, found, steps)
            )
        stage = resolved.stage
        result.append(
            StagePlan(
                resolved.index, stage.name, stage.concurrency, stage.soak, tuple(stage.gate_names()), tuple(clusters)
            )
        )
    return PlanReport(plan.name, target, tuple(result))


def _steps(plan: UpgradePlan, facts: ClusterFacts, drill: str | None) -> tuple[str, ...]:
    target = versions.parse(plan.spec.target_version)
    drain = plan.spec.drain
    steps = []
    try:
        current = versions.parse(facts.server_version)
    except ValueError:
        current = None
    if current is not None and current >= target:
        steps.append(f"control plane: already at {facts.server_version}")
    else:
        steps.append(f"control plane: {facts.server_version or 'unknown'} → {target}, then verify")
    groups: dict[str, list[preflight.Node]] = {}
    for node in facts.nodes:
        groups.setdefault(node.group, []).append(node)
    force = "force after the timeout" if drain.force else "never force"
    for group, nodes in sorted(groups.items()):
        names = ", ".join(node.name for node in nodes)
        kubelets = ", ".join(sorted({node.kubelet_version for node in nodes}))
        steps.append(
            f"node group {group} ({len(nodes)} nodes: {names}): kubelets {kubelets} → {target}, "
            f"one node at a time, drain timeout {format_duration(drain.timeout)}, {force}"
        )
    steps.append("post-verify: nodes Ready, kubelets at the target, system workloads available")
    if drill:
        steps.append(f"canary drill: restore with DrillPolicy {drill} into this cluster; it must pass")
    return tuple(steps)
