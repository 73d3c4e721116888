"""Durations: the accepted forms, the refused ones with their messages, and writing them back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from drd.policy.durations import Duration, PositiveDuration, format_duration, parse_duration

VALID = [
    pytest.param("30m", timedelta(minutes=30), id="minutes"),
    pytest.param("6h", timedelta(hours=6), id="hours"),
    pytest.param("1h30m", timedelta(hours=1, minutes=30), id="hours and minutes"),
    pytest.param("7d", timedelta(days=7), id="days"),
    pytest.param("2w", timedelta(weeks=2), id="weeks"),
    pytest.param("90s", timedelta(seconds=90), id="seconds"),
    pytest.param("720h0m0s", timedelta(days=30), id="go style as velero writes ttl"),
    pytest.param("1w2d3h4m5s", timedelta(days=9, hours=3, minutes=4, seconds=5), id="every unit"),
    pytest.param("0s", timedelta(0), id="zero"),
]

INVALID = [
    pytest.param("", id="empty"),
    pytest.param("30", id="no unit"),
    pytest.param("1.5h", id="fraction"),
    pytest.param("500ms", id="milliseconds"),
    pytest.param("30M", id="upper-case unit"),
    pytest.param("30m1h", id="smallest unit first"),
    pytest.param("-5m", id="negative"),
    pytest.param("5 m", id="space"),
    pytest.param("1h" * 40, id="very long"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_parses_accepted_forms(text: str, expected: timedelta) -> None:
    """Whole numbers with units w, d, h, m, s, largest first, including Go's 720h0m0s."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", INVALID)
def test_refuses_other_forms_naming_the_accepted_one(text: str) -> None:
    """A refused duration says what is accepted."""
    with pytest.raises(ValueError, match=r"use a number and a unit \(w, d, h, m, s\), largest first, e\.g\. 30m"):
        parse_duration(text)


def test_refuses_durations_beyond_a_hundred_years() -> None:
    """Huge numbers are refused before they can overflow."""
    with pytest.raises(ValueError, match="too long: at most 36525d"):
        parse_duration("99999999999999w")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(timedelta(hours=1, minutes=30), "1h30m", id="hours and minutes"),
        pytest.param(timedelta(days=14), "14d", id="days, not weeks"),
        pytest.param(timedelta(0), "0s", id="zero"),
        pytest.param(timedelta(days=1, seconds=1), "1d1s", id="gaps are skipped"),
    ],
)
def test_formats_the_shortest_canonical_text(value: timedelta, text: str) -> None:
    """format_duration writes what parse_duration reads back."""
    assert format_duration(value) == text
    assert parse_duration(text) == value


def test_a_bare_number_in_yaml_is_told_to_take_a_unit() -> None:
    """``rto: 30`` (an integer in YAML) suggests the forms with units."""
    with pytest.raises(ValidationError, match=r"a duration needs a unit: write 30s, 30m or 30h rather than 30"):
        TypeAdapter(Duration).validate_python(30)


def test_a_positive_duration_refuses_zero() -> None:
    """RPO, RTO and TTL must be longer than zero; keepFailedFor may be zero."""
    assert TypeAdapter(Duration).validate_python("0s") == timedelta(0)
    with pytest.raises(ValidationError, match="must be longer than zero"):
        TypeAdapter(PositiveDuration).validate_python("0s")


def test_serializes_as_policy_text() -> None:
    """Dumping a model writes durations as a policy would."""
    assert TypeAdapter(Duration).dump_python(timedelta(minutes=90), mode="json") == "1h30m"
