"""Drift between an object's current fields and the fields drd wants, as readable items and as a merge patch.

Pure functions of two JSON-like trees. :func:`differences` explains the drift
one leaf at a time (``spec.template.ttl: "168h0m0s" → "720h0m0s"``) for logs,
outcomes and ``drd status``; :func:`merge_patch` is the RFC 7386 patch that
turns ``current`` into ``desired`` exactly (keys drd no longer wants become
``null``).

Velero's Go types serialise with ``omitempty``, so a field that is absent and
a field set to its zero value (``false``, ``0``, ``""``, empty list or map)
mean the same thing; :func:`differences` does not report that as drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

ABSENT = "(absent)"
"""How a missing field reads in a drift item."""

_MAX_VALUE_CHARS = 120
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING: Any = object()


def differences(current: Mapping[str, Any], desired: Mapping[str, Any], *, path: str = "") -> list[str]:
    """Every leaf where ``current`` differs from ``desired``: ``path: current → desired``, in ``desired``'s order."""
    return list(_walk(current, desired, path))


def merge_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The smallest RFC 7386 merge patch that makes ``current`` equal to ``desired`` (empty when already equal)."""
    patch: dict[str, Any] = {}
    for key, want in desired.items():
        have = current.get(key, _MISSING)
        if isinstance(have, Mapping) and isinstance(want, Mapping):
            nested = merge_patch(have, want)
            if nested:
                patch[key] = nested
        elif have is _MISSING or have != want:
            patch[key] = want
    for key in current:
        if key not in desired:
            patch[key] = None
    return patch


def render(value: Any) -> str:
    """A value as it reads in a drift item: compact JSON, shortened past 120 characters; absent as ``(absent)``."""
    if value is _MISSING:
        return ABSENT
    text = json.dumps(value, separators=(", ", ": "), ensure_ascii=False, sort_keys=False)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


def _walk(current: Mapping[str, Any], desired: Mapping[str, Any], path: str) -> Iterator[str]:
    keys = [*desired, *(key for key in current if key not in desired)]
    for key in keys:
        have = current.get(key, _MISSING)
        want = desired.get(key, _MISSING)
        where = _join(path, key)
        if isinstance(have, Mapping) and isinstance(want, Mapping):
            yield from _walk(have, want, where)
        elif not _same(have, want):
            yield f"{where}: {render(have)} → {render(want)}"


def _same(have: Any, want: Any) -> bool:
    if have is _MISSING:
        return _zero(want)
    if want is _MISSING:
        return _zero(have)
    return bool(have == want and type(have) is type(want))


def _zero(value: Any) -> bool:
    """Go's zero value of the JSON type (what ``omitempty`` leaves out)."""
    if value is None or value is False:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value == 0
    return isinstance(value, str | list | tuple | Mapping) and len(value) == 0


def _join(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f'{path}["{key}"]'
