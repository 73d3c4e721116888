"""Column types that behave the same on SQLite and PostgreSQL.

* :class:`UtcDateTime`: timezone-aware UTC in and out. PostgreSQL keeps ``timestamptz``;
  SQLite has no time zones, so values are stored as naive UTC text and re-tagged on read.
* :data:`JSON_DOCUMENT`: JSON on SQLite, JSONB on PostgreSQL (indexable, compact).
* :data:`ID`: the 26-character sortable ids of :mod:`drd.store.ids`; byte order ("C"
  collation) on PostgreSQL so that ``ORDER BY id`` is creation order on both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

JSON_DOCUMENT = JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = String(26).with_variant(postgresql.VARCHAR(26, collation="C"), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored: pass a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
