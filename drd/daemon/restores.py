"""The one place a finished incident restore is recorded: its evidence in the store, counted, logged.

Called by whoever saw the run end: the CLI that executed it, or the daemon's
engine observer (:mod:`drd.daemon.finishers`) for a run it carried on after
the CLI detached or died. Idempotent: evidence already recorded is returned as
it is, so a restore is counted once even if two places finish it.
"""

from __future__ import annotations

from typing import Any

import structlog

from drd.errors import DrdError
from drd.metrics import Metrics
from drd.outcomes import Phase
from drd.policy.loader import Config
from drd.restore.evidence import build_evidence
from drd.store import Store

log = structlog.get_logger(__name__)


def finish_restore(
    store: Store, run_id: str, *, config: Config | None, metrics: Metrics | None = None
) -> dict[str, Any]:
    """Build, store and count the evidence of a finished restore run; returns the evidence."""
    run = store.get_run(run_id)
    if not run.phase.terminal:
        raise DrdError(f"restore {run_id} has not finished: it is {run.phase.value}")
    if isinstance(run.details.get("evidence"), dict):
        recorded: dict[str, Any] = run.details["evidence"]
        if metrics is not None and not run.details.get("counted"):  # recorded by the CLI, counted by the daemon
            _count(metrics, recorded)
            store.update_run(run_id, details={**run.details, "counted": True})
        return recorded
    evidence = build_evidence(run, store.steps(run_id), config)
    details = {**run.details, "evidence": evidence, "counted": metrics is not None}
    store.update_run(run_id, phase=Phase(evidence["phase"]), details=details)
    if metrics is not None:
        _count(metrics, evidence)
    level = "info" if evidence["result"] == "succeeded" else "warning"
    getattr(log, level)(
        "restore_finished",
        run=run_id,
        application=run.subject,
        target_cluster=evidence["target"]["cluster"],
        result=evidence["result"],
        backup=(evidence.get("backup") or {}).get("name"),
        restore=evidence["restore"]["name"],
        failed_objects=len(evidence["failedObjects"]),
        seconds=evidence["measurements"]["totalSeconds"],
    )
    return evidence


def _count(metrics: Metrics, evidence: dict[str, Any]) -> None:
    metrics.instruments.restore_runs_total.labels(evidence["target"]["cluster"], evidence["result"]).inc()
