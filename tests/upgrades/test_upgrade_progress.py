"""Where an upgrade stands, decided purely from its recorded runs (``drd.upgrades.progress``).

Aspects covered: nothing recorded starts the canary stage only; a stage starts at most ``concurrency``
clusters; a later stage waits for every cluster and the gates of the earlier ones; a failed cluster halts the
plan (sticky: nothing else starts, the reason names the failure); a paused cluster halts it too; a skipped
cluster counts as finished; the stage run starts with the soak measured from the last cluster's finish; a gate
waiting for approval makes the plan wait; the running step gives the cluster's phase; the stage runbook holds
the soak and one step per gate (health per cluster, metric, approval).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drd.outcomes import Phase
from drd.policy.loader import Config
from drd.policy.models.upgrade import UpgradePlan, resolve_stages
from drd.store.records import RunRecord
from drd.upgrades.progress import (
    CLUSTER_KIND,
    STAGE_KIND,
    CurrentStep,
    PlanPhase,
    Progress,
    StartCluster,
    StartStage,
    progress,
)
from drd.upgrades.stages import stage_runbook
from tests.policy.builders import API, a_backup_policy, a_drill_policy, an_inventory, load, write

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
_ids = itertools.count(1)


def a_plan(**spec: Any) -> dict[str, Any]:
    body = {
        "targetVersion": "v1.32.0",
        "stages": [
            {"name": "canary", "clusters": {"role": "canary"}},
            {"name": "rest", "clusters": {"names": ["dr-west", "primary-east"]}, "concurrency": 1},
        ],
    } | spec
    return {"apiVersion": API, "kind": "UpgradePlan", "metadata": {"name": "p"}, "spec": body}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    write(tmp_path, "clusters.yaml", *an_inventory())
    write(tmp_path, "shop.yaml", a_backup_policy(), a_drill_policy())
    return load(tmp_path)


def with_plan(config: Config, tmp_path: Path, **spec: Any) -> tuple[UpgradePlan, Config]:
    write(tmp_path, "plan.yaml", a_plan(**spec))
    loaded = load(tmp_path)
    return loaded.of_kind(UpgradePlan)["p"], loaded


def a_run(kind: str, part: str, phase: Phase, *, minutes: int = 0, **details: Any) -> RunRecord:
    at = T0 + timedelta(minutes=minutes)
    return RunRecord(
        id=f"run-{next(_ids)}",
        kind=kind,
        subject=f"p/{part}",
        phase=phase,
        trigger="cli",
        requested_by="alice",
        parameters={},
        details=details,
        created_at=at,
        started_at=at,
        finished_at=at + timedelta(minutes=5) if phase.terminal else None,
        updated_at=at,
        version=1,
    )


def state(plan: UpgradePlan, config: Config, *runs: RunRecord, **kwargs: Any) -> Progress:
    return progress(plan, resolve_stages(plan, config.clusters), runs, **kwargs)


def test_nothing_recorded_starts_the_canary_only(config: Config, tmp_path: Path) -> None:
    """A fresh plan starts the canary stage's cluster, with the canary drill, and nothing else."""
    plan, config = with_plan(config, tmp_path, canaryDrill="shop-nightly")
    now = state(plan, config)
    assert now.start == (StartCluster("canary", "canary-east", "shop-nightly"),)
    assert [c.phase for c in now.clusters] == ["pending", "pending", "pending"]


def test_a_stage_starts_at_most_its_concurrency(config: Config, tmp_path: Path) -> None:
    """With concurrency 1, the second cluster of a stage waits for the first."""
    plan, config = with_plan(config, tmp_path)
    canary = a_run(CLUSTER_KIND, "canary-east", Phase.COMPLETED)
    first = state(plan, config, canary)
    assert first.start == (StartCluster("rest", "dr-west", ""),)
    running = a_run(CLUSTER_KIND, "dr-west", Phase.IN_PROGRESS, minutes=10)
    second = state(plan, config, canary, running)
    assert second.start == ()
    assert second.active == (running.id,)


def test_a_stage_with_more_concurrency_starts_clusters_together(config: Config, tmp_path: Path) -> None:
    """Concurrency 2 starts both clusters of the stage at once, without the canary drill."""
    stages = [
        {"name": "canary", "clusters": {"role": "canary"}},
        {"name": "rest", "clusters": {"names": ["dr-west", "primary-east"]}, "concurrency": 2},
    ]
    plan, config = with_plan(config, tmp_path, stages=stages, canaryDrill="shop-nightly")
    now = state(plan, config, a_run(CLUSTER_KIND, "canary-east", Phase.COMPLETED))
    assert now.start == (StartCluster("rest", "dr-west", ""), StartCluster("rest", "primary-east", ""))


def test_a_failed_canary_halts_everything_after_it(config: Config, tmp_path: Path) -> None:
    """A canary run that failed halts the plan: nothing starts, and the reason names the failed step."""
    plan, config = with_plan(config, tmp_path)
    failed = a_run(
        CLUSTER_KIND,
        "canary-east",
        Phase.FAILED,
        failure={"step": "post-verify", "message": "Deployment shop/web: 0/2 ready"},
    )
    now = state(plan, config, failed)
    assert now.phase is PlanPhase.HALTED
    assert now.start == ()
    assert "post-verify: Deployment shop/web: 0/2 ready" in now.reason
    assert [c.phase for c in now.clusters] == ["halted", "pending", "pending"]


def test_a_paused_cluster_halts_the_plan_with_its_error(config: Config, tmp_path: Path) -> None:
    """A cluster run waiting for an operator halts the plan, with the error of the step it stopped at."""
    plan, config = with_plan(config, tmp_path)
    paused = a_run(CLUSTER_KIND, "canary-east", Phase.WAITING, waiting={"reason": "in-doubt", "step": "backup"})
    now = state(plan, config, paused, current_steps={paused.id: CurrentStep("backup", "drd stopped")})
    assert now.phase is PlanPhase.HALTED
    assert "in-doubt at step backup: drd stopped" in now.reason


def test_a_skipped_cluster_counts_as_finished(config: Config, tmp_path: Path) -> None:
    """A failed cluster an operator skipped no longer halts: the next cluster starts."""
    plan, config = with_plan(config, tmp_path)
    canary = a_run(CLUSTER_KIND, "canary-east", Phase.COMPLETED)
    skipped = a_run(CLUSTER_KIND, "dr-west", Phase.FAILED, minutes=10, skipped={"by": "bob", "reason": "retired"})
    now = state(plan, config, canary, skipped)
    assert now.start == (StartCluster("rest", "primary-east", ""),)
    assert now.clusters[1].phase == "skipped"
    assert "bob" in now.clusters[1].reason


def test_the_stage_run_soaks_from_its_last_clusters_finish(config: Config, tmp_path: Path) -> None:
    """Once every canary is done, the stage's gate run starts, its soak measured from the last finish."""
    stages = [
        {"name": "canary", "clusters": {"role": "canary"}, "soak": "2h", "gates": [{"type": "health"}]},
        {"name": "rest", "clusters": {"names": ["dr-west", "primary-east"]}},
    ]
    plan, config = with_plan(config, tmp_path, stages=stages)
    canary = a_run(CLUSTER_KIND, "canary-east", Phase.COMPLETED, minutes=3)
    now = state(plan, config, canary)
    (start,) = now.start
    assert isinstance(start, StartStage)
    assert start.stage.stage.name == "canary"
    assert start.soak_until == canary.finished_at
    assert [c.cluster for c in now.clusters if c.phase == "pending"] == ["dr-west", "primary-east"]


def test_a_gate_waiting_for_approval_makes_the_plan_wait(config: Config, tmp_path: Path) -> None:
    """The next stage does not start while the canary stage's approval gate waits."""
    stages = [
        {"name": "canary", "clusters": {"role": "canary"}, "gates": [{"type": "approval"}]},
        {"name": "rest", "clusters": {"names": ["dr-west", "primary-east"]}},
    ]
    plan, config = with_plan(config, tmp_path, stages=stages)
    canary = a_run(CLUSTER_KIND, "canary-east", Phase.COMPLETED)
    gate = a_run(STAGE_KIND, "canary", Phase.WAITING, minutes=6, waiting={"reason": "approval", "step": "approval-1"})
    now = state(plan, config, canary, gate)
    assert now.phase is PlanPhase.WAITING
    assert now.start == ()
    assert "approval at step approval-1" in now.reason


def test_a_passed_gate_lets_the_next_stage_start(config: Config, tmp_path: Path) -> None:
    """A completed stage run makes the stage done and starts the next stage."""
    stages = [
        {"name": "canary", "clusters": {"role": "canary"}, "gates": [{"type": "approval"}]},
        {"name": "rest", "clusters": {"names": ["dr-west", "primary-east"]}},
    ]
    plan, config = with_plan(config, tmp_path, stages=stages)
    canary = a_run(CLUSTER_KIND, "canary-east", Phase.COMPLETED)
    gate = a_run(STAGE_KIND, "canary", Phase.COMPLETED, minutes=6)
    assert state(plan, config, canary, gate).start == (StartCluster("rest", "dr-west", ""),)


def test_a_running_clusters_phase_is_its_current_step(config: Config, tmp_path: Path) -> None:
    """A cluster in its node-groups step reports ``node_groups``; in a drill step, ``canary_drill``."""
    plan, config = with_plan(config, tmp_path)
    run = a_run(CLUSTER_KIND, "canary-east", Phase.IN_PROGRESS)
    assert state(plan, config, run, current_steps={run.id: CurrentStep("node-groups")}).clusters[0].phase == (
        "node_groups"
    )
    drilling = state(plan, config, run, current_steps={run.id: CurrentStep("drill-verify")})
    assert drilling.clusters[0].phase == "canary_drill"


def test_every_stage_done_is_done(config: Config, tmp_path: Path) -> None:
    """All clusters done and no gates: the plan is done."""
    plan, config = with_plan(config, tmp_path)
    runs = [a_run(CLUSTER_KIND, name, Phase.COMPLETED) for name in ("canary-east", "dr-west", "primary-east")]
    assert state(plan, config, *runs).phase is PlanPhase.DONE


def test_the_stage_runbook_holds_the_soak_and_one_step_per_gate(config: Config, tmp_path: Path) -> None:
    """Soak, a health check per cluster, the metric query and its verdict, an approval, in the plan order."""
    gates = [
        {"type": "health", "timeout": "5m"},
        {
            "type": "metric",
            "name": "errors",
            "query": "up",
            "passIf": ">= 1",
            "failIf": "< 1",
            "onInconclusive": "fail",
        },
        {"type": "approval"},
    ]
    stages = [
        {"name": "canary", "clusters": {"role": "canary"}},
        {"name": "rest", "clusters": {"names": ["dr-west", "primary-east"]}, "soak": "1h", "gates": gates},
    ]
    plan, config = with_plan(config, tmp_path, stages=stages)
    runbook = stage_runbook(plan, resolve_stages(plan, config.clusters)[1])
    steps = [(step.id, step.type) for step in runbook.spec.steps]
    assert steps == [
        ("soak", "upgrade.soak"),
        ("health-1-dr-west", "upgrade.verify"),
        ("health-1-primary-east", "upgrade.verify"),
        ("errors", "check.prometheus"),
        ("errors-conclusive", "assert"),
        ("approval-3", "approval"),
    ]
    assert [str(step.on_failure) for step in runbook.spec.steps[3:5]] == ["fail", "fail"]
