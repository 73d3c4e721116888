"""Prepare what callers hand the store for JSON columns: redacted, plain JSON, same on both backends.

Every JSON value written (parameters, details, inputs, outputs, event data) passes through
:func:`drd.redaction.redact` first, so a secret never reaches the database. It is then
reduced to plain JSON (datetimes become ISO 8601 text, tuples lists), so what a call
returns equals what a later read returns, on SQLite and PostgreSQL alike. Values that
PostgreSQL's JSONB cannot hold (NaN, infinity, NUL characters) are refused on both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from drd import redaction


def document(value: Mapping[str, Any] | None, *, what: str) -> dict[str, Any]:
    """``value`` redacted and as plain JSON; ValueError or TypeError naming ``what`` if it cannot be."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping, not {type(value).__name__}")
    try:
        encoded = json.dumps(redaction.redact(value), default=_encode, allow_nan=False, ensure_ascii=False)
    except ValueError as e:
        raise ValueError(f"{what} is not storable as JSON: {e}") from e
    except TypeError as e:
        raise TypeError(f"{what} is not storable as JSON: {e}") from e
    if "\\u0000" in encoded:
        raise ValueError(f"{what} contains a NUL character, which PostgreSQL cannot store")
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


def text(value: str | None) -> str | None:
    """A free-text field (an error message) with secrets masked."""
    return None if value is None else redaction.redact_text(value)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.utcoffset() is not None else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
