"""Recording the end of a rotation: counted once, logged, and announced when it did not succeed.

The CLI records rotations it ran (no metrics in its process); the daemon's
finishers record those it executed and, through ``count_finished``, those the
CLI left uncounted (``details.counted``). The record holds the rotation's
digests and key ids only: never a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from drd.operations.notification import Notification, Severity
from drd.operations.notify import Notifier
from drd.outcomes import Phase
from drd.store import Store
from drd.store.records import RunRecord, StepRecord

log = structlog.get_logger(__name__)


def rotation_result(run: RunRecord, steps: Sequence[StepRecord]) -> str:
    """``succeeded``, ``rolled_back`` (failed before promotion, the old credential restored) or ``failed``."""
    if run.phase is Phase.COMPLETED:
        return "succeeded"
    if any(
        s.type == "rotate.rollback" and s.phase is Phase.COMPLETED and s.outputs.get("restorable", True) for s in steps
    ):
        return "rolled_back"
    return "failed"  # a database static role cannot go back: Vault already changed the password


def finish_rotation(
    store: Store, run_id: str, *, metrics: Any | None = None, notifier: Notifier | None = None
) -> RunRecord:
    """Count and announce a finished rotation once; returns the run."""
    run = store.get_run(run_id)
    if not run.phase.terminal or run.details.get("counted"):
        return run
    announced = bool(run.details.get("announced"))
    if announced and metrics is None:  # the CLI recorded it already; the daemon will count it
        return run
    result = rotation_result(run, store.steps(run_id))
    failure: Any = run.details.get("failure") or {}
    reason = f"{failure.get('step')}: {failure.get('message')}" if isinstance(failure, dict) and failure else ""
    if not announced:  # logged and announced once, by whoever records it first
        if result == "succeeded":
            log.info("rotation_finished", run=run.id, rotation=run.subject, result=result)
        else:
            log.warning("rotation_finished", run=run.id, rotation=run.subject, result=result, reason=reason)
            if notifier is not None:
                notifier.notify(_failed(run, result, reason))
    if metrics is not None:
        metrics.observe_rotation(run.subject, result=result, finished=run.finished_at or run.updated_at)
    details = {**run.details, "announced": True, "counted": metrics is not None}
    return store.update_run(run_id, details=details)


def _failed(run: RunRecord, result: str, reason: str) -> Notification:
    restored = "the old credential was put back and stays valid" if result == "rolled_back" else "nothing was put back"
    return Notification(
        reason="RotationFailed",
        severity=Severity.CRITICAL,
        title=f"Rotation {run.subject} {result.replace('_', ' ')}",
        text=f"{reason or run.phase.value}; {restored}. `drd runbook show {run.id}` has every step.",
        fields={"Rotation": run.subject, "Run": run.id, "Result": result},
        key=f"rotation/{run.subject}/{result}",
    )
