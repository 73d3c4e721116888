"""What one scheduled job is, and how it runs: only on the leader, never crashing the daemon, always recorded.

The job wrapper is the one place that decides retry or give-up, by reading the
error's type (style.md §3): a :class:`~drd.errors.TemporaryError` schedules a
retry after its ``delay`` (bounded), anything else is recorded as Failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from drd.clock import Clock
from drd.errors import DrdError, TemporaryError
from drd.outcomes import Outcome, Phase

log = structlog.get_logger(__name__)

MAX_RETRY_DELAY_SECONDS = 300.0


@dataclass(frozen=True)
class JobSpec:
    """A recurring unit of work of the daemon."""

    id: str
    kind: str
    subject: str
    func: Callable[[], Outcome] = field(compare=False)
    """Compared through ``inputs``: ``functools.partial`` objects are only ever equal to themselves."""
    inputs: tuple[object, ...] = ()
    """What ``func`` was built from (a policy and its cluster): a reload that leaves a job's inputs, trigger
    and options equal leaves the job alone, with its next run time."""
    interval_seconds: float | None = None
    cron: str | None = None
    timezone: str = "UTC"
    run_at_start: bool = True
    """Run once as soon as the job is (re)registered, then on its trigger."""
    misfire_grace_seconds: int = 60
    retries: int = field(default=3, compare=False)
    leader_only: bool = True
    """Most jobs act and must run on the leader only; observation-only jobs (health checks) run everywhere."""


@dataclass
class JobContext:
    """What the wrapper needs from the daemon."""

    clock: Clock
    is_leader: Callable[[], bool]
    is_stopping: Callable[[], bool]
    record: Callable[[Outcome], None]
    schedule_retry: Callable[[JobSpec, float, int], None]


def run_job(spec: JobSpec, context: JobContext, *, attempt: int = 1) -> Outcome | None:
    """Run one job now if this replica leads; return the recorded outcome (None when skipped)."""
    if context.is_stopping():
        return None
    if spec.leader_only and not context.is_leader():
        log.debug("job_skipped_not_leader", job=spec.id)
        return None
    started = context.clock.now()
    with structlog.contextvars.bound_contextvars(job=spec.id, attempt=attempt):
        try:
            outcome = spec.func()
        except TemporaryError as exc:
            outcome = _failed(spec, started, context.clock.now(), exc, temporary=True)
            if attempt <= spec.retries and not context.is_stopping():
                delay = min(max(exc.delay, 1.0) * attempt, MAX_RETRY_DELAY_SECONDS)
                context.schedule_retry(spec, delay, attempt + 1)
        except DrdError as exc:
            outcome = _failed(spec, started, context.clock.now(), exc, temporary=False)
        except Exception as exc:  # a bug in one job must never take the daemon down
            log.exception("job_crashed", job=spec.id)
            outcome = _failed(spec, started, context.clock.now(), exc, temporary=False)
        context.record(outcome)
        return outcome


def _failed(spec: JobSpec, started: datetime, finished: datetime, exc: BaseException, *, temporary: bool) -> Outcome:
    return Outcome(
        kind=spec.kind,
        subject=spec.subject,
        phase=Phase.FAILED,
        started=started,
        finished=max(finished, started + timedelta(0)),
        details={"error": str(exc), "error_class": type(exc).__name__, "temporary": temporary},
    )
