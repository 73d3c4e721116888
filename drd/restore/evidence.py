"""An incident restore's outcome, from its durable record: what was restored, what failed and why, what was proven.

Pure, like the drill's evidence: it reads the run and its step attempts as the
engine recorded them (and the plan the CLI kept with the run), so a restore
resumed after a crash has the same evidence as one that ran straight through.

Result (the ``result`` label of ``drd_restore_runs_total``):

* ``succeeded``: restored (Velero ``Completed``) and verified → phase Completed;
* ``partially_failed``: restored, but Velero said ``PartiallyFailed`` (which
  objects and why are listed) or a verification check failed → PartiallyFailed;
* ``failed``: nothing usable was restored (the backup vanished, the restore
  failed, the run was cancelled or timed out) → phase Failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from drd.outcomes import Phase
from drd.policy.loader import Config
from drd.store.records import RunRecord, StepRecord

RESULTS = ("succeeded", "partially_failed", "failed")


def latest_attempts(steps: Sequence[StepRecord]) -> dict[str, StepRecord]:
    """The last attempt of each step, by step id."""
    latest: dict[str, StepRecord] = {}
    for step in sorted(steps, key=lambda s: (s.started_at, s.attempt)):
        latest[step.name] = step
    return latest


def build_evidence(run: RunRecord, steps: Sequence[StepRecord], config: Config | None) -> dict[str, Any]:
    """The outcome document of a finished restore run."""
    latest = latest_attempts(steps)
    attempts = _attempt_counts(steps)
    params = run.parameters
    check = _outputs(latest.get("check-backup"))
    restore_step = latest.get("restore")
    restore = _outputs(restore_step)
    verify_step = latest.get("verify")
    verify = _outputs(verify_step)
    mapping = {ns: ns for ns in params.get("namespaces") or []}
    if params.get("targetNamespace") and mapping:
        mapping = {next(iter(mapping)): params["targetNamespace"]}
    cluster = str(params.get("cluster") or (run.details.get("target") or {}).get("cluster") or "")
    measurements = _measurements(restore_step, verify_step)
    rto = _rto(config, run.subject)
    result, phase = _verdict(run, restore, verify_step)
    return {
        "run": run.id,
        "application": run.subject,
        "result": result,
        "phase": phase.value,
        "trigger": run.trigger,
        "requestedBy": run.requested_by,
        "startedAt": _iso(run.started_at or run.created_at),
        "finishedAt": _iso(run.finished_at),
        "target": {"cluster": cluster, "region": _region(config, cluster)},
        "namespaces": [{"source": s, "target": t} for s, t in sorted(mapping.items())],
        "existing": "replace" if params.get("replace") else params.get("existing"),
        "backup": check or {"name": params.get("backup")},
        "restore": {
            "name": restore.get("name"),
            "phase": restore.get("phase") or _failed(restore_step),
            "itemsRestored": restore.get("itemsRestored"),
            "warnings": restore.get("warnings"),
            "errors": restore.get("errors"),
            "attempts": attempts.get("restore", 0),
            "failure": restore_step.error_message if restore_step and restore_step.error_message else None,
        },
        "failedObjects": list(verify.get("failedObjects") or []),
        "restoreErrors": list(verify.get("restoreErrors") or []),
        "restoreWarnings": list(verify.get("restoreWarnings") or []),
        "skippedExisting": list(verify.get("skippedExisting") or []),
        "verification": {
            "ran": verify_step is not None and verify_step.finished_at is not None,
            "passed": bool(verify.get("passed")),
            "checks": list(verify.get("checks") or []),
            "objects": verify.get("objects"),
            "secrets": verify.get("secrets"),
            "failure": verify_step.error_message if verify_step and verify_step.error_message else None,
        },
        "measurements": measurements,
        "objective": {
            "rtoSeconds": rto,
            "met": rto is not None and measurements["totalSeconds"] is not None and measurements["totalSeconds"] <= rto,
        },
        "plan": _plan_summary(run.details.get("plan")),
        "failure": run.details.get("failure"),
    }


def _outputs(step: StepRecord | None) -> dict[str, Any]:
    return dict(step.outputs) if step is not None and step.finished_at is not None else {}


def _failed(step: StepRecord | None) -> str | None:
    return "Failed" if step is not None and step.phase is Phase.FAILED else None


def _attempt_counts(steps: Sequence[StepRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.name] = counts.get(step.name, 0) + 1
    return counts


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _region(config: Config | None, name: str) -> str | None:
    cluster = config.clusters.get(name) if config is not None else None
    return cluster.spec.region if cluster is not None else None


def _rto(config: Config | None, application: str) -> float | None:
    if config is None or application not in config.backup_policies:
        return None
    drills = config.drills_of(config.backup_policies[application])
    return drills[0].spec.objectives.rto.total_seconds() if drills else None


def _measurements(restore: StepRecord | None, verify: StepRecord | None) -> dict[str, Any]:
    """Seconds of the restore and of verification, and restore requested → verified (the achieved RTO)."""
    found: dict[str, Any] = {"restoreSeconds": None, "verifySeconds": None, "totalSeconds": None}
    if restore is not None and restore.finished_at is not None:
        found["restoreSeconds"] = _seconds(restore.started_at, restore.finished_at)
    if verify is not None and verify.finished_at is not None:
        found["verifySeconds"] = _seconds(verify.started_at, verify.finished_at)
        if restore is not None and verify.phase is Phase.COMPLETED:
            found["totalSeconds"] = _seconds(restore.started_at, verify.finished_at)
    return found


def _seconds(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds(), 3)


def _verdict(run: RunRecord, restore: Mapping[str, Any], verify: StepRecord | None) -> tuple[str, Phase]:
    if run.phase is Phase.FAILED or not restore:
        return "failed", Phase.FAILED
    verified = verify is not None and verify.phase is Phase.COMPLETED
    if restore.get("phase") == "Completed" and verified and run.phase is Phase.COMPLETED:
        return "succeeded", Phase.COMPLETED
    return "partially_failed", Phase.PARTIALLY_FAILED


def _plan_summary(plan: Any) -> dict[str, Any] | None:
    if not isinstance(plan, Mapping):
        return None
    return {
        "summary": plan.get("summary"),
        "warnings": plan.get("warnings"),
        "estimate": plan.get("estimate"),
        "guard": plan.get("guard"),
    }
