"""The runbooks an upgrade runs: the shipped per-cluster one, and one generated per stage for its soak and gates.

A stage's gates differ from plan to plan, so its runbook is generated from
the UpgradePlan when the stage's clusters are all upgraded, and pinned in its
run like any runbook: a restart resumes exactly what was decided. Its steps:

* ``soak``: wait until the recorded moment the stage's last cluster finished,
  plus the stage's soak (a restart neither lengthens nor skips it);
* a ``health`` gate: ``upgrade.verify`` of every cluster of the stage (nodes,
  kubelets and workloads on the new version);
* a ``metric`` gate: ``check.prometheus`` with the gate's query and conditions (a
  sample meeting ``failIf`` fails it: halted), then an ``assert`` that the verdict
  is ``passed``: an inconclusive one pauses the run for an operator
  (``onInconclusive: pause``) or halts (``fail``);
* an ``approval`` gate: the engine's approval step (``drd upgrade resume``
  approves it, recorded with who did).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from drd.policy.durations import format_duration
from drd.policy.models.cluster import Cluster
from drd.policy.models.upgrade import ApprovalGate, HealthGate, MetricGate, OnInconclusive, ResolvedStage, UpgradePlan
from drd.runbooks.spec.loader import load_runbook_text
from drd.runbooks.spec.models import Runbook

CLUSTER_RUNBOOK_FILE = Path(__file__).with_name("upgrade-cluster.yaml")


@cache
def cluster_runbook() -> Runbook:
    """The shipped per-cluster runbook, validated once."""
    return load_runbook_text(CLUSTER_RUNBOOK_FILE.read_text(encoding="utf-8"), display=str(CLUSTER_RUNBOOK_FILE))


def stage_runbook_name(plan: UpgradePlan, stage: ResolvedStage) -> str:
    """``upgrade-<plan>-<stage>``, cut to a valid name."""
    return f"upgrade-{plan.name}-{stage.stage.name}"[:63].rstrip("-")


def needs_stage_run(stage: ResolvedStage) -> bool:
    """Whether the stage has anything to do once its clusters are upgraded (a soak or gates)."""
    return stage.stage.soak > timedelta(0) or bool(stage.stage.gates)


def stage_runbook(plan: UpgradePlan, stage: ResolvedStage, upgraded: Sequence[str] | None = None) -> Runbook:
    """The stage's soak and gates as a runbook taking ``soakUntil`` (RFC 3339).

    ``upgraded`` names the clusters a health gate checks (default: all of the stage); a skipped cluster
    stays on its version on purpose and is left out.
    """
    checked = [c for c in stage.clusters if upgraded is None or c.name in upgraded]
    steps: list[dict[str, Any]] = []
    if stage.stage.soak > timedelta(0):
        steps.append(
            {
                "id": "soak",
                "type": "upgrade.soak",
                "description": f"Soak for {format_duration(stage.stage.soak)} after the stage's last cluster.",
                "with": {"until": "${{ params.soakUntil }}"},
            }
        )
    for index, gate in enumerate(stage.stage.gates):
        steps += _gate_steps(plan, stage, gate, gate.name or f"{gate.type}-{index + 1}", checked)
    if not steps:  # only a health gate, and every cluster of the stage was skipped
        steps.append({"id": "nothing-to-check", "type": "assert", "with": {"that": True, "message": "unreachable"}})
    document = {
        "apiVersion": "drd.dev/v1",
        "kind": "Runbook",
        "metadata": {"name": stage_runbook_name(plan, stage), "labels": {"class": "upgrade"}},
        "spec": {
            "description": f"Soak and gates of stage {stage.stage.name} of UpgradePlan {plan.name}.",
            "parameters": {
                "soakUntil": {"type": "string", "required": True, "description": "When the soak ends."},
            },
            "timeout": format_duration(_timeout(stage)),
            "steps": steps,
        },
    }
    return load_runbook_text(yaml.safe_dump(document, sort_keys=False), display=f"<UpgradePlan {plan.name}>")


def soak_until(finished: datetime, stage: ResolvedStage) -> str:
    """When the soak of a stage whose last cluster finished at ``finished`` ends."""
    return (finished + stage.stage.soak).isoformat()


def _gate_steps(
    plan: UpgradePlan, stage: ResolvedStage, gate: Any, name: str, checked: Sequence[Cluster]
) -> list[dict[str, Any]]:
    if isinstance(gate, HealthGate):
        return [
            {
                "id": f"{name}-{cluster.name}"[:63],
                "type": "upgrade.verify",
                "description": f"Health gate {name}: {cluster.name} healthy on the new version.",
                "timeout": format_duration(gate.timeout),
                "with": {"plan": plan.name, "cluster": cluster.name, "nodes": True},
            }
            for cluster in checked
        ]
    if isinstance(gate, MetricGate):
        measured = {
            "id": name,
            "type": "check.prometheus",
            "description": f"Metric gate {name}: any sample meeting failIf halts.",
            "onFailure": "fail",
            "timeout": format_duration(gate.interval * gate.samples + timedelta(minutes=5)),
            "with": {
                "query": gate.query,
                "passIf": str(gate.pass_if),
                "failIf": str(gate.fail_if),
                "samples": gate.samples,
                "interval": format_duration(gate.interval),
                "onInconclusive": "report",
            },
        }
        decided = {
            "id": f"{name}-conclusive"[:63],
            "type": "assert",
            "description": "No data, or values between passIf and failIf, is never a pass.",
            "onFailure": "pause" if gate.on_inconclusive is OnInconclusive.PAUSE else "fail",
            "with": {
                "that": f"${{{{ steps['{name}'].outputs.verdict == 'passed' }}}}",
                "message": f"metric gate {name} is inconclusive (not a pass): "
                f"${{{{ steps['{name}'].outputs.reason }}}}",
            },
        }
        return [measured, decided]
    if isinstance(gate, ApprovalGate):
        clusters = ", ".join(c.name for c in stage.clusters)
        inputs: dict[str, Any] = {
            "message": f"UpgradePlan {plan.name}: stage {stage.stage.name} ({clusters}) is upgraded and soaked. "
            "Approve to let the next stage start."
        }
        if gate.timeout is not None:
            inputs["timeout"] = format_duration(gate.timeout)
        return [{"id": name, "type": "approval", "with": inputs}]
    raise TypeError(f"unknown gate {gate!r}")


def _timeout(stage: ResolvedStage) -> timedelta:
    """Long enough for the soak and every gate, with a day to spare for approvals."""
    total = stage.stage.soak + timedelta(days=1)
    for gate in stage.stage.gates:
        if isinstance(gate, HealthGate):
            total += gate.timeout * max(1, len(stage.clusters))
        elif isinstance(gate, MetricGate):
            total += gate.interval * gate.samples
        elif isinstance(gate, ApprovalGate) and gate.timeout is not None:
            total += gate.timeout
    return total
