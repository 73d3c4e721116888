"""The catch-up decision for drd's scheduled jobs, as a table (velero's getNextRunTime style).

Aspects covered: nothing missed (ran on time, a slot exactly now, a clock behind the last
start); one and several missed slots coalesced into one run standing for the latest; the
starting deadline (inside, on, beyond it) and the ``skip`` rule; a job that never ran counts
from when it was first seen (a brand-new install fires nothing); ``@every`` intervals; time
zones and both daylight-saving changes through :class:`~drd.policy.schedule.Schedule`; the
bounded count of a long outage; and, stepping a manual clock through a day, that a job run
at its slots never catches up while one that misses them catches up exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from drd.daemon.catchup import Decision, catch_up_due, decide
from drd.policy.schedule import MISSED_RUNS_LIMIT, Schedule, next_run
from tests.support.clocks import ManualClock

DAILY_3AM = Schedule.parse("0 3 * * *")
BERLIN_0230 = Schedule.parse("30 2 * * *", timezone=ZoneInfo("Europe/Berlin"))
NEW_YORK_3AM = Schedule.parse("0 3 * * *", timezone=ZoneInfo("America/New_York"))
EVERY_6H = Schedule.parse("@every 6h")
H = timedelta(hours=1)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    name: str
    schedule: Schedule
    now: str
    last_started: str | None = None
    first_seen: str | None = None
    deadline: timedelta | None = None
    rule: str = "once"
    slot: str | None = None
    """The missed slot reported (None: nothing missed)."""
    missed: int = 0
    run: bool = True
    reason: str = "missed"


CASES = [
    Case("ran on time", DAILY_3AM, now="2026-03-02 12:00", last_started="2026-03-02 03:00:04"),
    Case(
        "ran early for the slot (a CLI run after it)",
        DAILY_3AM,
        now="2026-03-02 12:00",
        last_started="2026-03-02 07:00",
    ),
    Case("a slot exactly now is the scheduler's, not missed", DAILY_3AM, "2026-03-02 03:00", "2026-03-01 03:00:04"),
    Case("this replica's clock is behind the last start", DAILY_3AM, "2026-03-02 12:00", "2026-03-02 12:30"),
    Case(
        "one slot missed while down",
        DAILY_3AM,
        now="2026-03-02 12:00",
        last_started="2026-03-01 03:00:04",
        slot="2026-03-02 03:00",
        missed=1,
    ),
    Case(
        "three slots missed: one run, for the latest",
        DAILY_3AM,
        now="2026-03-04 12:00",
        last_started="2026-03-01 03:00:04",
        slot="2026-03-04 03:00",
        missed=3,
    ),
    Case(
        "a failed run still counts as the slot's run",  # any phase: the caller passes the last start whatever it was
        DAILY_3AM,
        now="2026-03-02 12:00",
        last_started="2026-03-02 03:00:01",
    ),
    Case(
        "missed within the starting deadline",
        DAILY_3AM,
        now="2026-03-02 12:00",
        last_started="2026-03-01 03:00",
        deadline=12 * H,
        slot="2026-03-02 03:00",
        missed=1,
    ),
    Case(
        "missed exactly at the starting deadline still runs",
        DAILY_3AM,
        now="2026-03-02 12:00",
        last_started="2026-03-01 03:00",
        deadline=9 * H,
        slot="2026-03-02 03:00",
        missed=1,
    ),
    Case(
        "missed beyond the starting deadline",
        DAILY_3AM,
        now="2026-03-02 12:00",
        last_started="2026-02-26 03:00",
        deadline=H,
        slot="2026-03-02 03:00",
        missed=4,
        run=False,
        reason="beyond starting deadline",
    ),
    Case(
        "catch-up disabled reports the miss and does not run",
        DAILY_3AM,
        now="2026-03-02 12:00",
        last_started="2026-03-01 03:00",
        rule="skip",
        slot="2026-03-02 03:00",
        missed=1,
        run=False,
        reason="catch-up disabled",
    ),
    Case("brand-new install: first seen now", DAILY_3AM, now="2026-03-02 12:00", first_seen="2026-03-02 12:00"),
    Case("never ran, first seen after the last slot", DAILY_3AM, now="2026-03-02 12:00", first_seen="2026-03-02 04:00"),
    Case(
        "never ran, and its first slot after being seen passed",
        DAILY_3AM,
        now="2026-03-02 12:00",
        first_seen="2026-03-01 20:00",
        slot="2026-03-02 03:00",
        missed=1,
    ),
    Case(
        "first seen is ignored once the job ran",
        DAILY_3AM,
        now="2026-03-02 12:00",
        last_started="2026-03-02 03:00:04",
        first_seen="2026-02-01 00:00",
    ),
    Case(
        "@every 6h: slots anchored to the epoch",
        EVERY_6H,
        now="2026-03-02 13:00",
        last_started="2026-03-02 00:00:10",
        slot="2026-03-02 12:00",
        missed=2,
    ),
    Case(
        "a time zone: 03:00 in New York is 08:00 UTC in winter",
        NEW_YORK_3AM,
        now="2026-03-02 12:00",
        last_started="2026-03-01 08:00:02",
        slot="2026-03-02 08:00",
        missed=1,
    ),
    Case(
        "spring forward: 02:30 Berlin does not exist and fires at 03:00 CEST (01:00 UTC)",
        BERLIN_0230,
        now="2026-03-29 10:00",
        last_started="2026-03-28 01:30:02",
        slot="2026-03-29 01:00",
        missed=1,
    ),
    Case(
        "fall back: 02:30 Berlin happens twice and is one slot (its first pass, 00:30 UTC)",
        BERLIN_0230,
        now="2026-10-25 01:45",
        last_started="2026-10-24 00:30:02",
        slot="2026-10-25 00:30",
        missed=1,
    ),
    Case(
        "a year behind a minutely cron counts up to the limit",
        Schedule.parse("* * * * *"),
        now="2026-03-02 12:00",
        last_started="2025-03-02 12:00",
        slot="2026-03-02 11:59",
        missed=MISSED_RUNS_LIMIT,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_catch_up_decision(case: Case):
    """Each named situation gives the expected missed slot, count and run-or-skip."""
    clock = ManualClock(utc(case.now))
    decision = decide(
        case.schedule,
        last_started=utc(case.last_started) if case.last_started else None,
        now=clock.now(),
        first_seen=utc(case.first_seen) if case.first_seen else None,
        deadline=case.deadline,
        rule=case.rule,
    )
    if case.slot is None:
        assert decision is None
        return
    assert decision is not None
    assert (utc(case.slot), case.missed, case.run, case.reason) == (
        decision.slot,
        decision.missed,
        decision.run,
        decision.reason,
    )
    assert clock.now() - decision.slot == decision.late


def test_catch_up_due_is_the_slot_to_run_or_none():
    """The short form answers the slot only when it is to be run now."""
    last = utc("2026-03-01 03:00")
    now = utc("2026-03-02 12:00")
    assert catch_up_due(DAILY_3AM, last, now, deadline=None, first_seen=None) == utc("2026-03-02 03:00")
    assert catch_up_due(DAILY_3AM, last, now, deadline=H, first_seen=None) is None
    assert catch_up_due(DAILY_3AM, now, now, deadline=None, first_seen=None) is None


def test_the_decision_names_what_was_missed_for_the_log_line():
    """fields() carries the missed slot, how many, since when, how late and why."""
    decision = decide(DAILY_3AM, last_started=utc("2026-03-01 03:00"), now=utc("2026-03-02 12:00"), first_seen=None)
    assert decision == Decision(
        slot=utc("2026-03-02 03:00"),
        missed=1,
        since=utc("2026-03-01 03:00"),
        late=9 * H,
        run=True,
        reason="missed",
    )
    assert decision.fields() == {
        "missed_slot": "2026-03-02T03:00:00+00:00",
        "missed_runs": 1,
        "since": "2026-03-01T03:00:00+00:00",
        "late_s": 32400.0,
        "reason": "missed",
    }


def test_a_job_that_never_ran_needs_when_it_was_first_seen():
    """Without a last start and a first-seen time there is nothing to count from: an error, not a guess."""
    with pytest.raises(ValueError, match="first_seen"):
        decide(DAILY_3AM, last_started=None, now=utc("2026-03-02 12:00"), first_seen=None)


def test_an_unknown_rule_is_refused():
    """Only "once" and "skip" exist."""
    with pytest.raises(ValueError, match='unknown catch-up rule "always"'):
        decide(
            DAILY_3AM, last_started=utc("2026-03-01 03:00"), now=utc("2026-03-02 12:00"), first_seen=None, rule="always"
        )


def test_stepping_through_two_days_the_job_catches_up_once_after_its_downtime_only():
    """A manual clock walks two days in 20-minute steps, checking at every step as a reload would.

    The scheduler fires each slot while the daemon is up; it is down on day two from 01:00
    to 13:10. Only the first check after the restart catches up: once, for the 12:00 slot,
    counting the 06:00 one as missed too.
    """
    schedule = Schedule.parse("0 */6 * * *")
    clock = ManualClock(utc("2026-03-01 00:00:30"))
    down = (utc("2026-03-02 01:00"), utc("2026-03-02 13:10"))
    last = clock.now()
    caught_up = []
    while clock.now() < utc("2026-03-03 00:00"):
        previous = clock.now()
        clock.advance(20 * 60)
        if down[0] <= clock.now() < down[1]:
            continue
        if previous >= down[1] or previous < down[0]:
            slot = next_run(schedule, previous)
            if slot <= clock.now():
                last = slot + timedelta(seconds=1)  # the scheduler's run of that slot
        decision = decide(schedule, last_started=last, now=clock.now(), first_seen=None)
        if decision is not None:
            caught_up.append((clock.now(), decision.slot, decision.missed))
            last = clock.now()
    assert caught_up == [(utc("2026-03-02 13:20:30"), utc("2026-03-02 12:00"), 2)]
