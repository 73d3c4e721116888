"""Catching up scheduled jobs with a real JobScheduler (APScheduler) and a SQLite store.

Aspects covered: a slot missed while the daemon was down runs once at start, recorded with
trigger ``catch-up`` and the missed slot; three missed slots run once; beyond the starting
deadline nothing runs and the skip is logged; a job that ran on time does not run again; a
never-run job counts from when it was first seen, which survives a restart; only the leader
catches up, and becoming leader does; replacing the job (a reload) while its catch-up is
queued or running neither loses nor duplicates it, nor does an unchanged reload; the
trigger's own fire of a slot already covered is skipped; a slot APScheduler misfired is
caught up from the store.

The decision uses a manual clock set in the past: APScheduler's own timers run on the wall
clock, and the scheduled job's next real slot (03:00 UTC) is far from any test's run time.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from drd.daemon.app import Daemon
from drd.daemon.catchup import FIRST_SEEN_KIND, StoreHistory
from drd.daemon.jobs import JobContext, JobSpec
from drd.daemon.recorder import Recorder
from drd.daemon.scheduler import JobScheduler
from drd.outcomes import Outcome, Phase
from drd.policy.schedule import Schedule
from drd.settings import Settings
from drd.store import Store, open_store
from tests.sandbox.velero.support import eventually
from tests.support.clocks import ManualClock

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
"""The clock of every test: 09:00 after today's 03:00 slot, and long before the wall clock."""
TODAY_3AM = datetime(2025, 3, 4, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)
DECIDED = ("catch_up_started", "catch_up_not_needed", "catch_up_skipped", "catch_up_not_leader")


class NoMetrics:
    def record(self, outcome: Outcome) -> None:
        return


class Harness:
    """A JobScheduler whose jobs record through the real Recorder into the store, with a leader switch."""

    def __init__(self, store: Store, clock: ManualClock) -> None:
        self.store = store
        self.clock = clock
        self.leader = True
        recorder = Recorder(store=store, metrics=NoMetrics())
        context = JobContext(
            clock=clock,
            is_leader=lambda: self.leader,
            is_stopping=lambda: False,
            record=lambda spec, outcome, trigger: recorder.record(outcome, trigger=trigger),
            schedule_retry=lambda spec, delay, attempt: None,
            history=StoreHistory(store),
        )
        self.scheduler = JobScheduler(context, workers=4)
        context.schedule_retry = self.scheduler.schedule_retry
        self.ran: list[int] = []
        """The version of each job spec that ran, in order."""

    def drill(
        self,
        *,
        version: int = 1,
        schedule: str = "0 3 * * *",
        deadline: timedelta | None = None,
        before: Callable[[], Any] | None = None,
    ) -> JobSpec:
        """The scheduled job ``drill:shop``; ``before`` runs first inside it (to hold it running)."""

        def work() -> Outcome:
            if before is not None:
                before()
            self.ran.append(version)
            return Outcome("drill", "shop", Phase.COMPLETED, self.clock.now(), self.clock.now(), {"version": version})

        return JobSpec(
            id="drill:shop",
            kind="drill",
            subject="shop",
            func=work,
            inputs=(version,),
            schedule=Schedule.parse(schedule),
            starting_deadline=deadline,
        )

    def runs(self) -> list[Any]:
        """Runs of the drill, oldest first."""
        return list(reversed(self.store.list_runs(kind="drill", subject="shop")))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Iterator[Store]:
    with open_store(str(tmp_path / "drd.sqlite"), clock=clock) as opened:
        yield opened


@pytest.fixture
def harness(store: Store, clock: ManualClock) -> Iterator[Harness]:
    made = Harness(store, clock)
    yield made
    made.scheduler.shutdown(grace_seconds=5)


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with capture_logs() as captured:
        yield captured


def ran_before(store: Store, started: datetime) -> None:
    """A drill run recorded earlier (by this daemon before it stopped, or by another replica)."""
    store.create_run(
        kind="drill",
        subject="shop",
        trigger="schedule",
        parameters={},
        phase=Phase.COMPLETED,
        started_at=started,
        finished_at=started + timedelta(minutes=5),
    )


def decisions(logs: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The first ``count`` catch-up decisions, once they were all made (and the runs they started recorded)."""

    def made() -> list[dict[str, Any]] | None:
        found = [entry for entry in logs if entry["event"] in DECIDED]
        finished = [entry for entry in logs if entry["event"] == "drill_finished"]
        started = [entry for entry in found if entry["event"] == "catch_up_started"]
        return found[:count] if len(found) >= count and len(finished) >= len(started) else None

    result: list[dict[str, Any]] = eventually(made, timeout=10)
    return result


def test_a_slot_missed_while_down_runs_once_at_start_recorded_as_catch_up(harness, store, logs):
    """Last run yesterday at 03:00, now 12:00: today's 03:00 was missed, so the job runs once, saying why."""
    ran_before(store, TODAY_3AM - DAY + timedelta(seconds=5))
    harness.scheduler.start()
    harness.scheduler.sync([harness.drill()])

    (decision,) = decisions(logs, 1)
    assert decision["event"] == "catch_up_started"
    assert (decision["missed_slot"], decision["missed_runs"]) == ("2025-03-04T03:00:00+00:00", 1)
    *_, run = harness.runs()
    assert harness.ran == [1]
    assert (run.trigger, run.details["missed_slot"], run.details["missed_runs"]) == (
        "catch-up",
        TODAY_3AM.isoformat(),
        1,
    )
    finished = next(entry for entry in logs if entry["event"] == "drill_finished")
    assert finished["missed_slot"] == TODAY_3AM.isoformat()


def test_three_missed_slots_run_once(harness, store, logs):
    """Down for three daily slots: one run, standing for the latest, counting three."""
    ran_before(store, TODAY_3AM - 3 * DAY + timedelta(seconds=5))
    harness.scheduler.start()
    harness.scheduler.sync([harness.drill()])

    (decision,) = decisions(logs, 1)
    assert (decision["event"], decision["missed_slot"], decision["missed_runs"]) == (
        "catch_up_started",
        TODAY_3AM.isoformat(),
        3,
    )
    assert harness.ran == [1]
    assert [r.trigger for r in harness.runs()] == ["schedule", "catch-up"]


def test_beyond_the_starting_deadline_nothing_runs_and_the_skip_is_logged(harness, store, logs):
    """The missed 03:00 slot is 9 h old and the deadline 1 h: skipped, logged as a warning with why."""
    ran_before(store, TODAY_3AM - DAY + timedelta(seconds=5))
    harness.scheduler.start()
    harness.scheduler.sync([harness.drill(deadline=timedelta(hours=1))])

    (decision,) = decisions(logs, 1)
    assert decision["event"] == "catch_up_skipped"
    assert decision["log_level"] == "warning"
    assert (decision["reason"], decision["deadline_s"], decision["late_s"]) == ("beyond starting deadline", 3600, 32400)
    assert decision["missed_slot"] == TODAY_3AM.isoformat()
    assert harness.ran == []
    assert len(harness.runs()) == 1


def test_a_job_that_ran_on_time_does_not_run_again(harness, store, logs):
    """The last run started just after today's slot: nothing was missed."""
    ran_before(store, TODAY_3AM + timedelta(seconds=4))
    harness.scheduler.start()
    harness.scheduler.sync([harness.drill()])

    assert [d["event"] for d in decisions(logs, 1)] == ["catch_up_not_needed"]
    assert harness.ran == []


def test_a_job_that_never_ran_counts_from_when_it_was_first_seen_across_a_restart(store, clock, logs):
    """A new install runs nothing and records when it first saw the job; a restart after a slot catches it up."""
    first = Harness(store, clock)
    first.scheduler.start()
    first.scheduler.sync([first.drill()])
    assert [d["event"] for d in decisions(logs, 1)] == ["catch_up_not_needed"]
    first.scheduler.shutdown(grace_seconds=5)
    (seen,) = store.list_runs(kind=FIRST_SEEN_KIND)
    assert (seen.subject, seen.trigger, seen.started_at, seen.parameters["schedule"]) == (
        "drill:shop",
        "first-seen",
        NOW,
        "0 3 * * *",
    )
    assert first.ran == []

    clock.advance(DAY.total_seconds())  # down over tomorrow's 03:00
    second = Harness(store, clock)
    second.scheduler.start()
    try:
        second.scheduler.sync([second.drill()])
        assert decisions(logs, 2)[1]["missed_slot"] == (TODAY_3AM + DAY).isoformat()
        assert second.ran == [1]
        assert len(store.list_runs(kind=FIRST_SEEN_KIND)) == 1
    finally:
        second.scheduler.shutdown(grace_seconds=5)


def test_only_the_leader_catches_up_and_becoming_leader_does(harness, store, logs):
    """A follower decides nothing (not even first-seen); once it leads, catch_up() runs the missed slot once."""
    ran_before(store, TODAY_3AM - DAY)
    harness.leader = False
    harness.scheduler.start()
    harness.scheduler.sync([harness.drill()])
    assert [d["event"] for d in decisions(logs, 1)] == ["catch_up_not_leader"]

    harness.leader = True
    harness.scheduler.catch_up()
    assert decisions(logs, 2)[1]["event"] == "catch_up_started"
    assert harness.ran == [1]


def test_a_reload_replacing_the_job_before_its_catch_up_ran_does_not_lose_it(harness, store, logs):
    """Replaced while its catch-up was still queued: the catch-up runs once, with the new spec."""
    ran_before(store, TODAY_3AM - DAY)
    harness.scheduler.sync([harness.drill(version=1)])  # queued: the scheduler has not started yet
    harness.scheduler.sync([harness.drill(version=2)])
    harness.scheduler.start()

    assert [d["event"] for d in decisions(logs, 1)] == ["catch_up_started"]
    assert harness.ran == [2]
    assert [r.trigger for r in harness.runs()] == ["schedule", "catch-up"]


def test_a_reload_replacing_the_job_while_its_catch_up_runs_does_not_duplicate_it(harness, store, logs):
    """Replaced while the catch-up runs: the new spec's check waits for it, sees it in the store and runs nothing."""
    ran_before(store, TODAY_3AM - DAY)
    release = threading.Event()
    harness.scheduler.start()
    harness.scheduler.sync([harness.drill(version=1, before=lambda: release.wait(10))])
    eventually(lambda: any(entry["event"] == "catch_up_started" for entry in logs))

    harness.scheduler.sync([harness.drill(version=2)])
    release.set()

    assert [d["event"] for d in decisions(logs, 2)] == ["catch_up_started", "catch_up_not_needed"]
    assert harness.ran == [1]
    assert [r.trigger for r in harness.runs()] == ["schedule", "catch-up"]


def test_an_unchanged_reload_after_the_catch_up_does_not_run_it_again(harness, store, logs):
    """Every reload checks again, and the store says the slot is covered."""
    ran_before(store, TODAY_3AM - DAY)
    harness.scheduler.start()
    spec = harness.drill()
    harness.scheduler.sync([spec])
    decisions(logs, 1)
    harness.scheduler.sync([spec])
    decisions(logs, 2)
    harness.scheduler.catch_up()

    assert [d["event"] for d in decisions(logs, 3)] == [
        "catch_up_started",
        "catch_up_not_needed",
        "catch_up_not_needed",
    ]
    assert harness.ran == [1]


def test_the_trigger_skips_a_slot_already_covered_and_runs_the_next(harness, store, logs, clock):
    """APScheduler firing a slot that a catch-up (or a CLI run) already covered runs nothing; the next slot runs."""
    ran_before(store, TODAY_3AM - DAY)
    harness.scheduler.start()
    harness.scheduler.sync([harness.drill()])
    decisions(logs, 1)

    harness.scheduler._fire("drill:shop")  # what the trigger calls at a slot; 03:00 today is covered
    assert [entry["event"] for entry in logs if entry["event"] == "job_already_ran"] == ["job_already_ran"]
    clock.advance(DAY.total_seconds() - 9 * 3600 + 1)  # tomorrow 03:00:01
    harness.scheduler._fire("drill:shop")

    assert harness.ran == [1, 1]
    assert [r.trigger for r in harness.runs()] == ["schedule", "catch-up", "schedule"]


def test_a_slot_apscheduler_misfired_is_caught_up_from_the_store(harness, store, logs, clock):
    """A slot run later than the misfire grace is dropped by APScheduler; drd's store decides, and runs it once."""
    ran_before(store, TODAY_3AM + timedelta(seconds=4))
    harness.scheduler.start()
    harness.scheduler.sync([harness.drill()])
    assert [d["event"] for d in decisions(logs, 1)] == ["catch_up_not_needed"]

    clock.advance(DAY.total_seconds())  # tomorrow 12:00: tomorrow's 03:00 passed without a run
    late = datetime.now(UTC) - timedelta(hours=2)  # APScheduler's wall clock: 2 h late, grace 60 s
    harness.scheduler._scheduler.modify_job("drill:shop", next_run_time=late)

    assert decisions(logs, 2)[1]["event"] == "catch_up_started"
    assert decisions(logs, 2)[1]["missed_slot"] == (TODAY_3AM + DAY).isoformat()
    assert harness.ran == [1]


def test_a_scheduled_spec_takes_no_interval_and_a_known_rule():
    """A job is an interval or a schedule, not both; the catch-up rule is checked."""
    schedule = Schedule.parse("@daily")
    with pytest.raises(ValueError, match="not both"):
        JobSpec(id="x", kind="x", subject="x", func=lambda: None, interval_seconds=60, schedule=schedule)
    with pytest.raises(ValueError, match='unknown catch-up rule "always"'):
        JobSpec(id="x", kind="x", subject="x", func=lambda: None, schedule=schedule, catch_up="always")
    with pytest.raises(ValueError, match="negative"):
        JobSpec(id="x", kind="x", subject="x", func=lambda: None, schedule=schedule, starting_deadline=-DAY)


def test_the_daemon_stores_every_run_of_a_scheduled_job_even_a_no_op_with_its_trigger(tmp_path, store, clock):
    """A Skipped run of an interval job is only logged; one of a scheduled job is stored: its catch-up reads it."""
    settings = Settings.from_env({"DRD_CONFIG": str(tmp_path), "DRD_STATE": str(tmp_path / "unused.sqlite")})
    daemon = Daemon(settings, clock=clock, identity="test")
    daemon._recorder = Recorder(store=store, metrics=daemon.metrics)
    harness = Harness(store, clock)
    skipped = Outcome("report", "shop", Phase.SKIPPED, NOW, NOW, {"reason": "nothing to report"})
    interval = JobSpec(id="report:shop", kind="report", subject="shop", func=lambda: skipped, interval_seconds=60)

    daemon._record(interval, skipped, "schedule")
    assert store.list_runs(kind="report") == []
    daemon._record(dataclasses.replace(harness.drill(), kind="report"), skipped, "catch-up")
    assert [(r.phase, r.trigger) for r in store.list_runs(kind="report")] == [(Phase.SKIPPED, "catch-up")]
