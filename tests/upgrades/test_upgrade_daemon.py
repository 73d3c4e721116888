"""The daemon and upgrades: it carries a started upgrade on stage by stage, exports each cluster's phase, never
starts an upgrade by itself, and announces a halted cluster once.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from drd.daemon.app import Daemon
from drd.daemon.upgrade_ledger import StoreLedger
from drd.policy.models.upgrade import UpgradePlan
from drd.runbooks.assembly import assemble
from drd.sandbox.environment import Sandbox
from drd.upgrades import run as upgrade_run
from drd.upgrades.progress import PlanPhase
from drd.upgrades.steps import upgrade_actions
from tests.sandbox.velero.support import eventually
from tests.support.daemons import Webhook, daemon_env, running_daemon
from tests.upgrades.fleet_support import budget_blocking, fleet

__all__ = ["fleet"]

PLAN = {
    "apiVersion": "drd.dev/v1",
    "kind": "UpgradePlan",
    "metadata": {"name": "fleet"},
    "spec": {
        "targetVersion": "v1.32.0",
        "stages": [
            {"name": "canary", "clusters": {"role": "canary"}},
            {"name": "dr", "clusters": {"names": ["dr-west"]}},
        ],
        "drain": {"timeout": "2s"},
        "verifyTimeout": "15s",
    },
}


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()


@pytest.fixture
def daemon(fleet: Sandbox, tmp_path: Path, webhook: Webhook) -> Iterator[Daemon]:
    """A daemon alone (no election) on the fleet's config with plan ``fleet``, its HTTP on a free port."""
    env = daemon_env(fleet, tmp_path, webhook)
    (Path(env["DRD_CONFIG"]) / "fleet.yaml").write_text(yaml.safe_dump(PLAN))
    with running_daemon(env) as instance:
        yield instance


def start_upgrade(daemon: Daemon) -> None:
    """What ``drd upgrade run fleet --detach`` does: start what may start, and leave."""
    config = daemon.config.current
    assembly = assemble(daemon.settings, config, daemon.store, identity="alice@test", extra_actions=upgrade_actions())
    try:
        plan = config.of_kind(UpgradePlan)["fleet"]
        upgrade_run.UpgradeDriver(
            assembly.engine, config, plan, StoreLedger(daemon.store), requested_by="alice@test"
        ).advance()
    finally:
        assembly.close()


def phases(daemon: Daemon) -> dict[str, str]:
    """``drd_upgrade_cluster_phase`` from /metrics: cluster → the phase at 1."""
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.http.port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "drd_upgrade_cluster_phase" and sample.value == 1:
                found[sample.labels["cluster"]] = sample.labels["phase"]
    return found


def status(daemon: Daemon) -> PlanPhase:
    config = daemon.config.current
    assembly = assemble(daemon.settings, config, daemon.store, extra_actions=upgrade_actions())
    try:
        plan = config.of_kind(UpgradePlan)["fleet"]
        driver = upgrade_run.UpgradeDriver(assembly.engine, config, plan, StoreLedger(daemon.store), requested_by="x")
        return driver.status().phase
    finally:
        assembly.close()


def test_a_started_upgrade_is_carried_on_by_the_daemon_and_its_phases_exported(daemon: Daemon) -> None:
    """Started with --detach, the canary and then dr-west are upgraded by the daemon; both export ``done``."""
    start_upgrade(daemon)
    eventually(lambda: status(daemon) is PlanPhase.DONE, timeout=120)
    eventually(lambda: phases(daemon) == {"canary-east": "done", "dr-west": "done"}, timeout=60)


def test_the_daemon_never_starts_an_upgrade_by_itself(daemon: Daemon) -> None:
    """With the plan configured but never started, the daemon's advance job starts nothing."""
    outcome = daemon._advance_upgrades(daemon.config.current)
    assert outcome.details["started"] == 0
    assert daemon.store.list_runs(kind="upgrade-cluster") == []


def test_a_halted_cluster_is_announced_once(daemon: Daemon, fleet: Sandbox, webhook: Webhook) -> None:
    """The canary blocked at pre-flight halts the plan; one UpgradeHalted notification names the budget."""
    budget_blocking(fleet.cluster("canary-east").kube)
    start_upgrade(daemon)
    eventually(lambda: status(daemon) is PlanPhase.HALTED, timeout=60)
    eventually(lambda: any("halted" in str(message) for message in webhook.received), timeout=30)
    daemon.finishers.count_finished(daemon.store)
    halted = [message for message in webhook.received if "halted" in str(message)]
    assert len(halted) == 1
    assert "PodDisruptionBudget/default/web" in str(halted[0])
