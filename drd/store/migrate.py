"""Bring a database's schema to the version this code knows, safely, on every start.

All pending migrations run in one transaction together with the version bookkeeping,
so a crash leaves the previous version intact. Two processes starting at once are
serialised: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by the write
lock of ``BEGIN IMMEDIATE`` (see :mod:`drd.store.engine`). The second one then finds
nothing left to do. A database newer than the code is refused, never downgraded.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection, Engine

from drd import logs
from drd.clock import Clock
from drd.store import engine as engines
from drd.store.errors import SchemaTooNew
from drd.store.migrations import Migration
from drd.store.schema import schema_version

ADVISORY_LOCK_KEY = 0x647264_6D696772  # "drd" "migr": one key per database, shared by every drd replica
"""PostgreSQL advisory lock held while migrating; advisory locks are scoped to one database."""

_log = logs.get_logger(__name__)


def migrate(engine: Engine, migrations: Sequence[Migration], *, clock: Clock, database: str) -> int:
    """Apply the migrations the database lacks; return its schema version afterwards.

    ``database`` names it in errors and logs (password already masked).
    """
    check_sequence(migrations)
    known = migrations[-1].version if migrations else 0
    with engines.writing(engine).connect() as conn, conn.begin():
        _lock(conn)
        schema_version.create(conn, checkfirst=True)
        current = conn.scalar(select(func.coalesce(func.max(schema_version.c.version), 0))) or 0
        if current > known:
            raise SchemaTooNew(database, found=current, known=known)
        for migration in migrations:
            if migration.version > current:
                migration.apply(conn)
                applied = {"version": migration.version, "name": migration.name, "applied_at": clock.now()}
                conn.execute(insert(schema_version).values(applied))
    if known > current:
        _log.info("store_migrated", database=database, from_version=current, to_version=known)
    return max(current, known)


def check_sequence(migrations: Sequence[Migration]) -> None:
    """Versions must be 1, 2, 3… in order: a gap or a duplicate is a programming error."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3… in order, got {versions}")


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    # SQLite: the connection began with BEGIN IMMEDIATE and already holds the database's write lock.
