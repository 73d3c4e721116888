"""The one place a finished drill is recorded: its evidence kept in the store, counted in the metrics, announced.

Called by whoever saw the run end (the CLI that executed it, the daemon's
engine observer). It is idempotent: evidence already recorded is returned as
it is, so a drill is counted once even if two places finish it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from drd.drills.evidence import build_evidence
from drd.drills.run import KIND
from drd.errors import DrdError
from drd.metrics import Metrics
from drd.operations.notification import Notification, Severity
from drd.operations.notify import Notifier
from drd.outcomes import Phase
from drd.policy.loader import Config
from drd.store import Store

log = structlog.get_logger(__name__)
HISTORY = 10


def finish_drill(
    store: Store,
    run_id: str,
    *,
    config: Config | None,
    metrics: Metrics | None = None,
    notifier: Notifier | None = None,
) -> dict[str, Any]:
    """Build and store the evidence of a finished drill (once), and count it in ``metrics`` (once); returns it.

    The CLI records a drill it ran without metrics (its process has none to export); the daemon's
    :func:`count_finished` later finds it uncounted and counts it, marking ``details.counted``.
    """
    run = store.get_run(run_id)
    if not run.phase.terminal:
        raise DrdError(f"drill {run_id} has not finished: it is {run.phase.value}")
    if run.phase is Phase.SKIPPED:  # another drill of the policy held the lock: nothing ran, nothing to count
        skipped = {"run": run.id, "policy": run.subject, "result": "skipped", "failure": run.details.get("failure")}
        if not run.details.get("counted"):
            store.update_run(run_id, details={**run.details, "counted": True})
        return skipped
    if isinstance(run.details.get("evidence"), dict):
        recorded: dict[str, Any] = run.details["evidence"]
        if metrics is not None and not run.details.get("counted"):
            _count(metrics, run.subject, recorded, run.finished_at or run.updated_at)
            store.update_run(run_id, details={**run.details, "counted": True})
        return recorded
    history = [
        r.details["evidence"]
        for r in store.list_runs(kind=KIND, subject=run.subject, limit=HISTORY + 1)
        if r.id != run.id and isinstance(r.details.get("evidence"), dict)
    ]
    evidence = build_evidence(run, store.steps(run_id), config, history=history)
    details = {**run.details, "evidence": evidence, "counted": metrics is not None}
    store.update_run(run_id, phase=Phase(evidence["phase"]), details=details)
    measurements = evidence["measurements"]
    if metrics is not None:
        _count(metrics, run.subject, evidence, run.finished_at or run.updated_at)
    level = "info" if evidence["result"] == "passed" else "warning"
    getattr(log, level)(
        "drill_finished",
        run=run_id,
        policy=run.subject,
        result=evidence["result"],
        rto_seconds=measurements.get("rtoSeconds"),
        rpo_seconds=measurements.get("rpoSeconds"),
        score=evidence.get("score"),
        regressions=len(evidence["regressions"]),
    )
    if notifier is not None and (evidence["result"] != "passed" or evidence["regressions"]):
        notifier.notify(_notification(evidence))
    return evidence


def _count(metrics: Metrics, policy: str, evidence: dict[str, Any], finished: datetime) -> None:
    measurements = evidence["measurements"]
    metrics.observe_drill(
        policy=policy,
        result=evidence["result"],
        finished=finished,
        rto_seconds=measurements.get("rtoSeconds") if evidence["result"] == "passed" else None,
        restored_backup_age_seconds=measurements.get("rpoSeconds"),
        phase_seconds=measurements.get("phases"),
    )


def _notification(evidence: dict[str, Any]) -> Notification:
    regressions = "; ".join(r["detail"] for r in evidence["regressions"])
    failure = (evidence.get("failure") or {}).get("message") or ""
    title = f"Drill {evidence['policy']} {evidence['result']}"
    return Notification(
        reason="DrillFailed" if evidence["result"] != "passed" else "DrillRegressed",
        severity=Severity.WARNING if evidence["result"] == "failed" or regressions else Severity.CRITICAL,
        title=title + (f": {regressions}" if regressions else ""),
        text=failure or regressions or "see `drd drill show " + str(evidence["run"]) + "`",
        cluster=(evidence.get("target") or {}).get("cluster"),
        fields={"Run": str(evidence["run"]), "Score": str(evidence.get("score"))},
        key=f"drill/{evidence['policy']}/{evidence['result']}",
    )
