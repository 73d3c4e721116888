"""Upgrading the sandbox's fleet with ``UpgradeDriver``: canary first, halts, resume, skip, a crash.

Aspects covered: a plan takes every cluster to the target, stage by stage, control plane and kubelets, with a
fresh backup of the primary's applications first; the canary proves a real backup restores on the new version
before the next stage; a canary failing post-verify halts every later stage (nothing of theirs runs); a drain
blocked by a PodDisruptionBudget halts naming the budget and ``resume`` finishes once it is lifted; an API
outage mid-upgrade halts and ``resume`` carries on from the recorded state (the control plane is not touched
again); drd killed mid-step resumes in a restarted driver; an approval gate waits and ``resume`` approves it,
recorded; a canary cannot be skipped; a skipped cluster lets the later stages go on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drd.clients.kube_resources import DEPLOYMENTS, VELERO_BACKUPS
from drd.operations import backup_manifests, velero
from drd.operations.nodes import PDBS
from drd.operations.waiting import wait_for
from drd.outcomes import Phase
from drd.policy.loader import load_config
from drd.runbooks.engine.runner import RunError
from drd.sandbox.environment import Sandbox
from drd.sandbox.workloads import NEVER_READY_LABEL
from drd.settings import Settings
from drd.store import Store
from drd.upgrades import run as upgrade_run
from drd.upgrades.progress import PlanPhase
from tests.support.hooks import at_step
from tests.upgrades.fleet_support import (
    APPROVER,
    OPERATOR,
    TARGET,
    Interrupt,
    a_plan,
    budget_blocking,
    cluster_runs,
    fleet,
    fleet_settings,
    make_driver,
    steps_named,
    store,
    versions,
)

__all__ = ["fleet", "make_driver", "store"]


@pytest.fixture
def settings(fleet: Sandbox, tmp_path: Path) -> Settings:
    return fleet_settings(fleet, tmp_path)


def test_a_plan_upgrades_every_cluster_stage_by_stage(
    fleet: Sandbox, settings: Settings, store: Store, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """Every cluster ends on the target, control plane and kubelets, canary first and production last."""
    a_plan(settings)
    final = make_driver().drive()
    assert final.phase is PlanPhase.DONE, final.reason
    for cluster in ("canary-east", "dr-west", "primary-east"):
        assert versions(fleet, cluster) == (TARGET, {TARGET})
    started = [cluster_runs(store, c)[0].created_at for c in ("canary-east", "dr-west", "primary-east")]
    assert started == sorted(started)


def test_the_primarys_applications_are_backed_up_before_its_upgrade(
    fleet: Sandbox, settings: Settings, store: Store, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """The production cluster's backup step took a Completed backup of each application sourced there."""
    stages = [
        {"name": "canary", "clusters": {"role": "canary"}},
        {"name": "production", "clusters": {"names": ["primary-east", "dr-west"]}},
    ]
    a_plan(settings, stages=stages)
    assert make_driver().drive().phase is PlanPhase.DONE
    run = cluster_runs(store, "primary-east")[0]
    (backup,) = steps_named(store, run.id, "backup")
    taken = backup.outputs["backups"]
    assert sorted(taken) == ["catalog-api", "shop"]
    kube = fleet.cluster("primary-east").kube
    for name in taken.values():
        item = kube.get(VELERO_BACKUPS, name, namespace="velero")
        assert item["status"]["phase"] == "Completed"
        assert item["metadata"]["labels"]["drd.dev/trigger"] == "pre-upgrade"


def test_the_canary_restores_a_real_backup_before_the_next_stage(
    fleet: Sandbox, settings: Settings, store: Store, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """With canaryDrill, the upgraded canary restores the shop's newest backup and verifies it, then tears down."""
    config = load_config([settings.config.directory])
    primary = fleet.cluster("primary-east").kube
    policy = config.backup_policies["shop"]
    manifest = backup_manifests.backup_for(policy, config.clusters["primary-east"], name="shop-proof", trigger="test")
    velero.create_backup(primary, manifest, namespace="velero")
    velero.wait_for_backup(primary, "shop-proof", namespace="velero", timeout_seconds=60)
    canary = fleet.cluster("canary-east").kube
    wait_for(
        canary, VELERO_BACKUPS, "shop-proof", namespace="velero", until=lambda b: b, timeout_seconds=60, what="sync"
    )
    a_plan(settings, canaryDrill="shop-drill")
    final = make_driver().drive()
    assert final.phase is PlanPhase.DONE, final.reason
    run = cluster_runs(store, "canary-east")[0]
    (verified,) = steps_named(store, run.id, "drill-verify")
    assert verified.phase is Phase.COMPLETED
    assert steps_named(store, run.id, "drill-prepare")[0].outputs["backup"] == "shop-proof"
    (teardown,) = steps_named(store, run.id, "drill-teardown")
    assert teardown.phase is Phase.COMPLETED


def test_a_canary_failing_post_verify_halts_every_later_stage(
    fleet: Sandbox, settings: Settings, store: Store, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """A workload that cannot become Ready after the node roll halts at post-verify; no later cluster starts."""
    a_plan(settings)
    canary = fleet.cluster("canary-east").kube

    def break_a_workload() -> None:
        labels = {"app": "stuck"}
        template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "a", "image": "a:1"}]}}
        spec = {"replicas": 1, "selector": {"matchLabels": labels}, "template": template}
        metadata = {"name": "stuck", "labels": {NEVER_READY_LABEL: "true"}}
        canary.create(DEPLOYMENTS, {"metadata": metadata, "spec": spec}, namespace="default")

    final = make_driver(crash=at_step("after-finish", "node-groups", break_a_workload)).drive()
    assert final.phase is PlanPhase.HALTED
    assert "post-verify" in final.reason
    assert "stuck" in final.reason
    assert cluster_runs(store, "dr-west") == []
    assert cluster_runs(store, "primary-east") == []
    assert versions(fleet, "dr-west")[0] == "v1.31.4"


def test_a_drain_blocked_by_a_budget_halts_naming_it_and_resume_finishes(
    fleet: Sandbox, settings: Settings, store: Store, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """A budget created after pre-flight blocks the drain: halted naming it; lifted, resume completes the plan."""
    a_plan(settings)
    canary = fleet.cluster("canary-east").kube
    final = make_driver(crash=at_step("after-finish", "verify", lambda: budget_blocking(canary))).drive()
    assert final.phase is PlanPhase.HALTED
    assert "PodDisruptionBudget/default/web" in final.reason
    assert cluster_runs(store, "dr-west") == []

    canary.delete(PDBS, "web", namespace="default")
    driver = make_driver()
    done = upgrade_run.resume(driver, actor=OPERATOR, comment="budget relaxed")
    assert done == [f"canary-east: resumed run {cluster_runs(store, 'canary-east')[0].id}"]
    assert driver.drive().phase is PlanPhase.DONE
    run = cluster_runs(store, "canary-east")[0]
    assert [e.actor for e in store.events(run.id) if e.event == "resumed"] == [OPERATOR]


def test_an_api_outage_mid_upgrade_resumes_from_the_recorded_state(
    fleet: Sandbox, settings: Settings, store: Store, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """The canary's API fails during the node roll: halted; back up, resume finishes, the control plane untouched."""
    a_plan(settings, stages=[{"name": "canary", "clusters": {"role": "canary"}}])
    emulator = fleet.cluster("canary-east").emulator

    def outage() -> None:
        emulator.set_faults(error_rate=1.0, status=503)

    final = make_driver(crash=at_step("after-start", "node-groups", outage)).drive()
    assert final.phase is PlanPhase.HALTED
    emulator.clear_faults()
    driver = make_driver()
    upgrade_run.resume(driver, actor=OPERATOR)
    assert driver.drive().phase is PlanPhase.DONE
    run = cluster_runs(store, "canary-east")[0]
    assert len(cluster_runs(store, "canary-east")) == 1
    assert len(steps_named(store, run.id, "control-plane")) == 1
    assert versions(fleet, "canary-east") == (TARGET, {TARGET})


def test_drd_killed_mid_step_resumes_in_a_restarted_driver(
    fleet: Sandbox, settings: Settings, store: Store, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """Killed after the control plane was upgraded, a restarted driver finishes the same run."""

    def kill() -> None:
        raise Interrupt("kill -9")

    a_plan(settings, stages=[{"name": "canary", "clusters": {"role": "canary"}}])
    with pytest.raises(Interrupt):
        make_driver(crash=at_step("after-effect", "control-plane", kill)).drive()
    assert versions(fleet, "canary-east")[0] == TARGET
    final = make_driver().drive()
    assert final.phase is PlanPhase.DONE, final.reason
    assert len(cluster_runs(store, "canary-east")) == 1


def test_an_approval_gate_waits_and_resume_approves_it(
    fleet: Sandbox, settings: Settings, store: Store, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """The next stage waits at the canary's approval gate; resume by another person approves it, recorded."""
    stages = [
        {"name": "canary", "clusters": {"role": "canary"}, "gates": [{"type": "health"}, {"type": "approval"}]},
        {"name": "dr", "clusters": {"names": ["dr-west"]}},
    ]
    a_plan(settings, stages=stages)
    first = make_driver().drive()
    assert first.phase is PlanPhase.WAITING
    assert "approval" in first.reason
    assert cluster_runs(store, "dr-west") == []
    driver = make_driver()
    assert upgrade_run.resume(driver, actor=APPROVER, comment="canary looks good") == [
        "stage canary: approved gate approval-2"
    ]
    assert driver.drive().phase is PlanPhase.DONE
    assert versions(fleet, "dr-west") == (TARGET, {TARGET})
    (gate,) = store.list_runs(kind="upgrade-stage", subject="fleet/canary")
    assert [e.actor for e in store.events(gate.id) if e.event == "approved"] == [APPROVER]


def test_the_person_who_started_the_upgrade_cannot_approve_its_gate(
    settings: Settings, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """Approving a gate takes a second person: the requester's resume is refused."""
    stages = [{"name": "canary", "clusters": {"role": "canary"}, "gates": [{"type": "approval"}]}]
    a_plan(settings, stages=stages)
    assert make_driver().drive().phase is PlanPhase.WAITING
    with pytest.raises(RunError, match="another person must"):
        upgrade_run.resume(make_driver(), actor=OPERATOR)


def test_a_canary_cannot_be_skipped(settings: Settings, make_driver: Callable[..., upgrade_run.UpgradeDriver]) -> None:
    """Skipping a canary is refused: an upgrade never proceeds past an unverified canary."""
    a_plan(settings)
    with pytest.raises(upgrade_run.UpgradeError, match="never proceeds past an unverified canary"):
        upgrade_run.skip(make_driver(), cluster="canary-east", actor=OPERATOR, reason="in a hurry")


def test_a_skipped_cluster_lets_the_later_stages_go_on(
    fleet: Sandbox, settings: Settings, store: Store, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """dr-west halts at pre-flight on a blocking budget; skipped (recorded with why), production goes on."""
    a_plan(settings)
    budget_blocking(fleet.cluster("dr-west").kube)
    wait_for(
        fleet.cluster("dr-west").kube,
        DEPLOYMENTS,
        "web",
        namespace="default",
        timeout_seconds=30,
        until=lambda d: d if d and (d.get("status") or {}).get("readyReplicas") == 2 else None,
        what="web Ready",
    )
    halted = make_driver().drive()
    assert halted.phase is PlanPhase.HALTED
    assert "PodDisruptionBudget/default/web" in halted.reason
    driver = make_driver()
    assert upgrade_run.skip(driver, cluster="dr-west", actor=OPERATOR, reason="decommissioned next week").startswith(
        "dr-west: skipped"
    )
    assert driver.drive().phase is PlanPhase.DONE
    assert versions(fleet, "primary-east") == (TARGET, {TARGET})
    assert versions(fleet, "dr-west")[0] == "v1.31.4"
    (run,) = cluster_runs(store, "dr-west")
    assert [(e.actor, e.data["reason"]) for e in store.events(run.id) if e.event == "skipped"] == [
        (OPERATOR, "decommissioned next week")
    ]
