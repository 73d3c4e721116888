"""The demo's lifecycle chapters: a secret rotated through Vault, and the canary upgraded first.

Both run on the daemon's own engine, exactly as ``drd rotate run`` and
``drd upgrade run`` do, and print what was recorded: step by step, digests and
key ids only, never a value.
"""

from __future__ import annotations

from typing import Any, Protocol

from drd.daemon.app import Daemon
from drd.daemon.rotation_recorder import finish_rotation, rotation_result
from drd.daemon.upgrade_ledger import StoreLedger
from drd.outcomes import Phase
from drd.policy.models.rotation import RotationPolicy
from drd.policy.models.upgrade import UpgradePlan
from drd.rotation.run import start_rotation
from drd.upgrades.progress import PlanPhase
from drd.upgrades.run import UpgradeDriver

ROTATION = "shop-payments-token"
PLAN = "sandbox-next-minor"


class Say(Protocol):
    """The demo's narrator."""

    def step(self, title: str) -> None: ...
    def fact(self, text: str) -> None: ...


def rotate_a_secret(daemon: Daemon, say: Say) -> bool:
    """``drd rotate run shop-payments-token``: true when the rotation succeeded."""
    say.step("Rotate the shop's payments token through Vault: pending, delivered, consumers restarted, verified, "
             "promoted with check-and-set")  # fmt: skip
    config = daemon.config.current
    assert config is not None
    assert daemon.runbook_runs is not None
    assert daemon.store is not None
    policy = config.of_kind(RotationPolicy)[ROTATION]
    assembly = daemon.runbook_runs.assembly(config)
    record = start_rotation(assembly.engine, config, policy, trigger="demo", requested_by="drd-demo")
    assembly.engine.execute(record.id)
    final = finish_rotation(daemon.store, record.id, metrics=daemon.metrics)
    for step in daemon.store.steps(record.id):
        say.fact(f"{step.name:<11} {step.phase.value:<10} {_summary(step.outputs)}")
    result = rotation_result(final, daemon.store.steps(record.id))
    say.fact(f"rotation {record.id}: {result}; Vault secret/{policy.spec.vault.path} holds the new version, "
             "its value shown nowhere (not here, not in drd's store, logs or metrics)")  # fmt: skip
    return final.phase is Phase.COMPLETED


def upgrade_the_canary(daemon: Daemon, say: Say) -> bool:
    """``drd upgrade run sandbox-next-minor``: true when the canary is upgraded, proven, and the gate waits."""
    config = daemon.config.current
    assert config is not None
    assert daemon.runbook_runs is not None
    assert daemon.store is not None
    plan = config.of_kind(UpgradePlan)[PLAN]
    say.step(f"Upgrade to {plan.spec.target_version}, canary first: pre-flight, control plane, nodes drained one "
             "at a time, post-verify, then a restore drill of the shop into the upgraded canary")  # fmt: skip
    assembly = daemon.runbook_runs.assembly(config)
    driver = UpgradeDriver(assembly.engine, config, plan, StoreLedger(daemon.store), requested_by="drd-demo")
    now = driver.drive()
    for cluster in now.clusters:
        run = cluster.run or "-"
        say.fact(f"{cluster.stage:<11} {cluster.cluster:<13} {cluster.phase:<8} {run} {cluster.reason}".rstrip())
    canary = next((c for c in now.clusters if c.cluster == "canary-east"), None)
    if canary is not None and canary.run:
        for step in daemon.store.steps(canary.run):
            if step.finished_at is not None:
                say.fact(f"  {step.name:<21} {step.phase.value:<10} {_summary(step.outputs)}")
    say.fact(f"the plan {now.phase.value}: {now.reason or 'done'}")
    say.fact(f"dr-west and primary-east wait for a second person: drd upgrade resume {PLAN}")
    return now.phase is PlanPhase.WAITING and canary is not None and canary.phase == "done"


def _summary(outputs: dict[str, Any]) -> str:
    """A step's outputs in one short line (they hold digests and key ids, never secret values)."""
    shown = []
    for key, value in outputs.items():
        shown.append(f"{key}={len(value)} item(s)" if isinstance(value, list | dict) else f"{key}={value}")
    line = ", ".join(shown)
    return line if len(line) <= 100 else line[:97] + "..."
