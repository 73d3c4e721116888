"""Running an incident restore: plan it from the clusters, then submit the shipped ``incident-restore`` runbook.

An incident restore is a run of kind ``restore`` whose subject is the
application (its BackupPolicy), on the one durable engine and its target
lock (a Lease per target namespace in the target cluster): two restores into
the same namespace cannot run at once. The runbook ships inside the package
(``incident-restore.yaml``, linked into ``runbooks/``) like the drill's.

:func:`prepare` reads the facts and returns the :class:`Prepared` plan;
:func:`start_restore` checks the backup once more (it may have been deleted
while a person read the plan) and submits the run. Executing it is the
caller's: the CLI, or the daemon for a run it resumes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from drd.clients.kube_resources import VELERO_BACKUPS
from drd.errors import ConfigError, PermanentError
from drd.operations import velero
from drd.policy.loader import Config
from drd.policy.models.backup import BackupPolicy
from drd.restore import facts as reading
from drd.restore.plan import (
    PlanError,
    Request,
    backup_refusal,
    choose_backup,
    make_plan,
    namespace_mapping,
    source_namespaces,
)
from drd.runbooks.engine.environment import Environment
from drd.runbooks.engine.runner import Engine, step_key
from drd.runbooks.spec.loader import load_runbook_text
from drd.runbooks.spec.models import Runbook
from drd.store.records import RunRecord

KIND = "restore"
"""``drd_runs.kind`` of incident restores."""
RUNBOOK_FILE = Path(__file__).with_name("incident-restore.yaml")
RESTORE_STEP = "restore"
"""The runbook step that creates the Velero Restore (its name is ``step_key(run, RESTORE_STEP)``)."""


class RestoreRefused(PermanentError):
    """The plan refuses the restore (the reason says why); nothing was changed."""


@cache
def restore_runbook() -> Runbook:
    """The shipped incident-restore runbook, validated once."""
    return load_runbook_text(RUNBOOK_FILE.read_text(encoding="utf-8"), display=str(RUNBOOK_FILE))


def application_policy(config: Config, name: str) -> BackupPolicy:
    """The BackupPolicy named ``name``, or the one whose ``application`` is ``name``."""
    policy = config.backup_policies.get(name)
    if policy is None:
        matching = [p for p in config.backup_policies.values() if p.spec.application == name]
        if len(matching) == 1:
            return matching[0]
        known = ", ".join(sorted(config.backup_policies)) or "none"
        raise ConfigError(f"no application or BackupPolicy {name!r} in the configuration (known: {known})")
    return policy


@dataclass(frozen=True)
class Prepared:
    """A plan and what submitting it needs."""

    request: Request
    policy: BackupPolicy
    plan: dict[str, Any]
    mapping: dict[str, str]

    @property
    def refusal(self) -> str | None:
        """Why the restore must not happen, or None."""
        refusal: str | None = self.plan.get("refusal")
        return refusal

    @property
    def backup(self) -> str:
        """The chosen backup's name."""
        return str((self.plan.get("backup") or {}).get("name") or "")


def prepare(
    env: Environment, config: Config, request: Request, *, drill_seconds: Mapping[str, Sequence[float]] | None = None
) -> Prepared:
    """Read the facts and decide the plan (raises ConfigError for requests that do not fit the backup)."""
    policy = config.backup_policies[request.application]
    env.cluster(request.target_cluster)  # an unknown cluster is a usage error, before any API call
    now = env.clock.now()
    found = reading.read_backups(env, policy, request)
    choice = choose_backup(
        request,
        found.target,
        now=now,
        doomed=found.doomed,
        source_backups=found.source,
        source_error=found.source_error,
    )
    target = _cluster(config, request.target_cluster)
    source = _cluster(config, request.source_cluster)
    if choice.backup is None:
        plan = make_plan(request, choice, None, mapping={}, now=now, target=target, source=source)
        return Prepared(request, policy, plan, {})
    listing = reading.read_resource_list(env, request, choice.backup)
    try:
        mapping = namespace_mapping(request, source_namespaces(choice.backup, listing))
    except PlanError as exc:
        raise ConfigError(str(exc)) from None
    facts = reading.read_facts(env, request, choice.backup, mapping, resource_list=listing)
    drills = config.drills_of(policy)
    rto = drills[0].spec.objectives.rto.total_seconds() if drills else None
    facts = replace(facts, drill_seconds=dict(drill_seconds or {}), rto_seconds=rto)
    plan = make_plan(request, choice, facts, mapping=mapping, now=now, target=target, source=source)
    return Prepared(request, policy, plan, mapping)


def _cluster(config: Config, name: str) -> dict[str, Any]:
    cluster = config.clusters.get(name)
    if cluster is None:
        return {"cluster": name}
    return {"cluster": name, "region": cluster.spec.region, "role": cluster.spec.role.value}


def recheck_backup(env: Environment, prepared: Prepared) -> None:
    """Refuse if the chosen backup is gone, being deleted or otherwise unusable now (just before acting)."""
    request = prepared.request
    kube = env.kube(request.target_cluster)
    namespace = env.velero_namespace(request.target_cluster)
    found = kube.find(VELERO_BACKUPS, prepared.backup, namespace=namespace)
    if found is None:
        raise RestoreRefused(
            f"backup {prepared.backup} no longer exists in {request.target_cluster}: it was deleted after the plan "
            "was made; nothing was restored (run the command again for a new plan)"
        )
    refusal = backup_refusal(
        found,
        application=prepared.policy.name,
        now=env.clock.now(),
        doomed=velero.pending_deletions(kube, namespace=namespace),
    )
    if refusal is not None:
        raise RestoreRefused(f"{refusal} (since the plan was made); nothing was restored")


def parameters(prepared: Prepared) -> dict[str, Any]:
    """The incident-restore runbook's parameters for a plan."""
    request = prepared.request
    sources = sorted(prepared.mapping)
    target = prepared.mapping[sources[0]] if len(sources) == 1 else ""
    return {
        "application": prepared.policy.name,
        "cluster": request.target_cluster,
        "backup": prepared.backup,
        "namespaces": sources,
        "targetNamespace": target if target and target != sources[0] else "",
        "includeResources": list(request.include_resources),
        "excludeResources": list(request.exclude_resources),
        "existing": "update" if request.existing == "update" else "none",
        "replace": request.replace,
    }


def start_restore(engine: Engine, prepared: Prepared, *, trigger: str, requested_by: str | None = None) -> RunRecord:
    """Submit the restore of a confirmed plan (re-checking the backup first); the caller executes it."""
    if prepared.refusal:
        raise RestoreRefused(prepared.refusal)
    recheck_backup(engine.env, prepared)
    return engine.submit(
        restore_runbook(),
        parameters(prepared),
        trigger=trigger,
        requested_by=requested_by,
        kind=KIND,
        subject=prepared.policy.name,
    )


def restore_name(run_id: str) -> str:
    """The name of the Velero Restore a run creates."""
    return step_key(run_id, RESTORE_STEP)
