"""Where an upgrade stands, and what to start next: a pure function of the plan and its recorded runs.

An upgrade is recorded as runs on the one engine: one ``upgrade-cluster`` run
per cluster (subject ``<plan>/<cluster>``; a resumed cluster keeps its run, a
retried one gets a new run) and one ``upgrade-stage`` run per stage with a soak
or gates (subject ``<plan>/<stage>``). Nothing else holds the state, so the
CLI, the daemon and a restarted process all read the same answer here:

* stages go in order; a stage starts its clusters, at most ``concurrency`` at
  once, only when every earlier stage is done (clusters and gates);
* a cluster whose latest run failed, or waits for an operator, **halts** the
  plan: nothing more starts, in this stage or later, until it is resumed or
  skipped (sticky: only an operator changes it);
* when all clusters of a stage are done or skipped, the stage's run (soak,
  gates) starts; it failing halts the plan, an approval or an inconclusive
  metric waiting for an operator pauses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from drd.outcomes import Phase
from drd.policy.models.upgrade import ResolvedStage, UpgradePlan
from drd.store.records import RunRecord
from drd.upgrades.stages import needs_stage_run

CLUSTER_KIND = "upgrade-cluster"
"""``drd_runs.kind`` of one cluster's upgrade."""
STAGE_KIND = "upgrade-stage"
"""``drd_runs.kind`` of a stage's soak and gates."""

STEP_PHASES = {
    "preflight": "preflight",
    "backup": "backup",
    "control-plane": "control_plane",
    "verify": "verify",
    "addons": "addons",
    "node-groups": "node_groups",
    "post-verify": "post_verify",
}
"""Step of the cluster runbook → the phase it reports (the drill's steps report ``canary_drill``)."""

PHASES = (
    "pending",
    *STEP_PHASES.values(),
    "canary_drill",
    "soak",
    "done",
    "halted",
    "skipped",
)
"""Every value of ``drd_upgrade_cluster_phase``'s ``phase`` label, in the order a cluster goes through them."""


def subject(plan: str, part: str) -> str:
    """``<plan>/<cluster>`` or ``<plan>/<stage>``."""
    return f"{plan}/{part}"


class PlanPhase(StrEnum):
    """Where a whole plan stands."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    """An operator must act: an approval, an inconclusive metric gate, a run in doubt."""
    HALTED = "halted"
    """A cluster or a gate failed: nothing more starts until an operator resumes or skips."""
    DONE = "done"


@dataclass(frozen=True)
class CurrentStep:
    """The step a run is in (or stopped at), and that step's last error."""

    step: str
    error: str = ""


@dataclass(frozen=True)
class ClusterProgress:
    """One cluster of the plan."""

    stage: str
    cluster: str
    phase: str
    """One of :data:`PHASES`."""
    run: str | None = None
    reason: str = ""
    """Why it halted, waits or was skipped (names the blocking object)."""
    finished_at: datetime | None = None


@dataclass(frozen=True)
class StageProgress:
    """One stage of the plan."""

    name: str
    phase: str
    """``pending``, ``upgrading``, ``gating``, ``waiting``, ``halted`` or ``done``."""
    clusters: tuple[ClusterProgress, ...]
    run: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class StartCluster:
    """Submit a run of ``upgrade-cluster`` for this cluster."""

    stage: str
    cluster: str
    drill: str
    """The canary drill (on the canary stage), else empty."""


@dataclass(frozen=True)
class StartStage:
    """Submit the stage's soak-and-gates run."""

    stage: ResolvedStage
    soak_until: datetime
    upgraded: tuple[str, ...] = ()
    """The stage's clusters that were upgraded (skipped ones stay on their version: no health gate for them)."""


@dataclass(frozen=True)
class Progress:
    """The plan's state, and what may start now."""

    plan: str
    phase: PlanPhase
    stages: tuple[StageProgress, ...]
    start: tuple[StartCluster | StartStage, ...] = ()
    reason: str = ""
    active: tuple[str, ...] = field(default=())
    """Runs of the current stage that are not finished and need no operator: the ones to execute."""

    @property
    def clusters(self) -> tuple[ClusterProgress, ...]:
        """Every cluster, stage by stage."""
        return tuple(c for stage in self.stages for c in stage.clusters)


def latest_runs(runs: Iterable[RunRecord]) -> dict[tuple[str, str], RunRecord]:
    """The newest run per (kind, subject)."""
    latest: dict[tuple[str, str], RunRecord] = {}
    for run in runs:
        key = (run.kind, run.subject)
        if key not in latest or run.created_at > latest[key].created_at:
            latest[key] = run
    return latest


def progress(
    plan: UpgradePlan,
    stages: Sequence[ResolvedStage],
    runs: Iterable[RunRecord],
    *,
    current_steps: Mapping[str, CurrentStep] | None = None,
) -> Progress:
    """Where ``plan`` stands given its recorded runs, and which runs to start next.

    ``current_steps`` maps an unfinished run's id to the step it is in (or
    paused at) and that step's error, for finer phases and reasons (the CLI and
    the daemon read it from the store).
    """
    latest = latest_runs(runs)
    steps = current_steps or {}
    done_stages: list[StageProgress] = []
    for position, resolved in enumerate(stages):
        clusters = tuple(
            _cluster(resolved, c.name, latest.get((CLUSTER_KIND, subject(plan.name, c.name))), steps)
            for c in resolved.clusters
        )
        stopped = [c for c in clusters if c.phase == "halted"]
        later = tuple(_untouched(plan, s, latest, steps) for s in stages[position + 1 :])
        if stopped:
            reason = "; ".join(f"{c.cluster}: {c.reason}" for c in stopped)
            stage = StageProgress(resolved.stage.name, "halted", clusters, reason=reason)
            return Progress(plan.name, PlanPhase.HALTED, (*done_stages, stage, *later), reason=reason)
        unfinished = [c for c in clusters if c.phase not in ("done", "skipped")]
        if unfinished:
            return _upgrading(plan, resolved, clusters, done_stages, later)
        stage_run = latest.get((STAGE_KIND, subject(plan.name, resolved.stage.name)))
        if not needs_stage_run(resolved):
            done_stages.append(StageProgress(resolved.stage.name, "done", clusters))
            continue
        if stage_run is None:
            finished = max((c.finished_at for c in clusters if c.finished_at), default=None)
            stage = StageProgress(resolved.stage.name, "gating", clusters)
            upgraded = tuple(c.cluster for c in clusters if c.phase == "done")
            start = StartStage(resolved, finished or datetime.min.replace(tzinfo=UTC), upgraded)
            return Progress(plan.name, PlanPhase.RUNNING, (*done_stages, stage, *later), (start,))
        gated = _gated(resolved, clusters, stage_run, steps)
        if gated.phase != "done":
            phase = {"halted": PlanPhase.HALTED, "waiting": PlanPhase.WAITING}.get(gated.phase, PlanPhase.RUNNING)
            active = (stage_run.id,) if phase is PlanPhase.RUNNING else ()
            return Progress(plan.name, phase, (*done_stages, gated, *later), reason=gated.reason, active=active)
        done_stages.append(gated)
    return Progress(plan.name, PlanPhase.DONE, tuple(done_stages))


def _upgrading(
    plan: UpgradePlan,
    resolved: ResolvedStage,
    clusters: tuple[ClusterProgress, ...],
    before: list[StageProgress],
    later: tuple[StageProgress, ...],
) -> Progress:
    """A stage with clusters still to upgrade: start pending ones up to the stage's concurrency."""
    running = [c for c in clusters if c.phase not in ("pending", "done", "skipped", "halted")]
    room = max(0, resolved.stage.concurrency - len(running))
    drill = (plan.spec.canary_drill or "") if resolved.index == 0 else ""
    pending = [c for c in clusters if c.phase == "pending"]
    start = tuple(StartCluster(resolved.stage.name, c.cluster, drill) for c in pending[:room])
    stage = StageProgress(resolved.stage.name, "upgrading", clusters)
    active = tuple(c.run for c in running if c.run)
    phase = PlanPhase.RUNNING if (running or start or before) else PlanPhase.PENDING
    return Progress(plan.name, phase, (*before, stage, *later), start, active=active)


def _cluster(
    resolved: ResolvedStage, name: str, run: RunRecord | None, steps: Mapping[str, CurrentStep]
) -> ClusterProgress:
    stage = resolved.stage.name
    if run is None:
        return ClusterProgress(stage, name, "pending")
    skipped = run.details.get("skipped")
    if isinstance(skipped, Mapping):
        reason = f"skipped by {skipped.get('by') or 'an operator'}: {skipped.get('reason') or 'no reason given'}"
        return ClusterProgress(stage, name, "skipped", run.id, reason, run.finished_at)
    if run.phase is Phase.COMPLETED:
        return ClusterProgress(stage, name, "done", run.id, finished_at=run.finished_at)
    if run.phase.terminal:
        return ClusterProgress(stage, name, "halted", run.id, failure_of(run), run.finished_at)
    now = steps.get(run.id)
    if run.phase is Phase.WAITING:
        return ClusterProgress(stage, name, "halted", run.id, waiting_of(run, now))
    step = now.step if now else ""
    phase = "canary_drill" if step.startswith("drill-") else STEP_PHASES.get(step, "preflight")
    return ClusterProgress(stage, name, phase, run.id)


def _gated(
    resolved: ResolvedStage, clusters: tuple[ClusterProgress, ...], run: RunRecord, steps: Mapping[str, CurrentStep]
) -> StageProgress:
    name = resolved.stage.name
    if run.phase is Phase.COMPLETED:
        return StageProgress(name, "done", clusters, run.id)
    if run.phase.terminal:
        return StageProgress(name, "halted", clusters, run.id, f"stage {name}: {failure_of(run)}")
    if run.phase is Phase.WAITING:
        return StageProgress(name, "waiting", clusters, run.id, f"stage {name}: {waiting_of(run, steps.get(run.id))}")
    now = steps.get(run.id)
    soaking = now is None or now.step == "soak"
    shown = tuple(
        ClusterProgress(c.stage, c.cluster, "soak", c.run, finished_at=c.finished_at) if soaking else c
        for c in clusters
    )
    return StageProgress(name, "gating", shown, run.id)


def _untouched(
    plan: UpgradePlan,
    resolved: ResolvedStage,
    latest: Mapping[tuple[str, str], RunRecord],
    steps: Mapping[str, CurrentStep],
) -> StageProgress:
    """A later stage: its clusters as recorded (normally pending)."""
    clusters = tuple(
        _cluster(resolved, c.name, latest.get((CLUSTER_KIND, subject(plan.name, c.name))), steps)
        for c in resolved.clusters
    )
    return StageProgress(resolved.stage.name, "pending", clusters)


def failure_of(run: RunRecord) -> str:
    """Why a finished run did not succeed, in one line (the failed step and its error)."""
    failure: Any = run.details.get("failure") or {}
    if isinstance(failure, Mapping) and failure.get("message"):
        return f"{failure.get('step')}: {failure.get('message')}"
    if run.details.get("noncriticalFailures"):
        return f"{run.phase.value}: failed step(s) {', '.join(run.details['noncriticalFailures'])}"
    return f"ended {run.phase.value}"


def waiting_of(run: RunRecord, now: CurrentStep | None = None) -> str:
    """What a waiting run waits for (an approval, an operator after a pause, a step in doubt), and why."""
    waiting: Any = run.details.get("waiting") or {}
    reason = str(waiting.get("reason") or "an operator")
    step = waiting.get("step")
    detail = f": {now.error}" if now is not None and now.error else ""
    return f"{reason} at step {step}{detail}" if step else f"{reason}{detail}"
