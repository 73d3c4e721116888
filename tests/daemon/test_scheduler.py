"""The job scheduler keeps APScheduler's jobs equal to the daemon's job specs and shuts down within a grace."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from drd.clock import SystemClock
from drd.daemon.jobs import JobContext, JobSpec
from drd.daemon.scheduler import JobScheduler, ScheduleTrigger
from drd.outcomes import Outcome, Phase
from drd.policy.schedule import Schedule


class Recording:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()

    def record(self, spec: JobSpec, outcome: Outcome, trigger: str) -> None:
        with self.lock:
            self.outcomes.append(outcome)

    def subjects(self) -> list[str]:
        with self.lock:
            return [o.subject for o in self.outcomes]


def a_scheduler(recording: Recording) -> JobScheduler:
    context = JobContext(
        clock=SystemClock(),
        is_leader=lambda: True,
        is_stopping=lambda: False,
        record=recording.record,
        schedule_retry=lambda spec, delay, attempt: None,
    )
    scheduler = JobScheduler(context, workers=2)
    context.schedule_retry = scheduler.schedule_retry
    return scheduler


def job(subject: str, *, interval: float = 3600, sleep: float = 0.0) -> JobSpec:
    def work() -> Outcome:
        started = SystemClock().now()
        time.sleep(sleep)
        return Outcome("check", subject, Phase.COMPLETED, started, SystemClock().now())

    return JobSpec(id=f"check:{subject}", kind="check", subject=subject, func=work, interval_seconds=interval)


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_new_jobs_run_at_once_then_on_their_interval():
    """A registered job runs immediately (catching up after downtime) and again after its interval."""
    recording = Recording()
    scheduler = a_scheduler(recording)
    scheduler.start()
    try:
        scheduler.sync([job("shop", interval=0.3)])
        assert wait_until(lambda: recording.subjects().count("shop") >= 2)
    finally:
        scheduler.shutdown(grace_seconds=5)


def test_sync_removes_vanished_jobs_and_keeps_unchanged_ones():
    """After a reload, removed policies lose their jobs; an unchanged job is not re-run."""
    recording = Recording()
    scheduler = a_scheduler(recording)
    scheduler.start()
    try:
        shop = job("shop")
        scheduler.sync([shop, job("catalog")])
        assert wait_until(lambda: sorted(recording.subjects()) == ["catalog", "shop"])
        scheduler.sync([shop])
        time.sleep(0.3)
        assert scheduler.job_ids == ["check:shop"]
        assert sorted(recording.subjects()) == ["catalog", "shop"]
    finally:
        scheduler.shutdown(grace_seconds=5)


def test_shutdown_waits_for_running_jobs_within_the_grace():
    """Shutdown lets a running job finish when it fits in the grace period."""
    recording = Recording()
    scheduler = a_scheduler(recording)
    scheduler.start()
    scheduler.sync([job("slow", sleep=0.5)])
    time.sleep(0.1)
    assert scheduler.shutdown(grace_seconds=5)
    assert recording.subjects() == ["slow"]


def test_shutdown_gives_up_after_the_grace():
    """A job longer than the grace does not hold the daemon's exit hostage."""
    recording = Recording()
    scheduler = a_scheduler(recording)
    scheduler.start()
    scheduler.sync([job("stuck", sleep=2.0)])
    time.sleep(0.2)
    began = time.monotonic()
    assert not scheduler.shutdown(grace_seconds=0.3)
    assert time.monotonic() - began < 1.0


def test_scheduled_jobs_fire_at_the_slots_drd_computes():
    """The trigger is drd's schedule maths: cron's Sunday is 0 (APScheduler's from_crontab would say Monday),
    a slot falling exactly now fires now, and DST follows drd's rules (02:30 on spring-forward night fires at 03:00).
    """
    sundays = ScheduleTrigger(Schedule.parse("0 3 * * 0"))
    monday = datetime(2026, 3, 2, 12, tzinfo=UTC)
    sunday_3am = datetime(2026, 3, 8, 3, tzinfo=UTC)
    assert sundays.get_next_fire_time(None, monday) == sunday_3am
    assert sundays.get_next_fire_time(None, sunday_3am) == sunday_3am
    assert sundays.get_next_fire_time(sunday_3am, sunday_3am) == datetime(2026, 3, 15, 3, tzinfo=UTC)
    berlin = ScheduleTrigger(Schedule.parse("30 2 * * *", timezone=ZoneInfo("Europe/Berlin")))
    assert berlin.get_next_fire_time(None, datetime(2026, 3, 28, 12, tzinfo=UTC)) == datetime(
        2026, 3, 29, 1, tzinfo=UTC
    )
