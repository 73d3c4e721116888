"""A drill's evidence, from its durable record: what was restored, what was proven, what it took.

Pure: it reads a drill run and its step attempts (as the engine recorded
them) and the configuration, and returns the evidence document that the
store keeps, `drd drill show` prints and the HTML report renders. Nothing in
it is computed from memory, so a drill resumed after a crash has evidence as
good as one that ran straight through.

Verdict (``result`` as in the metrics contract):

* ``passed``: every check passed, nothing missing, RTO met → phase Completed;
* ``failed``: the drill ran to the end and found a problem (a check failed,
  objects missing, the RTO missed) → phase PartiallyFailed;
* ``error``: the drill could not run to the end (DR not ready, restore failed,
  timeout) → phase Failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from drd.outcomes import Phase
from drd.policy.loader import Config
from drd.policy.models.drill import DrillPolicy
from drd.store.records import RunRecord, StepRecord
from drd.velero.timefmt import parse_rfc3339

RTO_REGRESSION_MARGIN = 0.25
"""An RTO more than 25 % above the previous passed drill's is flagged as a regression."""

LEVELS = (
    "Restore integrity",
    "Completeness",
    "Readiness",
    "Checks",
    "RTO within objective",
    "RPO within objective",
)


def latest_attempts(steps: Sequence[StepRecord]) -> dict[str, StepRecord]:
    """The last attempt of each step, by step id."""
    latest: dict[str, StepRecord] = {}
    for step in sorted(steps, key=lambda s: (s.started_at, s.attempt)):
        latest[step.name] = step
    return latest


def build_evidence(
    run: RunRecord,
    steps: Sequence[StepRecord],
    config: Config | None,
    *,
    history: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The evidence of a finished drill run (``history``: evidence of earlier drills of the policy, newest first)."""
    latest = latest_attempts(steps)
    policy_name = run.subject
    policy = config.drill_policies.get(policy_name) if config is not None else None
    prepare = _outputs(latest.get("prepare"))
    restore_step = latest.get("restore")
    restore = _outputs(restore_step)
    verify_step = latest.get("verify")
    verify = _outputs(verify_step)
    checks = list(verify.get("checks") or [])
    objects = verify.get("objects") or None
    measurements = _measurements(latest, prepare)
    objectives = _objectives(policy, config, measurements)
    result, phase = _verdict(run, latest, checks, objects, objectives)
    evidence: dict[str, Any] = {
        "run": run.id,
        "policy": policy_name,
        "application": _application(policy, config),
        "backupPolicy": policy.spec.backup_policy if policy else None,
        "result": result,
        "phase": phase.value,
        "trigger": run.trigger,
        "requestedBy": run.requested_by,
        "startedAt": _iso(run.started_at or run.created_at),
        "finishedAt": _iso(run.finished_at),
        "source": _cluster(config, prepare.get("sourceCluster")),
        "target": _cluster(config, policy.spec.target if policy else (run.details.get("target") or {}).get("cluster")),
        "failure": run.details.get("failure"),
        "backup": _backup(prepare),
        "restore": _restore(restore, restore_step, verify),
        "namespaces": [{"source": s, "drill": d} for s, d in sorted((prepare.get("namespaces") or {}).items())],
        "objects": objects,
        "checks": checks,
        "measurements": measurements,
        "objectives": objectives,
        "regressions": regressions(checks, objects, measurements, history),
        "history": [_summary(h) for h in history[:10]],
        "diagnostics": _outputs(latest.get("evidence")) or None,
        "teardown": _outputs(latest.get("teardown")) or _teardown_missing(latest.get("teardown")),
        "steps": _steps(latest),
    }
    evidence["levels"] = levels(evidence, latest)
    evidence["score"] = score(evidence["levels"])
    return evidence


def _outputs(step: StepRecord | None) -> dict[str, Any]:
    return dict(step.outputs) if step is not None and step.finished_at is not None else {}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _application(policy: DrillPolicy | None, config: Config | None) -> str | None:
    if policy is None or config is None:
        return None
    backup_policy = config.backup_policies.get(policy.spec.backup_policy)
    return backup_policy.spec.application if backup_policy else None


def _cluster(config: Config | None, name: str | None) -> dict[str, Any] | None:
    if not name:
        return None
    cluster = config.clusters.get(name) if config is not None else None
    return {"cluster": name, "region": cluster.spec.region if cluster else None}


def _backup(prepare: Mapping[str, Any]) -> dict[str, Any] | None:
    if not prepare.get("backup"):
        return None
    return {
        "name": prepare.get("backup"),
        "phase": prepare.get("backupPhase"),
        "startedAt": prepare.get("backupStartedAt"),
        "completedAt": prepare.get("backupCompletedAt"),
        "ageSeconds": prepare.get("ageSeconds"),
        "storageLocation": prepare.get("storageLocation"),
        "partiallyFailed": bool(prepare.get("partiallyFailed")),
    }


def _restore(outputs: Mapping[str, Any], step: StepRecord | None, verify: Mapping[str, Any]) -> dict[str, Any] | None:
    if step is None:
        return None
    return {
        "name": outputs.get("name"),
        "phase": outputs.get("phase") or ("Failed" if step.phase is Phase.FAILED else None),
        "warnings": outputs.get("warnings"),
        "errors": outputs.get("errors"),
        "itemsRestored": outputs.get("itemsRestored"),
        "startedAt": _iso(step.started_at),
        "completedAt": _iso(step.finished_at),
        "warningMessages": list(verify.get("restoreWarnings") or []),
        "errorMessages": [step.error_message] if step.error_message else [],
    }


def _measurements(latest: Mapping[str, StepRecord], prepare: Mapping[str, Any]) -> dict[str, Any]:
    """RTO: restore requested → application verified; RPO: age of the restored data when the restore began."""
    restore, verify, teardown = latest.get("restore"), latest.get("verify"), latest.get("teardown")
    phases: dict[str, float] = {}
    if restore is not None and restore.finished_at is not None:
        phases["restore"] = _seconds(restore.started_at, restore.finished_at)
    if verify is not None and verify.finished_at is not None:
        phases["verify"] = _seconds(verify.started_at, verify.finished_at)
    if teardown is not None and teardown.finished_at is not None:
        phases["teardown"] = _seconds(teardown.started_at, teardown.finished_at)
    rto = None
    if (
        restore is not None
        and verify is not None
        and verify.finished_at is not None
        and verify.phase is Phase.COMPLETED
    ):
        rto = _seconds(restore.started_at, verify.finished_at)
    rpo = None
    taken = parse_rfc3339(prepare.get("backupStartedAt"))
    if restore is not None and taken is not None:
        rpo = _seconds(taken, restore.started_at)
    return {"rtoSeconds": rto, "rpoSeconds": rpo, "phases": phases}


def _seconds(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds(), 3)


def _objectives(policy: DrillPolicy | None, config: Config | None, m: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if policy is not None:
        objective = policy.spec.objectives.rto.total_seconds()
        achieved = m.get("rtoSeconds")
        found["rto"] = {
            "objectiveSeconds": objective,
            "achievedSeconds": achieved,
            "met": achieved is not None and achieved <= objective,
        }
        backup_policy = config.backup_policies.get(policy.spec.backup_policy) if config else None
        if backup_policy is not None:
            rpo_objective = backup_policy.spec.objectives.rpo.total_seconds()
            rpo = m.get("rpoSeconds")
            found["rpo"] = {
                "objectiveSeconds": rpo_objective,
                "achievedSeconds": rpo,
                "met": rpo is not None and rpo <= rpo_objective,
            }
    return found


def _verdict(
    run: RunRecord,
    latest: Mapping[str, StepRecord],
    checks: Sequence[Mapping[str, Any]],
    objects: Mapping[str, Any] | None,
    objectives: Mapping[str, Any],
) -> tuple[str, Phase]:
    verify = latest.get("verify")
    if verify is None or verify.finished_at is None or not verify.outputs:
        return "error", Phase.FAILED
    restore = latest.get("restore")
    partial_restore = restore is not None and (restore.outputs or {}).get("phase") == "PartiallyFailed"
    found_problem = (
        partial_restore
        or any(not c.get("passed") for c in checks)
        or bool(objects and objects.get("missing"))
        or verify.phase is Phase.FAILED
        or not (objectives.get("rto") or {}).get("met", True)
    )
    return ("failed", Phase.PARTIALLY_FAILED) if found_problem else ("passed", Phase.COMPLETED)


def levels(evidence: Mapping[str, Any], latest: Mapping[str, StepRecord]) -> list[dict[str, str]]:
    """The six levels a person reads at a glance, each pass / warn / fail / skip with one line of why."""
    restore = evidence.get("restore") or {}
    objects = evidence.get("objects") or {}
    checks = evidence.get("checks") or []
    objectives = evidence.get("objectives") or {}
    ready = [c for c in checks if c.get("type") == "workloadsReady"]
    others = [c for c in checks if c.get("type") not in ("workloadsReady", "objectsPresent")]
    skipped_existing = [w for w in restore.get("warningMessages") or [] if "already exists" in w]
    return [
        _level(LEVELS[0], _integrity(restore, skipped_existing)),
        _level(
            LEVELS[1],
            ("skip", "not reached")
            if not objects
            else ("fail", f"{len(objects.get('missing') or [])} of {objects.get('expected')} objects missing")
            if objects.get("missing")
            else ("pass", _present(objects)),
        ),
        _level(LEVELS[2], _checks_level(ready, "readiness check(s) passed")),
        _level(LEVELS[3], _checks_level(others, "check(s) passed")),
        _level(LEVELS[4], _objective_level(objectives.get("rto"))),
        _level(LEVELS[5], _objective_level(objectives.get("rpo"))),
    ]


def _present(objects: Mapping[str, Any]) -> str:
    tolerated = len(objects.get("tolerated") or [])
    text = f"{objects.get('found')} of {objects.get('expected')} objects of the backup present"
    return text + (f"; {tolerated} absent as expected (pods and jobs their controllers replace)" if tolerated else "")


def _level(name: str, verdict: tuple[str, str]) -> dict[str, str]:
    return {"level": name, "status": verdict[0], "detail": verdict[1]}


def _integrity(restore: Mapping[str, Any], skipped_existing: list[str]) -> tuple[str, str]:
    phase = restore.get("phase")
    if not phase:
        return "skip", "not reached"
    if phase == "Completed" and not skipped_existing:
        warnings = restore.get("warnings") or 0
        return ("warn" if warnings else "pass"), f"restore Completed with {warnings} warning(s)"
    if skipped_existing:
        return "fail", f"{len(skipped_existing)} object(s) were skipped because they already existed"
    return ("warn" if phase == "PartiallyFailed" else "fail"), f"restore {phase} with {restore.get('errors')} error(s)"


def _checks_level(checks: Sequence[Mapping[str, Any]], what: str) -> tuple[str, str]:
    if not checks:
        return "skip", "none configured or not reached"
    failed = [str(c.get("name")) for c in checks if not c.get("passed")]
    if failed:
        return "fail", f"{len(failed)} of {len(checks)} failed: {', '.join(failed)}"
    return "pass", f"{len(checks)} {what}"


def _objective_level(objective: Mapping[str, Any] | None) -> tuple[str, str]:
    if not objective or objective.get("achievedSeconds") is None:
        return "skip", "not measured"
    achieved, target = objective["achievedSeconds"], objective["objectiveSeconds"]
    verdict = "pass" if objective.get("met") else "fail"
    return verdict, f"{achieved:.0f} s achieved, objective {target:.0f} s"


def score(found: Sequence[Mapping[str, str]]) -> int:
    """A 0–100 confidence score: each level weighs the same; warn counts half; skipped levels count as failed."""
    points = {"pass": 1.0, "warn": 0.5}
    return round(100 * sum(points.get(level["status"], 0.0) for level in found) / max(1, len(found)))


def regressions(
    checks: Sequence[Mapping[str, Any]],
    objects: Mapping[str, Any] | None,
    measurements: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
) -> list[dict[str, str]]:
    """What got worse since the previous drill of the policy that ran to the end."""
    previous = next((h for h in history if h.get("result") in ("passed", "failed")), None)
    if previous is None:
        return []
    found = []
    passed_before = {c.get("name") for c in previous.get("checks") or [] if c.get("passed")}
    for check in checks:
        if not check.get("passed") and check.get("name") in passed_before:
            found.append({"kind": "check", "detail": f"{check.get('name')} newly fails"})
    rto, before = measurements.get("rtoSeconds"), (previous.get("measurements") or {}).get("rtoSeconds")
    if rto is not None and before and rto > before * (1 + RTO_REGRESSION_MARGIN):
        found.append({"kind": "rto", "detail": f"RTO grew from {before:.0f} s to {rto:.0f} s"})
    now_found, then_found = (objects or {}).get("found"), (previous.get("objects") or {}).get("found")
    if isinstance(now_found, int) and isinstance(then_found, int) and now_found < then_found:
        found.append({"kind": "objects", "detail": f"{now_found} objects restored, {then_found} the previous time"})
    return found


def _summary(evidence: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run": evidence.get("run"),
        "startedAt": evidence.get("startedAt"),
        "result": evidence.get("result"),
        "rtoSeconds": (evidence.get("measurements") or {}).get("rtoSeconds"),
    }


def _teardown_missing(step: StepRecord | None) -> dict[str, Any]:
    if step is None:
        return {"status": "pending", "message": "teardown did not run: the sweeper deletes the namespaces at their TTL"}
    return {"status": "failed", "message": step.error_message or "teardown failed"}


def _steps(latest: Mapping[str, StepRecord]) -> list[dict[str, Any]]:
    return [
        {
            "id": step.name,
            "type": step.type,
            "phase": step.phase.value,
            "attempts": step.attempt,
            "startedAt": _iso(step.started_at),
            "finishedAt": _iso(step.finished_at),
            "error": step.error_message,
        }
        for step in sorted(latest.values(), key=lambda s: s.started_at)
    ]
