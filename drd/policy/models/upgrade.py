"""``UpgradePlan``: a Kubernetes version for a fleet, reached stage by stage, canary first.

A plan names a ``targetVersion`` and ordered ``stages``. The first stage is
the canary stage: only clusters whose role is ``canary`` may be in it, so a
bad version meets a cluster drd may break before it meets one that matters.
Each stage selects clusters from the inventory (by name, role and labels),
upgrades at most ``concurrency`` of them at once, then soaks and passes its
``gates`` before the next stage starts.

What is checked where. This module checks what the documents alone can
decide: the target is a valid Kubernetes version, stage and gate names are
unique, metric thresholds cannot both pass and fail, the selected clusters
exist, each is in exactly one stage, the first stage is canaries only, and
``canaryDrill`` names a drill that may restore into the canary. Whether the
plan would *skip a minor* (or downgrade) for a cluster depends on the
version the cluster runs now, which configuration does not know: that is
checked at pre-flight (:mod:`drd.upgrades.preflight`), which blocks the
cluster and names the hop to take instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema, model_validator

from drd.policy.catalog import Catalog, Finding, error, warning
from drd.policy.durations import Duration, PositiveDuration
from drd.policy.locations import Loc
from drd.policy.models.backup import BackupPolicy
from drd.policy.models.base import Document, Model, raise_violations
from drd.policy.models.cluster import Cluster, Role
from drd.policy.models.drill import DrillPolicy
from drd.policy.names import Matches, Name, short
from drd.policy.selectors import LabelSelector

KUBERNETES_VERSION = r"^v1\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,3})$"

KubernetesVersion = Annotated[
    str,
    Matches(
        KUBERNETES_VERSION,
        "a Kubernetes release such as v1.32.0 (v, major 1, minor and patch; no build suffix such as -eks-…)",
        20,
        ("v1.32.0", "v1.31.4"),
    ),
]


def minor_of(version: str) -> int:
    """The minor of a valid :data:`KubernetesVersion` (``v1.32.0`` → 32)."""
    return int(version.split(".")[1])


class Comparison(StrEnum):
    """How a measured value is compared with a threshold."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


@dataclass(frozen=True)
class Condition:
    """``"<= 0.01"``: a comparison of the query's value with a threshold, compiled at load."""

    op: Comparison
    threshold: float

    def holds(self, value: float) -> bool:
        """Whether ``value`` satisfies the condition."""
        match self.op:
            case Comparison.LT:
                return value < self.threshold
            case Comparison.LE:
                return value <= self.threshold
            case Comparison.GT:
                return value > self.threshold
            case Comparison.GE:
                return value >= self.threshold

    def overlaps(self, other: Condition) -> bool:
        """Whether some value satisfies both conditions."""
        below = [c for c in (self, other) if c.op in (Comparison.LT, Comparison.LE)]
        above = [c for c in (self, other) if c.op in (Comparison.GT, Comparison.GE)]
        if len(below) != 1:  # both bound the same side: every value far enough out satisfies both
            return True
        upper, lower = below[0], above[0]
        if lower.threshold < upper.threshold:
            return True
        return lower.threshold == upper.threshold and upper.op is Comparison.LE and lower.op is Comparison.GE

    def __str__(self) -> str:
        return f"{self.op} {self.threshold:g}"


_CONDITION = re.compile(r"^\s*(<=|>=|<|>)\s*(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)\s*$")
_CONDITION_ACCEPTED = 'a comparison and a number, e.g. "<= 0.01" or "> 0.99" (operators <, <=, >, >=)'


def _condition(value: Any) -> Condition:
    if isinstance(value, Condition):
        return value
    match = _CONDITION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'"{short(str(value))}" is not {_CONDITION_ACCEPTED}')
    return Condition(Comparison(match.group(1)), float(match.group(2)))


ConditionField = Annotated[
    Condition,
    PlainValidator(_condition),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _CONDITION.pattern, "examples": ["<= 0.01", "> 0.99"]}),
]


class ClusterSelector(Model):
    """Which inventory clusters a stage upgrades: those in ``names``, plus every one matching ``role`` and ``labels``.

    ``role`` and ``labels`` select together (both must match); clusters named
    in ``names`` are selected whatever their role and labels. At least one of
    the three must be given.
    """

    names: tuple[Name, ...] = ()
    """Clusters by name, from the inventory."""
    role: Role | None = None
    """Every cluster with this role (and matching ``labels``, if given)."""
    labels: LabelSelector | None = None
    """Every cluster whose ``metadata.labels`` match (and with ``role``, if given)."""

    @model_validator(mode="after")
    def _selects_something(self) -> ClusterSelector:
        if not self.names and self.role is None and self.labels is None:
            raise_violations(self, [((), "select clusters by names, role or labels (none given)", None)])
        return self

    def selects(self, cluster: Cluster) -> bool:
        """Whether ``cluster`` is selected."""
        if cluster.name in self.names:
            return True
        if self.role is None and self.labels is None:
            return False
        role_ok = self.role is None or cluster.spec.role is self.role
        labels_ok = self.labels is None or self.labels.matches(cluster.metadata.labels)
        return role_ok and labels_ok


def check_thresholds(model: Model, pass_if: Condition, fail_if: Condition) -> None:
    """A located error on ``failIf`` when some value would both pass and fail (a gate and ``check.prometheus``)."""
    if pass_if.overlaps(fail_if):
        message = (
            f'passIf "{pass_if}" and failIf "{fail_if}" overlap: '
            "a value could both pass and fail; leave a gap (inconclusive) or meet at one number"
        )
        raise_violations(model, [(("failIf",), message, str(fail_if))])


class HealthGate(Model):
    """The upgraded clusters are healthy: nodes Ready, system workloads available (checked by the runner)."""

    type: Literal["health"]
    name: Name | None = None
    """How reports call the gate; default ``health-<position>``."""
    timeout: PositiveDuration = timedelta(minutes=10)
    """How long the clusters have to become healthy before the stage halts."""


class OnInconclusive(StrEnum):
    """What a metric gate does when its measurements neither pass nor fail (or there is no data)."""

    PAUSE = "pause"
    FAIL = "fail"


class MetricGate(Model):
    """A Prometheus query measured ``samples`` times, ``interval`` apart, against pass and fail thresholds.

    Every sample must satisfy ``passIf`` for the gate to pass; any sample
    satisfying ``failIf`` fails it (and halts the upgrade). Anything else
    (a value between the thresholds, an empty result, too few samples) is
    inconclusive, which never counts as a pass.
    """

    type: Literal["metric"]
    name: Name | None = None
    """How reports call the gate; default ``metric-<position>``."""
    query: Annotated[str, Field(min_length=1, max_length=8192)]
    """A PromQL expression returning one number, e.g. the API server's 5xx ratio over 5 minutes."""
    pass_if: ConditionField
    """The gate passes when every sample satisfies this, e.g. ``"<= 0.01"``."""
    fail_if: ConditionField
    """The gate fails when any sample satisfies this, e.g. ``"> 0.05"``; must not overlap ``passIf``."""
    samples: Annotated[int, Field(ge=1, le=100)] = 3
    """How many measurements are taken."""
    interval: PositiveDuration = timedelta(minutes=1)
    """Time between measurements."""
    on_inconclusive: OnInconclusive = OnInconclusive.PAUSE
    """``pause`` (wait for an operator to resume or skip) or ``fail`` (halt); never pass."""

    @model_validator(mode="after")
    def _thresholds_disjoint(self) -> MetricGate:
        check_thresholds(self, self.pass_if, self.fail_if)
        return self


class ApprovalGate(Model):
    """An operator approves before the next stage starts (``drd upgrade resume``; recorded)."""

    type: Literal["approval"]
    name: Name | None = None
    """How reports call the gate; default ``approval-<position>``."""
    timeout: PositiveDuration | None = None
    """Halt if nobody approves within this long; default wait indefinitely."""


Gate = Annotated[HealthGate | MetricGate | ApprovalGate, Field(discriminator="type")]


class Stage(Model):
    """A set of clusters upgraded together, then soaked and gated before the next stage."""

    name: Name
    """Unique within the plan; used in reports and metrics labels."""
    clusters: ClusterSelector
    """Which inventory clusters this stage upgrades."""
    concurrency: Annotated[int, Field(ge=1, le=100)] = 1
    """At most this many clusters of the stage upgrade at once."""
    soak: Duration = timedelta(0)
    """After every cluster of the stage is done, wait this long (gates are evaluated at its end)."""
    gates: tuple[Gate, ...] = ()
    """Checks after the soak that must pass before the next stage starts, in order."""

    def gate_names(self) -> list[str]:
        """Each gate's name, or ``<type>-<position>``."""
        return [gate.name or f"{gate.type}-{index + 1}" for index, gate in enumerate(self.gates)]


class Drain(Model):
    """How nodes are drained when their node group is replaced."""

    timeout: PositiveDuration = timedelta(minutes=10)
    """Halt (naming the blocking pod and PodDisruptionBudget) if a node is not drained in this long."""
    force: bool = False
    """Delete pods a PodDisruptionBudget protects after ``timeout`` instead of halting; default never."""


class UpgradePlanSpec(Model):
    """The target version and the order in which the fleet reaches it."""

    target_version: KubernetesVersion
    """The Kubernetes release every selected cluster ends on, e.g. ``v1.32.0``; one minor above each cluster."""
    stages: Annotated[tuple[Stage, ...], Field(min_length=1, max_length=50)]
    """In order; the first is the canary stage and may hold only clusters whose role is ``canary``."""
    drain: Drain = Drain()
    """Drain timeout and whether to force."""
    verify_timeout: PositiveDuration = timedelta(minutes=10)
    """How long verification after the control plane and after the node groups waits for nodes and workloads
    to be Ready before the cluster halts (naming what is not Ready)."""
    canary_drill: Name | None = None
    """A DrillPolicy restored into each canary after its upgrade; it must pass before the next stage."""

    @model_validator(mode="after")
    def _names_unique(self) -> UpgradePlanSpec:
        violations: list[tuple[Loc, str, Any]] = []
        stage_names = [stage.name for stage in self.stages]
        for index, name in enumerate(stage_names):
            if name in stage_names[:index]:
                first = stage_names.index(name)
                violations.append((("stages", index, "name"), f'"{name}" is already the name of stages[{first}]', name))
        for stage_index, stage in enumerate(self.stages):
            gate_names = stage.gate_names()
            for index, name in enumerate(gate_names):
                if name in gate_names[:index]:
                    loc: Loc = ("stages", stage_index, "gates", index, "name")
                    first = gate_names.index(name)
                    violations.append((loc, f'"{name}" is already the name of gates[{first}]', name))
        raise_violations(self, violations)
        return self

    @property
    def target_minor(self) -> int:
        """The target's minor version."""
        return minor_of(self.target_version)


class UpgradePlan(Document):
    """A Kubernetes version for a fleet, reached stage by stage, canary first."""

    kind: Literal["UpgradePlan"]
    spec: UpgradePlanSpec


@dataclass(frozen=True)
class ResolvedStage:
    """A stage with the inventory clusters it selects, in name order."""

    index: int
    stage: Stage
    clusters: tuple[Cluster, ...]


def resolve_stages(plan: UpgradePlan, clusters: Mapping[str, Cluster]) -> tuple[ResolvedStage, ...]:
    """Each stage with the clusters it upgrades; a cluster selected by several stages belongs to the first."""
    taken: set[str] = set()
    resolved = []
    for index, stage in enumerate(plan.spec.stages):
        selected = [c for _, c in sorted(clusters.items()) if stage.clusters.selects(c) and c.name not in taken]
        taken.update(c.name for c in selected)
        resolved.append(ResolvedStage(index, stage, tuple(selected)))
    return tuple(resolved)


def check_upgrade_plan(plan: UpgradePlan, catalog: Catalog) -> Iterator[Finding]:
    """Cross-document rules: clusters exist, each in exactly one stage, canaries first, the canary drill fits."""
    clusters = catalog.of_kind(Cluster)
    known = ", ".join(sorted(clusters)) or "none"
    owner: dict[str, int] = {}
    for index, stage in enumerate(plan.spec.stages):
        where: Loc = ("spec", "stages", index, "clusters")
        for position, name in enumerate(stage.clusters.names):
            if name not in clusters and not catalog.is_invalid(Cluster, name):
                yield error((*where, "names", position), f'cluster "{name}" is not in the inventory (known: {known})')
        selected = [c for _, c in sorted(clusters.items()) if stage.clusters.selects(c)]
        missing_named = any(name not in clusters for name in stage.clusters.names)
        if not selected and not missing_named:
            yield error(where, f'stage "{stage.name}" selects no cluster of the inventory (known: {known})')
        for cluster in selected:
            first = owner.setdefault(cluster.name, index)
            if first != index:
                yield error(
                    where,
                    f'cluster "{cluster.name}" is already upgraded by stages[{first}] '
                    f'("{plan.spec.stages[first].name}"); each cluster belongs to exactly one stage',
                )
        if index == 0:
            yield from _canaries_only(stage, selected)
    for name in sorted(set(clusters) - set(owner)):
        yield warning(
            ("spec", "stages"), f'cluster "{name}" is in no stage: this plan leaves it on its current version'
        )
    first_stage = plan.spec.stages[0]
    if not first_stage.soak and not first_stage.gates:
        yield warning(
            ("spec", "stages", 0, "soak"),
            "the canary stage has no soak and no gates: the next stage starts as soon as the canary is upgraded",
        )
    yield from _check_canary_drill(plan, catalog, canaries=[c for c in clusters.values() if owner.get(c.name) == 0])


def _canaries_only(stage: Stage, selected: list[Cluster]) -> Iterator[Finding]:
    for cluster in selected:
        if cluster.spec.role is not Role.CANARY:
            yield error(
                ("spec", "stages", 0, "clusters"),
                f'the first stage is the canary stage, but cluster "{cluster.name}" has role "{cluster.spec.role}": '
                "only clusters with role canary may be upgraded first, so a bad version reaches a cluster "
                "drd may break before one that serves; move it to a later stage",
            )


def _check_canary_drill(plan: UpgradePlan, catalog: Catalog, *, canaries: list[Cluster]) -> Iterator[Finding]:
    name = plan.spec.canary_drill
    if name is None:
        return
    drill = catalog.get(DrillPolicy, name)
    if drill is None:
        if not catalog.is_invalid(DrillPolicy, name):
            known = ", ".join(sorted(catalog.of_kind(DrillPolicy))) or "none"
            yield error(("spec", "canaryDrill"), f'DrillPolicy "{name}" does not exist (known: {known})')
        return
    backup = catalog.get(BackupPolicy, drill.spec.backup_policy)
    for canary in canaries:
        if backup is not None and backup.spec.cluster == canary.name:
            yield error(
                ("spec", "canaryDrill"),
                f'DrillPolicy "{name}" restores backups of cluster "{canary.name}" itself: '
                "the canary drill must restore another cluster's backup into the canary",
            )
