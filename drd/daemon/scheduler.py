"""APScheduler 3 under the daemon: one job per unit of recurring work, synced with the configuration.

Jobs live in memory. APScheduler's job store is not durable state: it silently
drops missed runs when jobs are re-added with ``replace_existing``
(testinfra.md §6). So whether a *scheduled* job (cron or ``@every``) missed a
slot is decided from drd's own store, by :mod:`drd.daemon.catchup`: after every
:meth:`JobScheduler.sync` (start and reload), on :meth:`JobScheduler.catch_up`
(a new leader), and when APScheduler reports a slot it could not run (past the
misfire grace, or while the previous run was still busy).

Every job has ``max_instances=1``, ``coalesce=True`` and a bounded misfire
grace. Every run of one job, whatever started it (its trigger, a catch-up, a
retry), holds that job's lock and is decided against the store under it: a
scheduled slot that some run already covered is not run again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

import structlog
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from drd.daemon import catchup
from drd.daemon.jobs import MAX_RETRY_DELAY_SECONDS, JobContext, JobSpec, run_job
from drd.errors import DrdError, TemporaryError
from drd.policy import schedule as schedules
from drd.policy.schedule import Schedule

log = structlog.get_logger(__name__)

CATCH_UP_PREFIX = "catch-up:"
RETRY_PREFIX = "retry:"


class ScheduleTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler is untyped
    """An APScheduler trigger on drd's own schedule maths, so the scheduler and the catch-up agree on every slot.

    (APScheduler's ``CronTrigger.from_crontab`` counts weekdays from Monday and
    knows neither ``L``/``#`` as cron writes them nor drd's DST rules.)
    """

    __slots__ = ("schedule",)

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        if previous_fire_time is None:  # a slot falling exactly now fires now
            return schedules.next_run(self.schedule, now - timedelta(microseconds=1))
        return schedules.next_run(self.schedule, previous_fire_time)

    def __str__(self) -> str:
        return f"schedule[{self.schedule}]"


class JobScheduler:
    """Keeps APScheduler's jobs equal to the daemon's current job specs."""

    def __init__(self, context: JobContext, *, workers: int = 8) -> None:
        self.context = context
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
            timezone="UTC",
        )
        self._scheduler.add_listener(self._slot_lost, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self._specs: dict[str, JobSpec] = {}
        self._lock = threading.Lock()
        self._job_locks: dict[str, threading.Lock] = {}

    def start(self) -> None:
        self._scheduler.start()

    def sync(self, specs: Iterable[JobSpec]) -> None:
        """Add new jobs, replace changed ones, remove vanished ones; unchanged jobs keep their next run.

        Then every scheduled job checks the store for a slot it missed (see :meth:`catch_up`).
        """
        wanted = {spec.id: spec for spec in specs}
        with self._lock:
            for job_id in [j for j in self._specs if j not in wanted]:
                self._remove(job_id)
            for job_id, spec in wanted.items():
                if self._specs.get(job_id) == spec:
                    continue
                self._remove(job_id)
                self._add(spec)
            self._specs = wanted
            self._job_locks = {job_id: lock for job_id, lock in self._job_locks.items() if job_id in wanted}
        self.catch_up()

    def catch_up(self, job_ids: Iterable[str] | None = None) -> None:
        """Let each scheduled job (all by default) run once now if the store says it missed a slot.

        Each check is queued as a one-off APScheduler job ``catch-up:<id>``, so at most one waits
        per job, and it is decided when it runs, under the job's lock, against the store: asking
        twice, or replacing the job meanwhile, neither loses nor duplicates the catch-up.
        """
        for job_id in sorted(self._specs) if job_ids is None else job_ids:
            spec = self._specs.get(job_id)
            if spec is not None and spec.schedule is not None:
                self._queue_check(job_id, attempt=1, delay_seconds=0.0)

    def run_now(self, job_id: str) -> None:
        """Run a registered interval job as soon as a worker is free (scheduled jobs run at slots or catch up)."""
        job = self._scheduler.get_job(job_id)
        spec = self._specs.get(job_id)
        if job is not None and spec is not None and spec.schedule is None:
            job.modify(next_run_time=self.context.clock.now())

    @property
    def running(self) -> bool:
        """Whether the scheduler's thread is alive and scheduling."""
        return bool(self._scheduler.running)

    @property
    def job_ids(self) -> list[str]:
        return sorted(self._specs)

    @property
    def interval_job_ids(self) -> list[str]:
        """Jobs that recur on an interval (not on a schedule's slots)."""
        return sorted(job_id for job_id, spec in self._specs.items() if spec.schedule is None)

    def shutdown(self, *, grace_seconds: float) -> bool:
        """Stop taking work and wait up to ``grace_seconds`` for running jobs; True if they all finished."""
        if not self._scheduler.running:  # the daemon's start() failed before the scheduler started
            return True
        self._scheduler.pause()
        done = threading.Event()

        def wait() -> None:
            self._scheduler.shutdown(wait=True)
            done.set()

        threading.Thread(target=wait, name="scheduler-shutdown", daemon=True).start()
        finished = done.wait(grace_seconds)
        if not finished:
            log.warning("shutdown_grace_exceeded", grace_seconds=grace_seconds)
        return finished

    def schedule_retry(self, spec: JobSpec, delay_seconds: float, attempt: int) -> None:
        """A one-off retry of a job after a temporary failure."""
        self._scheduler.add_job(
            self._fire,
            trigger=DateTrigger(run_date=self.context.clock.now() + timedelta(seconds=delay_seconds)),
            args=[spec.id],
            kwargs={"trigger": "retry", "attempt": attempt},
            id=f"{RETRY_PREFIX}{spec.id}",
            replace_existing=True,
            misfire_grace_time=spec.misfire_grace_seconds,
        )

    # APScheduler's jobs
    def _add(self, spec: JobSpec) -> None:
        trigger: BaseTrigger
        extra = {}
        if spec.schedule is not None:
            trigger = ScheduleTrigger(spec.schedule)
        else:
            trigger = IntervalTrigger(seconds=spec.interval_seconds or 60, timezone="UTC")
            if spec.run_at_start:
                extra["next_run_time"] = self.context.clock.now()
        self._scheduler.add_job(
            self._fire,
            trigger=trigger,
            args=[spec.id],
            id=spec.id,
            name=spec.id,
            misfire_grace_time=spec.misfire_grace_seconds,
            **extra,
        )

    def _remove(self, job_id: str) -> None:
        for one in (job_id, f"{RETRY_PREFIX}{job_id}", f"{CATCH_UP_PREFIX}{job_id}"):
            if self._scheduler.get_job(one) is not None:
                self._scheduler.remove_job(one)

    def _job_lock(self, job_id: str) -> threading.Lock:
        with self._lock:
            return self._job_locks.setdefault(job_id, threading.Lock())

    def _fire(self, job_id: str, *, trigger: str = "schedule", attempt: int = 1) -> None:
        """Run the current spec of ``job_id``: on its trigger, or as a retry."""
        with self._job_lock(job_id):
            spec = self._specs.get(job_id)
            if spec is None:  # removed since this run was queued
                return
            if trigger == "schedule" and spec.schedule is not None and self._slot_covered(spec):
                return
            run_job(spec, self.context, attempt=attempt, trigger=trigger)

    def _slot_covered(self, spec: JobSpec) -> bool:
        """Whether a run (a catch-up, one from the CLI) already started at or after the slot firing now."""
        history = self.context.history
        if history is None or spec.schedule is None or self.context.is_stopping() or not self.context.is_leader():
            return False
        now = self.context.clock.now()
        slot = schedules.previous_run(spec.schedule, now + timedelta(microseconds=1))
        try:
            last = history.last_started(spec.kind, spec.subject)
        except DrdError as exc:  # not knowing is no reason to miss a slot
            log.warning("job_history_unavailable", job=spec.id, error=str(exc))
            return False
        if last is not None and last >= slot:
            log.info("job_already_ran", job=spec.id, slot=slot.isoformat(), last_started=last.isoformat())
            return True
        return False

    # Catching up
    def _queue_check(self, job_id: str, *, attempt: int, delay_seconds: float) -> None:
        self._scheduler.add_job(
            self._check,
            trigger=DateTrigger(run_date=self.context.clock.now() + timedelta(seconds=delay_seconds)),
            args=[job_id],
            kwargs={"attempt": attempt},
            id=f"{CATCH_UP_PREFIX}{job_id}",
            name=f"{CATCH_UP_PREFIX}{job_id}",
            replace_existing=True,  # at most one check waits to start…
            max_instances=2,  # …while another may be deciding: the waiting one decides after it, on the newer spec
            misfire_grace_time=None,  # a check decides against the store when it runs, however late
        )

    def _check(self, job_id: str, *, attempt: int = 1) -> None:
        """Decide from the store whether ``job_id`` missed a slot; if so, and in time, run it once now."""
        with self._job_lock(job_id):
            spec = self._specs.get(job_id)
            history = self.context.history
            if spec is None or spec.schedule is None or history is None or self.context.is_stopping():
                return
            if spec.leader_only and not self.context.is_leader():
                log.debug("catch_up_not_leader", job=job_id)
                return
            now = self.context.clock.now()
            try:
                last = history.last_started(spec.kind, spec.subject)
                first_seen = history.first_seen(spec, now=now) if last is None else None
            except TemporaryError as exc:
                retry = attempt <= spec.retries
                log.warning("catch_up_check_failed", job=job_id, error=str(exc), retrying=retry)
                if retry:
                    delay = min(max(exc.delay, 1.0) * attempt, MAX_RETRY_DELAY_SECONDS)
                    self._queue_check(job_id, attempt=attempt + 1, delay_seconds=delay)
                return
            except DrdError as exc:
                log.error("catch_up_check_failed", job=job_id, error=str(exc), retrying=False)
                return
            decision = catchup.decide(
                spec.schedule,
                last_started=last,
                now=now,
                first_seen=first_seen,
                deadline=spec.starting_deadline,
                rule=spec.catch_up,
            )
            if decision is None:
                log.debug("catch_up_not_needed", job=job_id, since=(last or first_seen or now).isoformat())
                return
            deadline = spec.starting_deadline.total_seconds() if spec.starting_deadline is not None else None
            if not decision.run:
                log.warning("catch_up_skipped", job=job_id, deadline_s=deadline, **decision.fields())
                return
            log.info("catch_up_started", job=job_id, deadline_s=deadline, **decision.fields())
            details = {"missed_slot": decision.slot.isoformat(), "missed_runs": decision.missed}
            run_job(spec, self.context, trigger="catch-up", details=details)

    def _slot_lost(self, event: JobEvent) -> None:
        """APScheduler could not run a slot (past the misfire grace, or still busy): the store decides."""
        spec = self._specs.get(event.job_id)
        if spec is not None and spec.schedule is not None:
            self.catch_up([spec.id])
