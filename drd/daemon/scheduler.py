"""APScheduler 3 under the daemon: one job per unit of recurring work, synced with the configuration.

Jobs live in memory: the decision to catch up after downtime comes from drd's
own store (the last recorded run), not from APScheduler's job store, which
silently drops missed runs when jobs are re-added with ``replace_existing``
(testinfra.md §6). Every job has ``max_instances=1``, ``coalesce=True`` and a
bounded misfire grace.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import timedelta

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from drd.daemon.jobs import JobContext, JobSpec, run_job

log = structlog.get_logger(__name__)


class JobScheduler:
    """Keeps APScheduler's jobs equal to the daemon's current job specs."""

    def __init__(self, context: JobContext, *, workers: int = 8) -> None:
        self.context = context
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
            timezone="UTC",
        )
        self._specs: dict[str, JobSpec] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self._scheduler.start()

    def sync(self, specs: Iterable[JobSpec]) -> None:
        """Add new jobs, replace changed ones, remove vanished ones; unchanged jobs keep their next run."""
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

    def run_now(self, job_id: str) -> None:
        """Run a registered job as soon as a worker is free (e.g. after a config change)."""
        job = self._scheduler.get_job(job_id)
        if job is not None:
            job.modify(next_run_time=self.context.clock.now())

    @property
    def running(self) -> bool:
        """Whether the scheduler's thread is alive and scheduling."""
        return bool(self._scheduler.running)

    @property
    def job_ids(self) -> list[str]:
        return sorted(self._specs)

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

    def _add(self, spec: JobSpec) -> None:
        trigger = (
            CronTrigger.from_crontab(spec.cron, timezone=spec.timezone)
            if spec.cron
            else IntervalTrigger(seconds=spec.interval_seconds or 60, timezone="UTC")
        )
        next_run = self.context.clock.now() if spec.run_at_start else None
        kwargs = {"next_run_time": next_run} if next_run is not None else {}
        self._scheduler.add_job(
            run_job,
            trigger=trigger,
            args=[spec, self.context],
            id=spec.id,
            name=spec.id,
            misfire_grace_time=spec.misfire_grace_seconds,
            **kwargs,
        )

    def _remove(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)
        retry = self._scheduler.get_job(f"retry:{job_id}")
        if retry is not None:
            self._scheduler.remove_job(retry.id)

    def schedule_retry(self, spec: JobSpec, delay_seconds: float, attempt: int) -> None:
        """A one-off retry of a job after a temporary failure."""
        when = self.context.clock.now() + timedelta(seconds=delay_seconds)
        self._scheduler.add_job(
            run_job,
            trigger=DateTrigger(run_date=when),
            args=[spec, self.context],
            kwargs={"attempt": attempt},
            id=f"retry:{spec.id}",
            replace_existing=True,
            misfire_grace_time=spec.misfire_grace_seconds,
        )
