"""Edge cases of the upgrade steps and stages: minor-only versions, skipped clusters at a health gate, and a
pre-upgrade backup that failed.

Aspects covered: a version reported without a patch (EKS's ``1.32``) is on target when its minor is, while a
full version must reach the target's patch; a stage's health gate checks only the clusters that were upgraded
(a skipped one stays on its version on purpose), and with none left the stage has nothing to check; a
pre-upgrade backup that failed is not adopted again on resume: the resumed step takes a new backup.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drd.clients.kube_resources import VELERO_BACKUPS
from drd.policy.loader import load_config
from drd.policy.models.upgrade import UpgradePlan, resolve_stages
from drd.sandbox.environment import Sandbox
from drd.settings import Settings
from drd.store import Store
from drd.upgrades import run as upgrade_run
from drd.upgrades.progress import PlanPhase
from drd.upgrades.stages import stage_runbook
from drd.upgrades.steps import on_target
from tests.upgrades.fleet_support import OPERATOR, a_plan, cluster_runs, fleet, fleet_settings, make_driver, store

__all__ = ["fleet", "make_driver", "store"]


@pytest.fixture
def settings(fleet: Sandbox, tmp_path: Path) -> Settings:
    return fleet_settings(fleet, tmp_path)


@pytest.mark.parametrize(
    ("version", "target", "expected"),
    [
        ("1.32", "v1.32.3", True),
        ("v1.32.4-eks-a5ec690", "v1.32.3", True),
        ("v1.32.1", "v1.32.3", False),
        ("1.31", "v1.32.0", False),
        ("v1.33.0", "v1.32.0", False),
    ],
)
def test_a_version_without_a_patch_is_on_target_when_its_minor_is(version: str, target: str, expected: bool) -> None:
    """EKS reports ``1.32``: the minor decides; a full version must reach the target's patch."""
    assert on_target(version, target) is expected


def test_the_health_gate_checks_only_the_upgraded_clusters(settings: Settings) -> None:
    """A cluster skipped in a stage is not verified by its health gate; none left: nothing to check."""
    stages = [
        {"name": "canary", "clusters": {"role": "canary"}},
        {"name": "rest", "clusters": {"names": ["dr-west", "primary-east"]}, "gates": [{"type": "health"}]},
    ]
    a_plan(settings, stages=stages)
    config = load_config([settings.config.directory])
    plan = config.of_kind(UpgradePlan)["fleet"]
    rest = resolve_stages(plan, config.clusters)[1]
    assert [s.id for s in stage_runbook(plan, rest, ["primary-east"]).spec.steps] == ["health-1-primary-east"]
    assert [s.id for s in stage_runbook(plan, rest, []).spec.steps] == ["nothing-to-check"]


def test_a_failed_pre_upgrade_backup_is_taken_again_on_resume(
    fleet: Sandbox, settings: Settings, store: Store, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """Velero fails the primary's backups: halted at ``backup``; Velero healthy again, resume takes new ones."""
    a_plan(
        settings,
        stages=[{"name": "canary", "clusters": {"role": "canary"}}, {"name": "prod", "clusters": {"role": "primary"}}],
    )
    fleet.velero_faults.backup_outcome = "Failed"
    halted = make_driver().drive()
    assert halted.phase is PlanPhase.HALTED
    assert "backup" in halted.reason
    fleet.velero_faults.clear()
    driver = make_driver()
    upgrade_run.resume(driver, actor=OPERATOR)
    assert driver.drive().phase is PlanPhase.DONE
    (run,) = cluster_runs(store, "primary-east")
    attempts = [s for s in store.steps(run.id) if s.name == "backup"]
    taken = attempts[-1].outputs["backups"]
    primary = fleet.cluster("primary-east").kube
    assert {primary.get(VELERO_BACKUPS, name, namespace="velero")["status"]["phase"] for name in taken.values()} == {
        "Completed"
    }
    assert all(name.endswith("-2") for name in taken.values())
