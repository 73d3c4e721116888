"""Durations as people and Velero write them: ``30m``, ``6h``, ``1h30m``, ``7d``, ``2w``, ``720h0m0s``.

A duration is whole numbers with units, largest unit first: ``w`` (7 days),
``d``, ``h``, ``m``, ``s``. Go's form as Velero prints it (``720h0m0s``) is the
same grammar. Fractions (``1.5h``), bare numbers and milliseconds are refused
with a message that shows the accepted form, so a typo fails at load, not at
03:00. Parsed values are :class:`datetime.timedelta`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

PATTERN = r"^([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
"""The accepted text (JSON Schema ``pattern``; it also matches the empty string, which is refused separately)."""

MAX = timedelta(days=36525)
"""The longest duration accepted (100 years): long enough for any retention rule, short enough never to overflow."""

ACCEPTED = "a number and a unit (w, d, h, m, s), largest first, e.g. 30m, 6h, 1h30m, 7d, 2w or 720h0m0s"

_GRAMMAR = re.compile(PATTERN)
_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_CANONICAL_UNITS = ("d", "h", "m", "s")


def parse_duration(text: str) -> timedelta:
    """``"1h30m"`` → ``timedelta(hours=1, minutes=30)``; raises ValueError naming the accepted form."""
    match = _GRAMMAR.match(text) if 0 < len(text) <= 64 else None
    if match is None:
        raise ValueError(f'invalid duration "{_short(text)}": use {ACCEPTED}')
    seconds = 0
    for group in filter(None, match.groups()):
        if len(group) > 16:
            raise ValueError(f'duration "{_short(text)}" is too long: at most {format_duration(MAX)}')
        seconds += int(group[:-1]) * _SECONDS[group[-1]]
    if seconds > MAX.total_seconds():
        raise ValueError(f'duration "{_short(text)}" is too long: at most {format_duration(MAX)}')
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest canonical text: ``timedelta(hours=1, minutes=30)`` → ``1h30m``, zero → ``0s``."""
    seconds = int(value.total_seconds())
    if seconds < 0 or timedelta(seconds=seconds) != value:
        raise ValueError(f"cannot write {value!r} as a duration: it must be whole, non-negative seconds")
    parts = []
    for suffix in _CANONICAL_UNITS:
        count, seconds = divmod(seconds, _SECONDS[suffix])
        if count:
            parts.append(f"{count}{suffix}")
    return "".join(parts) or "0s"


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def _validate(value: Any, *, positive: bool) -> timedelta:
    if isinstance(value, timedelta):
        parsed = value
    elif isinstance(value, str):
        parsed = parse_duration(value)
    elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**6:
        raise ValueError(f"a duration needs a unit: write {value}s, {value}m or {value}h rather than {value}")
    else:
        raise ValueError(f"expected a duration: {ACCEPTED}")
    if parsed < timedelta(0) or (positive and not parsed):
        raise ValueError("must be longer than zero" if positive else "must not be negative")
    if parsed > MAX or parsed.microseconds:
        raise ValueError(f"must be whole seconds and at most {format_duration(MAX)}")
    return parsed


def _validate_positive(value: Any) -> timedelta:
    return _validate(value, positive=True)


def _validate_any(value: Any) -> timedelta:
    return _validate(value, positive=False)


_SCHEMA = {"type": "string", "pattern": PATTERN, "minLength": 2, "examples": ["30m", "6h", "1h30m", "7d"]}

Duration = Annotated[
    timedelta, PlainValidator(_validate_any), PlainSerializer(format_duration, return_type=str), WithJsonSchema(_SCHEMA)
]
"""A duration that may be zero (``0s``)."""

PositiveDuration = Annotated[
    timedelta,
    PlainValidator(_validate_positive),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(_SCHEMA),
]
"""A duration longer than zero."""
