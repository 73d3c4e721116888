"""Missed runs of drd's own scheduled jobs, decided from drd's store.

APScheduler's job store is not durable state: it lives in memory, and re-adding a
job with ``replace_existing`` silently drops the runs it missed. So when drd
starts, reloads or becomes leader, each scheduled job (a :class:`JobSpec` with a
``schedule``) asks its *own* history instead: when did the last run of
``(kind, subject)`` start (any phase; runs are what the recorder writes)? If a
slot of the schedule passed since then, the job missed it.

Like a Kubernetes CronJob (``startingDeadlineSeconds``) or an Argo
CronWorkflow:

* however many slots were missed, the job runs **once** (coalesced), standing
  for the latest missed slot;
* a ``starting_deadline`` bounds how late that run may start: a latest missed
  slot older than the deadline is skipped, and said so;
* ``catch_up="skip"`` never runs a missed slot (it is still reported);
* a job that never ran counts from when drd first saw it (as a CronJob counts
  from its creation), so a brand-new install does not fire every cron job at
  once.

:func:`decide` is pure: the schedule, the last start and the times are
parameters. :class:`StoreHistory` reads those inputs from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from drd.outcomes import Phase
from drd.policy import schedule as schedules
from drd.policy.schedule import Schedule

if TYPE_CHECKING:
    from drd.daemon.jobs import JobSpec
    from drd.store import Store

CatchUpRule = Literal["once", "skip"]
CATCH_UP_RULES: tuple[CatchUpRule, ...] = ("once", "skip")

FIRST_SEEN_KIND = "job-seen"
"""Kind of the one run per scheduled job that marks when drd first saw it (trigger ``first-seen``, Skipped)."""
HISTORY_DEPTH = 5
"""How many of a job's newest runs are read to find the latest start (runs are written when they finish)."""


@dataclass(frozen=True)
class Decision:
    """Slots a scheduled job missed since ``since``, and whether to run it once now."""

    slot: datetime
    """The latest missed slot: the one a catch-up run stands for."""
    missed: int
    """How many slots were missed (at least 1; ``MISSED_RUNS_LIMIT`` of cron means "at least that many")."""
    since: datetime
    """The start of the last run, or when the job was first seen if it never ran."""
    late: timedelta
    """How long ago ``slot`` was."""
    run: bool
    """True: run once now. False: the slot is missed for good (see ``reason``)."""
    reason: str
    """``"missed"`` when running; ``"beyond starting deadline"`` or ``"catch-up disabled"`` when not."""

    def fields(self) -> dict[str, Any]:
        """Flat key/values for log lines."""
        return {
            "missed_slot": self.slot.isoformat(),
            "missed_runs": self.missed,
            "since": self.since.isoformat(),
            "late_s": round(self.late.total_seconds(), 3),
            "reason": self.reason,
        }


def decide(
    schedule: Schedule,
    *,
    last_started: datetime | None,
    now: datetime,
    first_seen: datetime | None,
    deadline: timedelta | None = None,
    rule: CatchUpRule = "once",
) -> Decision | None:
    """What ``schedule`` missed strictly between the last start (else ``first_seen``) and ``now``; None if nothing.

    A slot exactly at ``now`` is not missed: the scheduler fires it. ``deadline``
    None means no deadline. Every datetime must be timezone-aware.
    """
    since = last_started if last_started is not None else first_seen
    if since is None:
        raise ValueError("a job that never ran needs first_seen: when drd first saw it")
    if rule not in CATCH_UP_RULES:
        raise ValueError(f'unknown catch-up rule "{rule}": use one of {", ".join(CATCH_UP_RULES)}')
    slot = schedules.previous_run(schedule, now)
    if slot <= since:
        return None
    late = now - slot
    if rule == "skip":
        run, reason = False, "catch-up disabled"
    elif deadline is not None and late > deadline:
        run, reason = False, "beyond starting deadline"
    else:
        run, reason = True, "missed"
    missed = schedules.missed_runs(schedule, last_run=since, now=slot)
    return Decision(slot=slot, missed=missed, since=since, late=late, run=run, reason=reason)


def catch_up_due(
    schedule: Schedule,
    last_started: datetime | None,
    now: datetime,
    *,
    deadline: timedelta | None,
    first_seen: datetime | None,
    rule: CatchUpRule = "once",
) -> datetime | None:
    """The missed slot to run once now, or None (nothing missed, or missed beyond the deadline)."""
    decision = decide(schedule, last_started=last_started, now=now, first_seen=first_seen, deadline=deadline, rule=rule)
    return decision.slot if decision is not None and decision.run else None


class StoreHistory:
    """A job's history as the store has it: the latest start of its runs, and when drd first saw it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def last_started(self, kind: str, subject: str) -> datetime | None:
        """The latest start among the newest runs of ``(kind, subject)``, any phase (a Pending run: its creation)."""
        runs = self.store.list_runs(kind=kind, subject=subject, limit=HISTORY_DEPTH)
        return max((run.started_at or run.created_at for run in runs), default=None)

    def first_seen(self, spec: JobSpec, *, now: datetime) -> datetime:
        """When drd first saw this job; the first call records ``now`` (one Skipped run of kind ``job-seen``)."""
        key = f"{spec.kind}:{spec.subject}"
        seen = self.store.last_run(FIRST_SEEN_KIND, key)
        if seen is None:
            seen = self.store.create_run(
                kind=FIRST_SEEN_KIND,
                subject=key,
                trigger="first-seen",
                parameters={"job": spec.id, "schedule": str(spec.schedule)},
                phase=Phase.SKIPPED,
                started_at=now,
                finished_at=now,
            )
        return seen.started_at or seen.created_at
