"""Schedule maths, table-driven (Velero-style named cases): due-ness, missed runs, next and previous slots, the
longest gap between runs, time zones and daylight-saving changes, and what a schedule may be written as.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drd.policy.schedule import (
    MISSED_RUNS_LIMIT,
    Schedule,
    interval_hint,
    is_due,
    missed_runs,
    next_run,
    previous_run,
)

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    """A UTC instant from ``YYYY-MM-DD HH:MM[:SS]``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def schedule(text: str, zone: str | None = None) -> Schedule:
    """A parsed schedule, in ``zone`` when given."""
    return Schedule.parse(text, timezone=ZoneInfo(zone) if zone else UTC)


@dataclass(frozen=True)
class Due:
    """One named case: a schedule, when it last ran, the time now, and what is expected."""

    name: str
    text: str
    zone: str | None
    last: str | None
    now: str
    due: bool
    missed: int


DUE = [
    Due("first run", "0 * * * *", None, None, "2026-03-02 10:17", True, 0),
    Due("due now", "0 * * * *", None, "2026-03-02 09:00", "2026-03-02 10:00", True, 1),
    Due("not yet due", "0 * * * *", None, "2026-03-02 10:00", "2026-03-02 10:59:59", False, 0),
    Due("late run covers its slot", "0 * * * *", None, "2026-03-02 10:05", "2026-03-02 10:30", False, 0),
    Due("several runs missed", "0 * * * *", None, "2026-03-02 06:00", "2026-03-02 10:30", True, 4),
    Due("clock behind the last run", "0 * * * *", None, "2026-03-02 11:00", "2026-03-02 10:00", False, 0),
    Due("interval due", "@every 6h", None, "2026-03-02 00:00", "2026-03-02 06:00", True, 1),
    Due("interval slots are anchored", "@every 6h", None, "2026-03-02 05:00", "2026-03-02 06:01", True, 1),
    Due("interval not yet due", "@every 6h", None, "2026-03-02 06:00", "2026-03-02 11:59", False, 0),
    Due("interval, a day missed", "@every 6h", None, "2026-03-01 00:00", "2026-03-02 00:00", True, 4),
    Due("daily macro", "@daily", None, "2026-03-01 00:00", "2026-03-02 00:00", True, 1),
    Due("weekly macro, Saturday night", "@weekly", None, "2026-03-01 00:00", "2026-03-07 23:59", False, 0),
    Due("weekly macro, Sunday midnight", "@weekly", None, "2026-03-01 00:00", "2026-03-08 00:00", True, 1),
    Due("weekdays, over the weekend", "0 2 * * 1-5", None, "2026-03-06 02:00", "2026-03-08 23:00", False, 0),
    Due("time zone, before local 03:00", "0 3 * * *", "Europe/Berlin", "2026-01-10 02:00", "2026-01-11 01:59",
        False, 0),
    Due("time zone, at local 03:00", "0 3 * * *", "Europe/Berlin", "2026-01-10 02:00", "2026-01-11 02:00", True, 1),
    Due("spring forward collapses the skipped hour", "*/30 * * * *", "Europe/Berlin", "2026-03-29 00:00",
        "2026-03-29 01:30", True, 3),
    Due("fall back runs the repeated hour once", "*/30 * * * *", "Europe/Berlin", "2026-10-24 23:00",
        "2026-10-25 02:00", True, 4),
]  # fmt: skip


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in DUE])
def test_due_and_missed_runs(case: Due) -> None:
    """is_due and missed_runs agree on every named case."""
    parsed, last_run = schedule(case.text, case.zone), at(case.last) if case.last else None
    assert is_due(parsed, last_run=last_run, now=at(case.now)) is case.due
    assert missed_runs(parsed, last_run=last_run, now=at(case.now)) == case.missed


NEXT = [
    ("hourly", "0 * * * *", None, "2026-03-02 10:00", "2026-03-02 11:00"),
    ("strictly after a slot", "30 2 * * *", None, "2026-03-02 02:30", "2026-03-03 02:30"),
    ("interval", "@every 6h", None, "2026-03-02 06:00", "2026-03-02 12:00"),
    ("last day of the month", "0 0 L * *", None, "2026-02-01 00:00", "2026-02-28 00:00"),
    ("third Friday", "0 0 * * 5#3", None, "2026-03-01 00:00", "2026-03-20 00:00"),
    ("names", "0 0 1 jan,jul *", None, "2026-03-01 00:00", "2026-07-01 00:00"),
    ("local time", "0 3 * * *", "America/New_York", "2026-01-10 12:00", "2026-01-11 08:00"),
    ("skipped local time fires when the clock jumps", "30 2 * * *", "Europe/Berlin", "2026-03-28 12:00",
     "2026-03-29 01:00"),
    ("repeated local time fires on its first pass", "30 2 * * *", "Europe/Berlin", "2026-10-24 12:00",
     "2026-10-25 00:30"),
    ("and not again on the second", "30 2 * * *", "Europe/Berlin", "2026-10-25 00:30", "2026-10-26 01:30"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "zone", "after", "expected"), [pytest.param(*case[1:], id=case[0]) for case in NEXT])
def test_next_run(text: str, zone: str | None, after: str, expected: str) -> None:
    """next_run is the first slot strictly after the given time, in UTC."""
    assert next_run(schedule(text, zone), at(after)) == at(expected)


PREVIOUS = [
    ("strictly before a slot", "0 * * * *", None, "2026-03-02 10:00", "2026-03-02 09:00"),
    ("just after a slot", "0 * * * *", None, "2026-03-02 10:00:01", "2026-03-02 10:00"),
    ("interval", "@every 6h", None, "2026-03-02 06:00", "2026-03-02 00:00"),
    ("interval, just after a slot", "@every 6h", None, "2026-03-02 06:00:01", "2026-03-02 06:00"),
    ("during the repeated hour's second pass", "30 2 * * *", "Europe/Berlin", "2026-10-25 01:15",
     "2026-10-25 00:30"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "zone", "before", "expected"), [pytest.param(*case[1:], id=case[0]) for case in PREVIOUS]
)
def test_previous_run(text: str, zone: str | None, before: str, expected: str) -> None:
    """previous_run is the last slot strictly before the given time."""
    assert previous_run(schedule(text, zone), at(before)) == at(expected)


HINTS = [
    ("hourly macro", "@hourly", timedelta(hours=1)),
    ("interval", "@every 6h", timedelta(hours=6)),
    ("daily", "0 3 * * *", timedelta(days=1)),
    ("every quarter hour", "*/15 * * * *", timedelta(minutes=15)),
    ("twice a day, unevenly", "0 9,17 * * *", timedelta(hours=16)),
    ("hourly on weekdays spans the weekend", "0 * * * 1-5", timedelta(days=2, hours=1)),
    ("monthly", "0 0 1 * *", timedelta(days=31)),
    ("leap day", "0 0 29 2 *", timedelta(days=4 * 365 + 1)),
    ("day of month or weekday, as cron ORs them", "0 0 13 * 5", timedelta(days=7)),
    ("last day of the month", "0 0 L * *", timedelta(days=31)),
    ("third Friday", "0 0 * * 5#3", timedelta(days=35)),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(*case[1:], id=case[0]) for case in HINTS])
def test_interval_hint_is_the_longest_gap(text: str, expected: timedelta) -> None:
    """interval_hint is the worst case between two runs, the gap an RPO must cover."""
    assert interval_hint(schedule(text)) == expected


def test_missed_runs_of_a_dense_cron_are_capped() -> None:
    """A minutely schedule a year behind answers the documented limit instead of counting 525600 slots."""
    assert (
        missed_runs(schedule("* * * * *"), last_run=at("2025-01-01 00:00"), now=at("2026-01-01 00:00"))
        == MISSED_RUNS_LIMIT
    )


def test_missed_runs_of_an_interval_are_exact() -> None:
    """Intervals are counted by arithmetic, however many slots were missed."""
    assert missed_runs(schedule("@every 1m"), last_run=at("2025-01-01 00:00"), now=at("2026-01-01 00:00")) == 525600


def test_naive_times_are_refused() -> None:
    """Every time must carry its zone; a naive one is a programming error."""
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run(schedule("@daily"), datetime(2026, 1, 1))


def test_an_interval_takes_no_time_zone() -> None:
    """Intervals are absolute, so pairing one with a time zone is refused."""
    with pytest.raises(ValueError, match="applies to cron schedules only"):
        schedule("@every 6h").with_timezone(BERLIN)


INVALID = [
    pytest.param("", "empty schedule", id="empty"),
    pytest.param("0 3 * *", '"0 3 * *" has 4 fields; use a five-field cron expression', id="four fields"),
    pytest.param("0 0 3 * * *", "has 6 fields", id="seconds field"),
    pytest.param("61 * * * *", 'invalid cron expression "61 * * * *"', id="minute out of range"),
    pytest.param("0 0 30 2 *", '"0 0 30 2 *" never fires (no such date)', id="february 30"),
    pytest.param("H * * * *", 'cron field "H" in "H * * * *" is not supported', id="hashed"),
    pytest.param("0 0 1W * *", 'cron field "1W"', id="nearest weekday"),
    pytest.param("CRON_TZ=Europe/Berlin 0 3 * * *", '"CRON_TZ=" prefixes are not supported: set "timezone"', id="tz"),
    pytest.param("@reboot", 'unknown schedule macro "@reboot"', id="unknown macro"),
    pytest.param("@every 30s", "too short: at least @every 1m", id="interval too short"),
    pytest.param("@every 1.5h", 'invalid interval "@every 1.5h"', id="fractional interval"),
    pytest.param("* " * 200, "longer than 200 characters", id="huge"),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_refuses_what_it_cannot_run(text: str, message: str) -> None:
    """A refused schedule says why and what is accepted."""
    with pytest.raises(ValueError, match=re.escape(message)):
        Schedule.parse(text)


SCHEDULES = st.sampled_from([
    schedule("0 * * * *"),
    schedule("*/7 3-5 * * *"),
    schedule("0 0 * * 1-5"),
    schedule("0 0 L * *"),
    schedule("@every 90m"),
    schedule("*/30 * * * *", "Europe/Berlin"),
    schedule("30 2 * * *", "Europe/Berlin"),
    schedule("15 1 * * *", "America/Santiago"),
])  # fmt: skip
MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC))


@settings(max_examples=150, deadline=timedelta(seconds=2))
@given(SCHEDULES, MOMENTS)
def test_no_slot_lies_between_a_time_and_its_next_run(parsed: Schedule, moment: datetime) -> None:
    """next_run is after the time, previous_run before it, and nothing fires in between."""
    following, preceding = next_run(parsed, moment), previous_run(parsed, moment)
    assert preceding < moment < following
    assert previous_run(parsed, following) <= moment


@settings(max_examples=150, deadline=timedelta(seconds=2))
@given(SCHEDULES, MOMENTS, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)))
def test_due_exactly_when_a_run_was_missed(parsed: Schedule, last: datetime, elapsed: timedelta) -> None:
    """is_due agrees with missed_runs >= 1."""
    now = last + elapsed
    assert is_due(parsed, last_run=last, now=now) == (missed_runs(parsed, last_run=last, now=now) >= 1)
