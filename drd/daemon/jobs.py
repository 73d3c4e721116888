"""What one scheduled job is, and how it runs: only on the leader, never crashing the daemon, always recorded.

The job wrapper is the one place that decides retry or give-up, by reading the
error's type (style.md §3): a :class:`~drd.errors.TemporaryError` schedules a
retry after its ``delay`` (bounded), anything else is recorded as Failed.

A job recurs either every ``interval_seconds`` (and once at registration) or
at the slots of a ``schedule`` (cron or ``@every``); a scheduled job never
runs at registration, it catches up instead (:mod:`drd.daemon.catchup`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from drd.clock import Clock
from drd.daemon.catchup import CATCH_UP_RULES, CatchUpRule
from drd.errors import DrdError, TemporaryError
from drd.outcomes import Outcome, Phase
from drd.policy.schedule import Schedule

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
    """Run every this many seconds (60 when neither this nor ``schedule`` is given)."""
    schedule: Schedule | None = None
    """Run at the slots of a cron or ``@every`` schedule instead of an interval. Such a job never runs at
    registration: on start, on reload and on becoming leader it runs once if its store history says it
    missed a slot (``catch_up``, ``starting_deadline``)."""
    catch_up: CatchUpRule = "once"
    """Scheduled jobs: ``"once"`` runs one missed slot however many were missed; ``"skip"`` only reports them."""
    starting_deadline: timedelta | None = None
    """Scheduled jobs: a missed slot older than this is not run (Kubernetes' ``startingDeadlineSeconds``);
    None: no limit."""
    run_at_start: bool = True
    """Interval jobs: run once as soon as the job is (re)registered, then on its trigger."""
    misfire_grace_seconds: int = 60
    retries: int = field(default=3, compare=False)
    leader_only: bool = True
    """Most jobs act and must run on the leader only; observation-only jobs (health checks) run everywhere."""

    def __post_init__(self) -> None:
        if self.schedule is not None and self.interval_seconds is not None:
            raise ValueError(f"job {self.id}: give an interval or a schedule, not both")
        if self.catch_up not in CATCH_UP_RULES:
            raise ValueError(f'job {self.id}: unknown catch-up rule "{self.catch_up}": use "once" or "skip"')
        if self.starting_deadline is not None and self.starting_deadline < timedelta(0):
            raise ValueError(f"job {self.id}: starting_deadline must not be negative")


class JobHistory(Protocol):
    """What catching up needs to know of a job's past (:class:`drd.daemon.catchup.StoreHistory`)."""

    def last_started(self, kind: str, subject: str) -> datetime | None:
        """When the newest run of ``(kind, subject)`` started, any phase; None if it never ran."""
        ...

    def first_seen(self, spec: JobSpec, *, now: datetime) -> datetime:
        """When drd first saw ``spec`` (recording ``now`` the first time)."""
        ...


@dataclass
class JobContext:
    """What the wrapper needs from the daemon."""

    clock: Clock
    is_leader: Callable[[], bool]
    is_stopping: Callable[[], bool]
    record: Callable[[JobSpec, Outcome, str], None]
    """Record ``(spec, outcome, trigger)``: trigger is why it ran (``schedule``, ``catch-up``, ``retry``)."""
    schedule_retry: Callable[[JobSpec, float, int], None]
    history: JobHistory | None = None
    """Where scheduled jobs learn what they missed; None: they never catch up."""


def run_job(
    spec: JobSpec,
    context: JobContext,
    *,
    attempt: int = 1,
    trigger: str = "schedule",
    details: Mapping[str, Any] | None = None,
) -> Outcome | None:
    """Run one job now if this replica leads; return the recorded outcome (None when skipped).

    ``trigger`` says why it runs and is recorded with the outcome (and bound to its log lines);
    ``details`` (such as the missed slot of a catch-up) are added to the outcome's details.
    """
    if context.is_stopping():
        return None
    if spec.leader_only and not context.is_leader():
        log.debug("job_skipped_not_leader", job=spec.id)
        return None
    started = context.clock.now()
    with structlog.contextvars.bound_contextvars(job=spec.id, attempt=attempt, trigger=trigger):
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
        if details:
            outcome = dataclasses.replace(outcome, details={**outcome.details, **details})
        context.record(spec, outcome, trigger)
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
