"""Schedules and their maths: pure functions of a schedule and the times they are given.

A schedule is written as

* a five-field cron expression, ``"0 3 * * *"`` (minute hour day-of-month month
  day-of-week; month and day names, ``L`` for the last day of the month and
  ``5#3`` for the third Friday are accepted),
* a macro: ``@hourly``, ``@daily`` (``@midnight``), ``@weekly``, ``@monthly``,
  ``@yearly`` (``@annually``),
* or an interval, ``"@every 6h"``, at least one minute long. Interval slots
  are anchored to the Unix epoch, so ``@every 6h`` fires at 00:00, 06:00,
  12:00 and 18:00 UTC whatever the history of runs; that makes due-ness and
  missed runs a function of the clock alone.

Cron expressions are evaluated in the policy's ``timezone`` (UTC by default).
Across daylight-saving changes every wall-clock slot fires exactly once: a
slot inside the skipped hour fires when the clock jumps (``02:30`` on the
spring-forward night fires at ``03:00``), and a slot inside the repeated hour
fires on its first pass only. Intervals are absolute and take no time zone.

Nothing here reads the clock: ``now``/``after``/``before`` are parameters and
every datetime must be timezone-aware. Results are UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import pairwise
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from drd.policy.durations import parse_duration

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MISSED_RUNS_LIMIT = 1000
""":func:`missed_runs` counts cron slots up to this many; a result equal to it means "at least this many"."""

MIN_INTERVAL = timedelta(minutes=1)
ACCEPTED = (
    'a five-field cron expression such as "0 3 * * *" (minute hour day-of-month month day-of-week), '
    'a macro (@hourly, @daily, @weekly, @monthly, @yearly) or an interval such as "@every 6h"'
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_REFERENCE = datetime(2024, 1, 1)  # noqa: DTZ001 - naive wall clock on purpose; a Monday in a leap year
_NAMES = re.compile(r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat|l", re.IGNORECASE)
_FIELD = re.compile(r"[0-9A-Za-z*,/#?-]+")
_STEP_LIMIT = 10_000  # DST can make a search skip at most an hour or two of slots; this bound is never reached


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: a cron expression in a time zone, or a fixed interval."""

    expression: str
    """As written in the policy (``"@daily"``, ``"0 3 * * *"``, ``"@every 6h"``)."""
    cron: str | None
    """The five-field expression for cron schedules and macros; None for intervals."""
    every: timedelta | None
    """The interval for ``@every`` schedules; None for cron."""
    timezone: tzinfo = UTC
    """Where cron fields are evaluated; intervals ignore it."""

    @classmethod
    def parse(cls, text: str, *, timezone: tzinfo = UTC) -> Schedule:
        """Parse ``text``; ValueError names what is accepted."""
        if len(text) > 200:
            raise ValueError(f"schedule is longer than 200 characters; use {ACCEPTED}")
        expression = " ".join(text.split())
        if expression.startswith("@every"):
            parsed = cls(expression, None, _interval(expression.removeprefix("@every").strip()))
        elif expression.startswith("@"):
            if expression.lower() not in MACROS:
                raise ValueError(f'unknown schedule macro "{_short(expression)}": use {", ".join(MACROS)} or @every')
            parsed = cls(expression, MACROS[expression.lower()], None)
        else:
            parsed = cls(expression, _cron(expression), None)
        return parsed if timezone is UTC else parsed.with_timezone(timezone)

    def with_timezone(self, timezone: tzinfo) -> Schedule:
        """The same cron schedule evaluated in ``timezone``; ValueError for intervals, which are absolute."""
        if self.every is not None:
            raise ValueError('"timezone" applies to cron schedules only; "@every" intervals are absolute')
        return Schedule(self.expression, self.cron, None, timezone)

    def __str__(self) -> str:
        return self.expression


def parse_timezone(name: str) -> tzinfo:
    """``"UTC"`` or an IANA name such as ``"Europe/Berlin"``; ValueError otherwise."""
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f'unknown time zone "{_short(name)}": use UTC or an IANA name such as Europe/Berlin or America/New_York'
        ) from None


def timezone_name(zone: tzinfo) -> str:
    """The name :func:`parse_timezone` accepts for ``zone``."""
    return zone.key if isinstance(zone, ZoneInfo) else "UTC"


def next_run(schedule: Schedule, after: datetime) -> datetime:
    """The first slot strictly after ``after``."""
    _require_aware(after)
    if schedule.every is not None:
        return _EPOCH + ((after - _EPOCH) // schedule.every + 1) * schedule.every
    assert schedule.cron is not None
    return next(_slots_after(schedule.cron, schedule.timezone, after))


def previous_run(schedule: Schedule, before: datetime) -> datetime:
    """The last slot strictly before ``before``."""
    _require_aware(before)
    if schedule.every is not None:
        steps = -((_EPOCH - before) // schedule.every) - 1  # ceil((before - epoch) / every) - 1
        return _EPOCH + steps * schedule.every
    assert schedule.cron is not None
    zone = schedule.timezone
    local = before.astimezone(zone)
    # In the repeated hour's second pass, slots later on the wall clock already fired on the first pass.
    start = local.replace(tzinfo=None) + max(timedelta(0), _fold_shift(local))
    walker = croniter(schedule.cron, start)
    for _ in range(_STEP_LIMIT):
        slot = _instant(walker.get_prev(datetime), zone)
        if slot < before:
            return slot
    raise RuntimeError(f"no slot of {schedule} found before {before}")  # pragma: no cover - bounded by DST shifts


def is_due(schedule: Schedule, *, last_run: datetime | None, now: datetime) -> bool:
    """A slot has come at or before ``now`` since ``last_run``; a schedule that never ran is due at once."""
    _require_aware(now)
    return last_run is None or next_run(schedule, last_run) <= now


def missed_runs(schedule: Schedule, *, last_run: datetime | None, now: datetime) -> int:
    """How many slots fall strictly after ``last_run`` and at or before ``now``.

    Exact for intervals (arithmetic). Cron slots are counted one by one up to
    :data:`MISSED_RUNS_LIMIT`, so ``* * * * *`` a year behind answers 1000,
    meaning "at least 1000", in bounded time. A schedule that never ran has
    missed nothing (it is simply due, see :func:`is_due`).
    """
    _require_aware(now)
    if last_run is None:
        return 0
    _require_aware(last_run)
    if now <= last_run:
        return 0
    if schedule.every is not None:
        return (now - _EPOCH) // schedule.every - (last_run - _EPOCH) // schedule.every
    assert schedule.cron is not None
    count = 0
    for slot in _slots_after(schedule.cron, schedule.timezone, last_run):
        if slot > now or count == MISSED_RUNS_LIMIT:
            break
        count += 1
    return count


def interval_hint(schedule: Schedule) -> timedelta:
    """The longest gap between two consecutive slots: the worst case for the age of the newest backup.

    For ``@every`` it is the interval. For cron it is computed on the wall
    clock (DST shifts ignored) from the times of day it fires and the days it
    fires on over eight years from a fixed date, so February 29 is seen twice.
    ``0 * * * 1-5`` (hourly on weekdays) answers 2d1h (Friday 23:00 to Monday
    00:00), not one hour. The RPO sanity check compares against this value.
    """
    if schedule.every is not None:
        return schedule.every
    assert schedule.cron is not None
    return _longest_cron_gap(schedule.cron)


def _slots_after(cron: str, zone: tzinfo, after: datetime) -> Iterator[datetime]:
    """Slot instants strictly after ``after``, in order, each once."""
    walker = croniter(cron, after.astimezone(zone).replace(tzinfo=None))
    last = after
    misses = 0
    while misses < _STEP_LIMIT:
        slot = _instant(walker.get_next(datetime), zone)
        if slot > last:
            misses = 0
            last = slot
            yield slot
        else:
            misses += 1  # a first-pass slot of a repeated hour, or a skipped-hour slot folded onto the same instant
    raise RuntimeError(f"no slot of {cron} found after {after}")  # pragma: no cover - bounded by DST shifts


def _instant(wall: datetime, zone: tzinfo) -> datetime:
    """The UTC instant a naive wall-clock slot fires at: first pass when repeated, end of the gap when skipped."""
    aware = wall.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return aware.astimezone(UTC)
    probe = wall
    for _ in range(24 * 60):
        probe += timedelta(minutes=1)
        candidate = probe.replace(tzinfo=zone)
        if candidate.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == probe:
            return candidate.astimezone(UTC)
    return aware.astimezone(UTC)  # pragma: no cover - no gap is longer than a day


def _fold_shift(local: datetime) -> timedelta:
    """How far a second-pass wall time of a repeated hour lags its first pass (zero elsewhere)."""
    first, second = local.replace(fold=0).utcoffset(), local.replace(fold=1).utcoffset()
    if local.fold == 1 and first is not None and second is not None:
        return first - second
    return timedelta(0)


@lru_cache(maxsize=256)
def _longest_cron_gap(cron: str) -> timedelta:
    parsed = croniter(cron)
    minute, hour, days, months, weekdays = parsed.expanded
    minutes = range(60) if minute == ["*"] else sorted(int(m) for m in minute)
    hours = range(24) if hour == ["*"] else sorted(int(h) for h in hour)
    times = [h * 60 + m for h in hours for m in minutes]
    within_days = max((later - earlier for earlier, later in pairwise(times)), default=0)
    if parsed.nth_weekday_of_month or not all(_plain(field) for field in (days, months, weekdays)):
        day_gap = _longest_day_gap_by_search(cron)
    else:
        day_gap = _longest_day_gap(days, months, weekdays)
    return timedelta(minutes=max(within_days, day_gap * 1440 - times[-1] + times[0]))


def _plain(field: list[Any]) -> bool:
    return field == ["*"] or all(isinstance(value, int) for value in field)


def _longest_day_gap(days: list[Any], months: list[Any], weekdays: list[Any]) -> int:
    """The most days between consecutive firing days, scanning eight years (Feb 29 recurs within four)."""

    def fires(day: date) -> bool:
        in_month = months == ["*"] or day.month in months
        by_date = days == ["*"] or day.day in days
        by_weekday = weekdays == ["*"] or (day.weekday() + 1) % 7 in weekdays  # cron counts from Sunday = 0
        either = days != ["*"] and weekdays != ["*"]  # both restricted: either one suffices, as in cron
        return in_month and ((by_date or by_weekday) if either else (by_date and by_weekday))

    start = _REFERENCE.date()
    firing = [
        ordinal for ordinal in range(start.toordinal(), start.toordinal() + 8 * 366) if fires(date.fromordinal(ordinal))
    ]
    return max(later - earlier for earlier, later in pairwise(firing))


def _longest_day_gap_by_search(cron: str) -> int:
    """Like :func:`_longest_day_gap` for ``L`` and ``#``, asking croniter for up to two years of firing days."""
    walker = croniter("0 0 " + " ".join(cron.split()[2:]), _REFERENCE - timedelta(days=1))
    previous, longest = walker.get_next(datetime), 0
    for _ in range(400):
        day = walker.get_next(datetime)
        longest = max(longest, (day - previous).days)
        if day > _REFERENCE + timedelta(days=731):
            break
        previous = day
    return longest


def _interval(text: str) -> timedelta:
    try:
        every = parse_duration(text)
    except ValueError:
        raise ValueError(
            f'invalid interval "@every {_short(text)}": write @every and a duration such as 30m, 6h or 1d'
        ) from None
    if every < MIN_INTERVAL:
        raise ValueError(f'interval "@every {_short(text)}" is too short: at least @every 1m')
    return every


def _cron(expression: str) -> str:
    fields = expression.split()
    if not fields:
        raise ValueError(f"empty schedule: use {ACCEPTED}")
    if "=" in fields[0]:
        raise ValueError(f'"{fields[0].split("=")[0]}=" prefixes are not supported: set "timezone" on the policy')
    if len(fields) != 5:
        raise ValueError(f'"{_short(expression)}" has {len(fields)} fields; use {ACCEPTED}')
    for field in fields:
        if not _FIELD.fullmatch(field) or any(ch.isalpha() for ch in _NAMES.sub("", field)):
            raise ValueError(
                f'cron field "{_short(field)}" in "{_short(expression)}" is not supported: use numbers, *, ranges '
                "(1-5), lists (1,3), steps (*/15), month and day names, L and # (5#3)"
            )
    try:
        croniter(expression, _REFERENCE).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f'"{_short(expression)}" never fires (no such date)') from None
    except (CroniterError, ValueError, KeyError, IndexError) as exc:
        raise ValueError(f'invalid cron expression "{_short(expression)}" ({exc}); use {ACCEPTED}') from None
    return expression


def _require_aware(moment: datetime) -> None:
    if moment.utcoffset() is None:
        raise ValueError(f"{moment!r} must be timezone-aware")


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def _validate(value: Any) -> Schedule:
    if isinstance(value, Schedule):
        return value
    if isinstance(value, str):
        return Schedule.parse(value)
    raise ValueError(f"expected a schedule: {ACCEPTED}")


ScheduleField = Annotated[
    Schedule,
    PlainValidator(_validate),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["0 3 * * *", "@daily", "@every 6h"], "description": ACCEPTED}),
]
"""A schedule as a model field: text in YAML, :class:`Schedule` in Python (UTC until a model applies its timezone)."""


def _validate_timezone(value: Any) -> tzinfo:
    if isinstance(value, tzinfo):
        return value
    if isinstance(value, str):
        return parse_timezone(value)
    raise ValueError("expected a time zone name such as UTC or Europe/Berlin")


TimezoneField = Annotated[
    tzinfo,
    PlainValidator(_validate_timezone),
    PlainSerializer(timezone_name, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["UTC", "Europe/Berlin"]}),
]
"""A time zone as a model field: an IANA name in YAML, a ``tzinfo`` in Python."""
