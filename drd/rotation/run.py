"""Starting a rotation: the shipped ``rotate-secret`` runbook on the one durable engine.

A rotation is a run of kind ``rotation`` whose subject is the RotationPolicy,
so its history, catch-up and metrics are the policy's. One rotation of a policy
at a time: the runbook's lock (a Lease in drd's own cluster) and a refusal here
when an unfinished rotation of the policy is recorded.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from drd.errors import PermanentError
from drd.policy.loader import Config
from drd.policy.models.cluster import Role
from drd.policy.models.rotation import RotationPolicy
from drd.runbooks.engine.runner import Engine
from drd.runbooks.spec.loader import load_runbook_text
from drd.runbooks.spec.models import Runbook
from drd.store.records import RunRecord

KIND = "rotation"
"""``drd_runs.kind`` of rotations."""
RUNBOOK_FILE = Path(__file__).with_name("rotate-secret.yaml")


class RotationBusy(PermanentError):
    """An unfinished rotation of the policy exists: a second one is refused (it would fight the first)."""


@cache
def rotation_runbook() -> Runbook:
    """The shipped rotation runbook, validated once."""
    return load_runbook_text(RUNBOOK_FILE.read_text(encoding="utf-8"), display=str(RUNBOOK_FILE))


def find_policy(config: Config, name: str) -> RotationPolicy:
    """The RotationPolicy, or an error listing the known ones."""
    policies = config.of_kind(RotationPolicy)
    if name not in policies:
        known = ", ".join(sorted(policies)) or "none"
        raise PermanentError(f"no RotationPolicy {name!r} in the configuration (known: {known})")
    return policies[name]


def home_cluster(config: Config, wanted: str = "") -> str:
    """The cluster holding rotation locks: ``DRD_LEADER_CLUSTER`` when set, else the first primary."""
    if wanted:
        return wanted
    primaries = sorted(c.name for c in config.clusters.values() if c.spec.role is Role.PRIMARY)
    if not primaries:
        raise PermanentError("no cluster to hold rotation locks: set DRD_LEADER_CLUSTER or add a primary cluster")
    return primaries[0]


def start_rotation(
    engine: Engine,
    config: Config,
    policy: RotationPolicy,
    *,
    trigger: str,
    requested_by: str | None = None,
    lock_cluster: str = "",
) -> RunRecord:
    """Submit a rotation of ``policy``; RotationBusy when one is unfinished."""
    for run in engine.store.list_runs(kind=KIND, subject=policy.name, limit=20):
        if not run.phase.terminal:
            raise RotationBusy(
                f"rotation {run.id} of {policy.name} is {run.phase.value}: one rotation of a policy at a time "
                f"(see drd runbook show {run.id})"
            )
    return engine.submit(
        rotation_runbook(),
        {"policy": policy.name, "lockCluster": home_cluster(config, lock_cluster)},
        trigger=trigger,
        requested_by=requested_by,
        kind=KIND,
        subject=policy.name,
    )
