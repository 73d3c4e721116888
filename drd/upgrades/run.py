"""Driving an upgrade: start what :func:`~drd.upgrades.progress.progress` says may start, execute it, repeat.

The driver holds no state of its own: every decision is recomputed from the
recorded runs (through a :class:`Ledger`, which the CLI and the daemon back
with drd's store), so a driver killed at any point, or a second driver started
later, carries on from exactly where the runs stand. Cluster runs of a stage
execute in parallel up to the stage's ``concurrency``; the engine's per-cluster
lock keeps two drivers from upgrading the same cluster at once.

Operator verbs live here too: :func:`resume` (retry what halted, or approve a
waiting gate) and :func:`skip` (leave a cluster on its version, never a canary:
an upgrade never proceeds past an unverified canary).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from drd.errors import DrdError, PermanentError
from drd.outcomes import Phase
from drd.policy.loader import Config
from drd.policy.models.upgrade import ResolvedStage, UpgradePlan, resolve_stages
from drd.runbooks.engine.runner import Engine
from drd.store.records import RunRecord
from drd.upgrades.progress import (
    CLUSTER_KIND,
    STAGE_KIND,
    ClusterProgress,
    CurrentStep,
    PlanPhase,
    Progress,
    StartCluster,
    StartStage,
    progress,
    subject,
)
from drd.upgrades.stages import cluster_runbook, soak_until, stage_runbook

log = structlog.get_logger(__name__)


class Ledger(Protocol):
    """The recorded runs of an upgrade (drd's store, seen from the workflow)."""

    def runs(self, plan: str) -> list[RunRecord]:
        """Every ``upgrade-cluster`` and ``upgrade-stage`` run of the plan."""
        ...

    def current_steps(self, runs: Sequence[RunRecord]) -> Mapping[str, CurrentStep]:
        """For each unfinished run, the step it is in or stopped at, with that step's last error."""
        ...

    def mark_skipped(self, run_id: str, *, by: str, reason: str) -> None:
        """Record that an operator chose to leave this cluster as it is."""
        ...


class UpgradeError(PermanentError):
    """An operator verb that does not apply (nothing to resume, a canary cannot be skipped…)."""


def find_plan(config: Config, name: str) -> UpgradePlan:
    """The UpgradePlan, or an error listing the known ones."""
    plan = config.of_kind(UpgradePlan).get(name)
    if plan is None:
        known = ", ".join(sorted(config.of_kind(UpgradePlan))) or "none"
        raise UpgradeError(f"no UpgradePlan {name!r} in the configuration (known: {known})")
    return plan


@dataclass
class UpgradeDriver:
    """One plan's upgrade, driven from its recorded runs."""

    engine: Engine
    config: Config
    plan: UpgradePlan
    ledger: Ledger
    requested_by: str
    trigger: str = "cli"
    errors: list[str] = field(default_factory=list)
    """Errors raised while executing runs (they are also recorded on the runs)."""

    @property
    def stages(self) -> tuple[ResolvedStage, ...]:
        return resolve_stages(self.plan, self.config.clusters)

    def status(self) -> Progress:
        """Where the plan stands (nothing is started)."""
        runs = self.ledger.runs(self.plan.name)
        return progress(self.plan, self.stages, runs, current_steps=self.ledger.current_steps(runs))

    def advance(self) -> Progress:
        """Start whatever may start now; return the progress including what was started."""
        now = self.status()
        if not now.start:
            return now
        for decision in now.start:
            self._submit(decision)
        return self.status()

    def drive(self, on_progress: Callable[[Progress], None] | None = None) -> Progress:
        """Advance and execute until the plan is done, halted, waits for an operator, or is run elsewhere."""
        workers = max(stage.stage.concurrency for stage in self.stages) + 1
        executed: set[str] = set()
        for stage in self.status().stages:  # a gate decided since (an approval) goes on; undecided, it returns
            if stage.phase == "waiting" and stage.run:
                executed.add(stage.run)
                self._execute(stage.run)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upgrade") as pool:
            running: dict[str, Future[None]] = {}
            while True:
                now = self.advance()
                for run_id in now.active:
                    if run_id not in running and run_id not in executed:
                        executed.add(run_id)
                        running[run_id] = pool.submit(self._execute, run_id)
                if on_progress is not None:
                    on_progress(now)
                if not running:
                    return now
                finished, _ = wait(running.values(), return_when=FIRST_COMPLETED)
                for run_id, future in list(running.items()):
                    if future in finished:
                        del running[run_id]
                        future.result()  # anything but a DrdError (a crash) propagates

    def _execute(self, run_id: str) -> None:
        """Execute one run; its error is recorded on the run by the engine, kept here and logged."""
        try:
            self.engine.execute(run_id)
        except DrdError as exc:
            self.errors.append(f"run {run_id}: {exc}")
            log.warning("upgrade_run_error", plan=self.plan.name, run=run_id, error=str(exc))

    def _submit(self, decision: StartCluster | StartStage) -> RunRecord:
        if isinstance(decision, StartCluster):
            record = self.engine.submit(
                cluster_runbook(),
                {"plan": self.plan.name, "cluster": decision.cluster, "drill": decision.drill},
                trigger=self.trigger,
                requested_by=self.requested_by,
                kind=CLUSTER_KIND,
                subject=subject(self.plan.name, decision.cluster),
            )
            log.info("upgrade_cluster_started", plan=self.plan.name, cluster=decision.cluster, run=record.id)
            return record
        stage = decision.stage
        record = self.engine.submit(
            stage_runbook(self.plan, stage, decision.upgraded),
            {"soakUntil": soak_until(decision.soak_until, stage)},
            trigger=self.trigger,
            requested_by=self.requested_by,
            kind=STAGE_KIND,
            subject=subject(self.plan.name, stage.stage.name),
        )
        log.info("upgrade_stage_gating", plan=self.plan.name, stage=stage.stage.name, run=record.id)
        return record


def resume(driver: UpgradeDriver, *, actor: str, cluster: str | None = None, comment: str = "") -> list[str]:
    """Make what stops the plan runnable again (audited); returns what was done, one line each.

    A halted cluster's run gets a new attempt of the step that failed (the
    steps before it stay done); a waiting approval gate is approved; a failed or
    paused gate is retried. ``cluster`` limits it to one cluster.
    """
    now = driver.status()
    if now.phase not in (PlanPhase.HALTED, PlanPhase.WAITING):
        raise UpgradeError(f"UpgradePlan {driver.plan.name} is {now.phase.value}: nothing to resume")
    done: list[str] = []
    halted = [c for c in now.clusters if c.phase == "halted" and c.run and cluster in (None, c.cluster)]
    for item in halted:
        assert item.run is not None
        driver.engine.resume(item.run, actor=actor, reason=comment or "drd upgrade resume")
        done.append(f"{item.cluster}: resumed run {item.run}")
    if cluster is None:
        for stage in now.stages:
            if stage.run and stage.phase in ("waiting", "halted"):
                done.append(_resume_stage(driver, stage.run, stage.name, actor=actor, comment=comment))
    if not done:
        where = f"cluster {cluster}" if cluster else "any cluster or gate"
        raise UpgradeError(f"UpgradePlan {driver.plan.name}: nothing halted or waiting in {where}")
    return done


def _resume_stage(driver: UpgradeDriver, run_id: str, stage: str, *, actor: str, comment: str) -> str:
    record = driver.engine.store.get_run(run_id)
    waiting = record.details.get("waiting") or {}
    if record.phase is Phase.WAITING and waiting.get("reason") == "approval":
        step = str(waiting.get("step"))
        driver.engine.approve(run_id, step, actor=actor, comment=comment or "drd upgrade resume")
        return f"stage {stage}: approved gate {step}"
    driver.engine.resume(run_id, actor=actor, reason=comment or "drd upgrade resume")
    return f"stage {stage}: retrying its gates (run {run_id})"


def skip(driver: UpgradeDriver, *, cluster: str, actor: str, reason: str) -> str:
    """Leave ``cluster`` on its current version so later stages may go on (audited); never a canary."""
    if not reason.strip():
        raise UpgradeError("say why the cluster is skipped (--reason): it is recorded")
    now = driver.status()
    found = _find(now.clusters, cluster)
    if found is None:
        raise UpgradeError(f"UpgradePlan {driver.plan.name} does not upgrade cluster {cluster}")
    if driver.stages[0].stage.name == found.stage:
        raise UpgradeError(
            f"{cluster} is in the canary stage {found.stage}: an upgrade never proceeds past an unverified "
            "canary; fix what halted it and run drd upgrade resume"
        )
    if found.phase in ("done", "skipped"):
        raise UpgradeError(f"{cluster} is {found.phase} already")
    engine = driver.engine
    run_id = found.run
    if run_id is None:
        record = engine.submit(
            cluster_runbook(),
            {"plan": driver.plan.name, "cluster": cluster, "drill": ""},
            trigger="skip",
            requested_by=actor,
            kind=CLUSTER_KIND,
            subject=subject(driver.plan.name, cluster),
        )
        run_id = record.id
    record = engine.store.get_run(run_id)
    if not record.phase.terminal:
        engine.cancel(run_id, actor=actor, reason=f"skipped: {reason}")
        engine.execute(run_id)  # carries the cancellation to its end (finally steps), recorded
    driver.ledger.mark_skipped(run_id, by=actor, reason=reason)
    log.info("upgrade_cluster_skipped", plan=driver.plan.name, cluster=cluster, run=run_id, by=actor)
    return f"{cluster}: skipped (run {run_id})"


def _find(clusters: Sequence[ClusterProgress], name: str) -> ClusterProgress | None:
    return next((c for c in clusters if c.cluster == name), None)
