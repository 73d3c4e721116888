"""Record outcomes in exactly one place: the store, the metrics and the canonical log line."""

from __future__ import annotations

from typing import Any, Protocol

import structlog

from drd.outcomes import Outcome
from drd.store import Store

log = structlog.get_logger("drd.outcome")


class OutcomeMetrics(Protocol):
    """What the recorder needs of the metrics."""

    def record(self, outcome: Outcome) -> None: ...


class Recorder:
    """Writes each outcome to the store, counts it in the metrics and logs one line for it."""

    def __init__(self, *, store: Store, metrics: OutcomeMetrics, trigger: str = "schedule") -> None:
        self.store = store
        self.metrics = metrics
        self.trigger = trigger

    def record(self, outcome: Outcome, *, trigger: str | None = None, parameters: dict[str, Any] | None = None) -> None:
        """Persist, count and log one outcome. The log line is drd's canonical line for that unit of work."""
        run = self.store.create_run(
            kind=outcome.kind,
            subject=outcome.subject,
            trigger=trigger or self.trigger,
            parameters=parameters or {},
            details=dict(outcome.details),
            phase=outcome.phase,
            started_at=outcome.started,
            finished_at=outcome.finished,
        )
        self.metrics.record(outcome)
        level = "info" if outcome.phase.succeeded else "warning"
        getattr(log, level)(f"{outcome.kind}_finished", run=run.id, **outcome.fields())
