"""Running a drill: the shipped ``drill-cross-region`` runbook on the one durable engine, then its evidence.

A drill is a run of kind ``drill`` whose subject is the DrillPolicy, so its
history, its catch-up after downtime and its lock are the policy's. The
runbook itself ships inside the package (``drill-cross-region.yaml``, also
linked into ``runbooks/``) so the daemon never depends on a runbooks
directory being deployed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from drd.errors import PermanentError
from drd.policy.loader import Config
from drd.policy.models.cluster import Role
from drd.policy.models.drill import DrillPolicy
from drd.runbooks.engine.runner import Engine
from drd.runbooks.spec.loader import load_runbook_text
from drd.runbooks.spec.models import Runbook
from drd.store.records import RunRecord

KIND = "drill"
"""``drd_runs.kind`` of drills."""
RUNBOOK_FILE = Path(__file__).with_name("drill-cross-region.yaml")


@cache
def drill_runbook() -> Runbook:
    """The shipped drill runbook, validated once."""
    return load_runbook_text(RUNBOOK_FILE.read_text(encoding="utf-8"), display=str(RUNBOOK_FILE))


def start_drill(
    engine: Engine, config: Config, policy: DrillPolicy, *, trigger: str, requested_by: str | None = None
) -> RunRecord:
    """Submit a drill of ``policy`` (refusing a primary target before anything is recorded)."""
    target = config.clusters.get(policy.spec.target)
    if target is None:
        raise PermanentError(f"DrillPolicy {policy.name}: cluster {policy.spec.target} is not in the inventory")
    if target.spec.role is Role.PRIMARY:
        raise PermanentError(f"DrillPolicy {policy.name}: refusing to drill into {target.name}, a primary cluster")
    return engine.submit(
        drill_runbook(),
        {"policy": policy.name, "cluster": policy.spec.target},
        trigger=trigger,
        requested_by=requested_by,
        kind=KIND,
        subject=policy.name,
        timeout_seconds=policy.spec.effective_timeout.total_seconds(),
    )
