"""Values of a drill's evidence as a reader sees them, shared by the HTML and the text report.

Evidence is a plain document from the store, and a drill that failed early
leaves most of it missing or ``None``; old records may hold a string where a
number is expected. Every reader here therefore takes ``Any`` and answers
with a safe default (an empty mapping, ``None``) instead of raising.

Units are for people: ``42 s``, ``12 m 5 s``, ``1 h 0 m``; timestamps are UTC
and say so (``2026-06-01 02:00:14 UTC``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

NOT_REACHED = "not reached"


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def records(value: Any) -> list[Mapping[str, Any]]:
    """The mappings in a list (anything else in it, or a non-list, is ignored)."""
    if not isinstance(value, list | tuple):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def strings(value: Any) -> list[str]:
    """The non-empty items of a list, as text."""
    if not isinstance(value, list | tuple):
        return []
    return [str(item) for item in value if item not in (None, "")]


def text(value: Any) -> str | None:
    """``value`` as text, or None when it is missing or empty."""
    if value is None or value == "":
        return None
    return str(value)


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None (booleans are not numbers here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


def flag(value: Any) -> bool | None:
    """``value`` if it is a boolean, else None (unknown)."""
    return value if isinstance(value, bool) else None


def moment(value: Any) -> datetime | None:
    """An RFC 3339 / ISO 8601 timestamp (or a datetime) in UTC; None when missing or malformed.

    A timestamp without an offset is UTC (that is how drd stores them), never the local time of the reader.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def timestamp(value: Any) -> str | None:
    """``2026-06-01 02:00:14 UTC``; a malformed value is returned as written, None when missing."""
    parsed = moment(value)
    if parsed is not None:
        return parsed.strftime("%Y-%m-%d %H:%M:%S UTC")
    return text(value)


def elapsed(start: Any, end: Any) -> float | None:
    """Seconds from ``start`` to ``end`` (timestamps), or None when either is unknown or they are reversed."""
    began, ended = moment(start), moment(end)
    if began is None or ended is None or ended < began:
        return None
    return (ended - began).total_seconds()


def duration(seconds: Any) -> str | None:
    """``0.4 s``, ``3.2 s``, ``42 s``, ``12 m 5 s``, ``1 h 5 m``, ``2 h``, ``2 d 3 h``; None when unknown.

    Two units at most, the smaller one dropped when it is zero: precise enough
    to compare with an objective, short enough to read at a glance.
    """
    value = number(seconds)
    if value is None:
        return None
    value = max(0.0, value)
    if value < 9.95:
        return f"{value:.1f} s"
    whole = round(value)
    if whole < 60:
        return f"{whole} s"
    for unit, unit_seconds, minor_unit, minor_seconds in _UNITS:
        if whole >= unit_seconds:
            major, minor = whole // unit_seconds, whole % unit_seconds // minor_seconds
            return f"{major} {unit} {minor} {minor_unit}" if minor else f"{major} {unit}"
    raise AssertionError("unreachable: every duration of a minute or more has a unit")


_UNITS = (("d", 86400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1))


def milliseconds(value: Any) -> str | None:
    """``41 ms`` below a second, else as :func:`duration`; None when unknown."""
    ms = number(value)
    if ms is None:
        return None
    if ms < 999.5:
        return f"{max(0.0, ms):.0f} ms"
    return duration(ms / 1000)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 check``, ``4 checks``."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def truncate(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, ending with an ellipsis when cut."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def tail(value: str, *, lines: int, chars: int) -> tuple[str, int, bool]:
    """The end of a log: at most ``lines`` lines and ``chars`` characters; returns (text, total lines, cut)."""
    all_lines = value.rstrip("\n").splitlines()
    kept = "\n".join(all_lines[-lines:])
    cut = len(all_lines) > lines
    if len(kept) > chars:
        kept, cut = "…" + kept[-(chars - 1) :], True
    return kept, len(all_lines), cut


@dataclass(frozen=True, slots=True)
class Status:
    """A pass/fail/warn/skip status as a label that does not rely on colour."""

    key: str
    label: str
    symbol: str


STATUSES: Mapping[str, Status] = {
    "pass": Status("pass", "Pass", "✓"),
    "fail": Status("fail", "Fail", "✗"),
    "warn": Status("warn", "Warning", "!"),
    "skip": Status("skip", "Skipped", "–"),
}
UNKNOWN = Status("unknown", "Unknown", "?")


def status(value: Any) -> Status:
    """The status named by ``value`` (``pass``, ``fail``, ``warn``, ``skip``; booleans as pass/fail)."""
    if isinstance(value, bool):
        return STATUSES["pass" if value else "fail"]
    return STATUSES.get(str(value).lower(), UNKNOWN) if value is not None else UNKNOWN


@dataclass(frozen=True, slots=True)
class Verdict:
    """The drill's result at a glance: ``PASSED`` / ``FAILED`` / ``ERROR``, with its status for styling."""

    word: str
    status: Status
    explanation: str


_VERDICTS: Mapping[str, Verdict] = {
    "passed": Verdict("Passed", STATUSES["pass"], "The application was restored and verified."),
    "failed": Verdict("Failed", STATUSES["fail"], "The application could not be shown to work after a restore."),
    "error": Verdict("Error", STATUSES["fail"], "The drill could not run to the end; recovery was not proven."),
}


def verdict(evidence: Mapping[str, Any]) -> Verdict:
    """The verdict for ``evidence['result']``; an unknown or missing result says so."""
    found = _VERDICTS.get(str(evidence.get("result") or "").lower())
    return found or Verdict("No result", UNKNOWN, "The drill has not recorded a result.")


PHASE_WORDS: Mapping[str, str] = {"PartiallyFailed": "Partially failed", "FailedValidation": "Failed validation"}


def phase(value: Any) -> str | None:
    """A Velero-style phase for reading: ``PartiallyFailed`` → ``Partially failed``."""
    found = text(value)
    return PHASE_WORDS.get(found, found) if found else None


def stopped_at(evidence: Mapping[str, Any]) -> str:
    """Why a part of the evidence is missing: ``not reached (the drill stopped at readiness)``."""
    step = text(mapping(evidence.get("failure")).get("step"))
    return f"{NOT_REACHED} (the drill stopped at {step})" if step else NOT_REACHED


def trigger(evidence: Mapping[str, Any]) -> str | None:
    """``schedule, requested by drd-0``: what started the drill and who (a replica or a person)."""
    how, who = text(evidence.get("trigger")), text(evidence.get("requestedBy"))
    if how and who:
        return f"{how}, requested by {who}"
    return how or (f"requested by {who}" if who else None)


def checks_reached(evidence: Mapping[str, Any]) -> bool:
    """Whether the drill got to its checks (an empty list then means the policy has none)."""
    if records(evidence.get("checks")):
        return True
    if evidence.get("checks") is None:
        return False
    phases = mapping(mapping(evidence.get("measurements")).get("phases"))
    steps = records(evidence.get("steps"))
    return "verify" in phases or any(s.get("id") == "verify" and s.get("finishedAt") for s in steps)


def items(restore: Mapping[str, Any]) -> str | None:
    """``117 of 118`` items restored, or ``118`` when Velero did not say how many there were."""
    restored, total = number(restore.get("itemsRestored")), number(restore.get("totalItems"))
    if restored is None:
        return None
    return f"{restored:.0f} of {total:.0f}" if total is not None else f"{restored:.0f}"


def cluster(side: Any) -> str | None:
    """``primary-east (us-east-1)`` from ``{"cluster": …, "region": …}``."""
    found = mapping(side)
    name, region = text(found.get("cluster")), text(found.get("region"))
    if name and region:
        return f"{name} ({region})"
    return name or region


@dataclass(frozen=True, slots=True)
class Objective:
    """An objective (RTO or RPO) as achieved by the drill: seconds achieved, seconds allowed, whether met."""

    achieved: float | None
    allowed: float | None
    met: bool | None

    @property
    def status(self) -> Status:
        """Pass when met, fail when missed, skipped when not measured."""
        return STATUSES["skip"] if self.met is None else status(self.met)

    @property
    def word(self) -> str:
        """``Met``, ``Missed`` or ``Not measured``."""
        return {True: "Met", False: "Missed", None: "Not measured"}[self.met]


def objective(evidence: Mapping[str, Any], key: str) -> Objective:
    """``evidence['objectives'][key]``, the achieved value falling back to ``measurements[key + 'Seconds']``."""
    found = mapping(mapping(evidence.get("objectives")).get(key))
    achieved = number(found.get("achievedSeconds"))
    if achieved is None:
        achieved = number(mapping(evidence.get("measurements")).get(f"{key}Seconds"))
    allowed = number(found.get("objectiveSeconds"))
    met = flag(found.get("met"))
    if met is None and achieved is not None and allowed is not None:
        met = achieved <= allowed
    return Objective(achieved, allowed, met if achieved is not None else None)


def narrative(evidence: Mapping[str, Any]) -> str:
    """One sentence an auditor can quote: what was restored where, what was verified, and how it ended."""
    backup, restore = mapping(evidence.get("backup")), mapping(evidence.get("restore"))
    source = cluster(evidence.get("source")) or "the source cluster"
    target = cluster(evidence.get("target")) or "the DR cluster"
    name, age = text(backup.get("name")), duration(backup.get("ageSeconds"))
    subject = f"Backup {name}" if name else "The newest backup"
    taken = f", taken {age} before the drill," if age else ""
    if restore:
        opening = f"{subject}{taken} was restored from {source} into {target}"
    elif backup:
        opening = f"{subject}{taken} of {source} was chosen for a restore into {target}"
    else:
        opening = f"A drill restoring from {source} into {target} was started"
    verified = []
    objects = mapping(evidence.get("objects"))
    expected, found = number(objects.get("expected")), number(objects.get("found"))
    if expected is not None and found is not None:
        verified.append(f"{found:.0f} of {expected:.0f} expected objects were found")
    checks = records(evidence.get("checks"))
    if checks:
        passed = sum(c.get("passed") is True for c in checks)
        verified.append(f"{passed} of {len(checks)} checks passed")
    return "; ".join([opening, *([" and ".join(verified)] if verified else []), _ending(evidence)])


def _ending(evidence: Mapping[str, Any]) -> str:
    result = str(evidence.get("result") or "").lower()
    step = text(mapping(evidence.get("failure")).get("step"))
    rto = duration(objective(evidence, "rto").achieved)
    if result == "passed":
        return f"recovery was verified {rto} after the restore began." if rto else "the drill passed."
    if result == "failed":
        return f"the drill failed at {step}." if step else "the drill did not pass."
    if result == "error":
        return f"the drill ended in error at {step}; recovery was not proven." if step else "the drill ended in error."
    return "the drill has not recorded a result."
