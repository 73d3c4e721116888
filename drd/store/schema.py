"""The tables as the code reads and writes them today (SQLAlchemy Core).

This is the *current* shape; the history of how a database gets there is
:mod:`drd.store.migrations`, whose frozen definitions must end up equal to these
(a test compares a migrated database with this metadata). Change both together.

Table names carry a ``drd_`` prefix so the store can share a database (for example
with APScheduler's job table) without colliding.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

from drd.store.types import ID, JSON_DOCUMENT, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}
"""Deterministic constraint names, so that a later migration can drop or alter them by name."""

PHASE = String(32)
"""Holds a :class:`drd.outcomes.Phase` value; checked in Python, so adding a phase needs no migration."""

VELERO_PHASE = String(64)
"""A Velero Backup phase as Velero writes it (``WaitingForPluginOperationsPartiallyFailed`` is 41 characters)."""

metadata = MetaData(naming_convention=NAMING_CONVENTION)

schema_version = Table(
    "drd_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)
"""One row per applied migration; created by the migration runner itself, before any migration."""

runs = Table(
    "drd_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("phase", PHASE, nullable=False),
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
"""One unit of work (a backup, a drill, a restore, a runbook run…); ``version`` guards concurrent updates."""

steps = Table(
    "drd_steps",
    metadata,
    Column("id", ID, primary_key=True),
    Column("run_id", ID, ForeignKey("drd_runs.id", ondelete="CASCADE"), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("phase", PHASE, nullable=False),
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
"""One attempt of one step of a run: written when it starts (write-ahead) and when it finishes."""

events = Table(
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
"""The append-only audit trail of a run: every transition and every human verb, in order."""

backups = Table(
    "drd_backups",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("cluster", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("uid", Text),
    Column("policy", Text, nullable=False),
    Column("schedule", Text),
    Column("phase", VELERO_PHASE, nullable=False),
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
"""Every Velero Backup of a drd policy seen in a cluster: one row per (cluster, name), updated as it progresses.

``phase`` is Velero's own (``InProgress``, ``Completed``, ``Deleting``…), not
a :class:`drd.outcomes.Phase`; ``deleted_at`` is set when the Backup object
disappears (pruned, expired, or deleted by hand), and the row is kept.
"""
