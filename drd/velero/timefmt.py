"""Timestamps and Go durations as Kubernetes and Velero write them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def rfc3339(moment: datetime) -> str:
    """``2026-06-01T01:00:00Z`` (seconds precision, UTC), the metav1.Time wire form."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str | None) -> datetime | None:
    """Parse a metav1.Time; None for missing or malformed values."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def parse_go_duration(text: str) -> float:
    """Seconds in a Go ``time.Duration`` string (``720h0m0s``, ``1h30m``, ``90s``, ``0``).

    Raises ValueError naming the accepted form on anything else.
    """
    stripped = text.strip()
    if stripped in ("0", ""):
        return 0.0
    position = 0
    total = 0.0
    for match in _GO_DURATION_PART.finditer(stripped):
        if match.start() != position:
            break
        total += float(match[1]) * _UNIT_SECONDS[match[2]]
        position = match.end()
    if position != len(stripped) or position == 0:
        raise ValueError(f"invalid duration {text!r}: expected a Go duration such as 720h0m0s, 1h30m or 90s")
    return total
