"""The schema's history: numbered forward migrations, applied in order by :mod:`drd.store.migrate`.

Rules for adding one (see docs/store.md):

* append ``Migration(N + 1, "what it does", function)``; never edit or renumber an applied one;
* a migration receives the open transaction's connection and must work on SQLite and
  PostgreSQL: use SQLAlchemy constructs (:func:`add_column`, ``Table.create``, ``Index.create``)
  or ``conn.dialect.name`` to branch;
* it defines the tables it touches as they are *at that version* (never import
  :mod:`drd.store.schema`, which moves on), then update :mod:`drd.store.schema` to match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateColumn

from drd.store.schema import NAMING_CONVENTION
from drd.store.types import ID, JSON_DOCUMENT, UtcDateTime


@dataclass(frozen=True)
class Migration:
    """One numbered step of the schema's history."""

    version: int
    name: str
    apply: Callable[[Connection], None]


def add_column(conn: Connection, table: str, column: Column[Any]) -> None:
    """``ALTER TABLE … ADD COLUMN`` rendered for the connection's dialect (types, defaults, variants)."""
    preparer = conn.dialect.identifier_preparer
    ddl = CreateColumn(column).compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {preparer.quote(table)} ADD COLUMN {ddl}")


def _initial(conn: Connection) -> None:
    """Version 1: runs, their steps (one row per attempt) and the audit events."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    phase = String(32)
    Table(
        "drd_runs",
        metadata,
        Column("id", ID, primary_key=True),
        Column("kind", Text, nullable=False),
        Column("subject", Text, nullable=False),
        Column("phase", phase, nullable=False),
        Column("trigger", Text, nullable=False),
        Column("requested_by", Text),
        Column("parameters", JSON_DOCUMENT, nullable=False),
        Column("details", JSON_DOCUMENT, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("started_at", UtcDateTime),
        Column("finished_at", UtcDateTime),
        Column("updated_at", UtcDateTime, nullable=False),
        Column("version", Integer, nullable=False),
        Index(None, "kind", "subject", "id"),
        Index(None, "phase", "id"),
    )
    Table(
        "drd_steps",
        metadata,
        Column("id", ID, primary_key=True),
        Column("run_id", ID, ForeignKey("drd_runs.id", ondelete="CASCADE"), nullable=False),
        Column("ordinal", Integer, nullable=False),
        Column("attempt", Integer, nullable=False),
        Column("name", Text, nullable=False),
        Column("type", Text, nullable=False),
        Column("phase", phase, nullable=False),
        Column("inputs", JSON_DOCUMENT, nullable=False),
        Column("outputs", JSON_DOCUMENT, nullable=False),
        Column("error_message", Text),
        Column("error_class", Text),
        Column("idempotency_key", Text),
        Column("deadline_at", UtcDateTime),
        Column("started_at", UtcDateTime, nullable=False),
        Column("finished_at", UtcDateTime),
        UniqueConstraint("run_id", "ordinal", "attempt"),
    )
    Table(
        "drd_events",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("run_id", ID, ForeignKey("drd_runs.id", ondelete="CASCADE"), nullable=False),
        Column("at", UtcDateTime, nullable=False),
        Column("actor", Text, nullable=False),
        Column("event", Text, nullable=False),
        Column("data", JSON_DOCUMENT, nullable=False),
        Index(None, "run_id", "id"),
    )
    metadata.create_all(conn, checkfirst=False)  # a table that exists already is a surprise: fail loudly


def _backups(conn: Connection) -> None:
    """Version 2: every Velero Backup of a drd policy drd has seen, per cluster (the record behind RPO and status)."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    Table(
        "drd_backups",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("cluster", Text, nullable=False),
        Column("name", Text, nullable=False),
        Column("uid", Text),
        Column("policy", Text, nullable=False),
        Column("schedule", Text),
        Column("phase", String(64), nullable=False),
        Column("started_at", UtcDateTime),
        Column("completed_at", UtcDateTime),
        Column("expiration", UtcDateTime),
        Column("items_total", Integer),
        Column("items_backed_up", Integer),
        Column("errors", Integer, nullable=False),
        Column("warnings", Integer, nullable=False),
        Column("storage_location", Text),
        Column("failure_reason", Text),
        Column("first_seen_at", UtcDateTime, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        Column("deleted_at", UtcDateTime),
        UniqueConstraint("cluster", "name"),
        Index(None, "policy", "completed_at"),
    )
    metadata.create_all(conn, checkfirst=False)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, steps and events", _initial),
    Migration(2, "backups seen in Velero", _backups),
)
"""Every migration this drd knows, oldest first; the last one's version is the schema version of this code."""
