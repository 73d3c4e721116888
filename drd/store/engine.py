"""Engines for the two backends, and the translation of their failures into drd's errors.

SQLite: one file, WAL journal (readers never block the writer), foreign keys on, a busy
timeout instead of instant "database is locked", connections usable from any thread.
pysqlite's own transaction handling is switched off so that SQLAlchemy emits ``BEGIN``
itself; writes use ``BEGIN IMMEDIATE`` (take the write lock first, so a read-then-write
transaction cannot fail half-way with SQLITE_BUSY), reads a plain deferred ``BEGIN``.

PostgreSQL: psycopg 3, pre-ping (a replica survives a database restart), a connect
timeout unless the URL sets one.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import ConnectionPoolEntry

from drd import redaction
from drd.errors import ConfigError, DrdError
from drd.store.errors import Unavailable
from drd.store.urls import Database

BUSY_TIMEOUT_SECONDS = 30.0
"""How long a SQLite writer waits for another one before giving up with Unavailable."""
CONNECT_TIMEOUT_SECONDS = 10
"""PostgreSQL connect timeout when the URL does not set ``connect_timeout``."""

_WRITE = "drd_write"
_SQLITE_PERMANENT = (
    "SQLITE_CANTOPEN",
    "SQLITE_NOTADB",
    "SQLITE_READONLY",
    "SQLITE_PERM",
    "SQLITE_AUTH",
    "SQLITE_CORRUPT",
)
_POSTGRES_PERMANENT = re.compile(
    r"does not exist|authentication failed|no pg_hba\.conf entry|permission denied|invalid (dsn|connection option)"
    r"|password is required|SSL .*(required|not supported)",
    re.IGNORECASE,
)
_POSTGRES_PERMANENT_SQLSTATE_CLASSES = ("28", "3D", "42")


def create(database: Database) -> Engine:
    """An engine for ``database``; connects lazily. Creates a SQLite file's parent directories."""
    if database.backend == "sqlite":
        return _sqlite(database)
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in database.url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    return create_engine(database.url, pool_pre_ping=True, connect_args=connect_args)


def probe(engine: Engine, database: Database) -> None:
    """Connect once, so that any failure to reach or open the database becomes ConfigError or Unavailable."""
    try:
        with engine.connect():
            pass
    except DBAPIError as e:
        raise classify(database, e) from e


def writing(engine: Engine) -> Engine:
    """The same engine and pool, whose transactions take the write lock up front (SQLite)."""
    return engine.execution_options(**{_WRITE: True})


@contextlib.contextmanager
def translated(database: Database) -> Iterator[None]:
    """Turn connection-level database failures into ConfigError or Unavailable naming the database."""
    try:
        yield
    except (OperationalError, InterfaceError) as e:
        raise classify(database, e) from e
    except PoolTimeout as e:
        raise Unavailable(f"state database {database.display}: no free connection ({e})") from e


def classify(database: Database, error: DBAPIError) -> DrdError:
    """ConfigError when a human must fix something (wrong name, no access, not a database), else Unavailable."""
    reason = " ".join(line.strip() for line in str(error.orig).splitlines() if line.strip())
    message = redaction.redact_text(f"state database {database.display}: {reason}")
    if database.backend == "sqlite":
        name = str(getattr(error.orig, "sqlite_errorname", ""))
        permanent = name.startswith(_SQLITE_PERMANENT)
    else:
        sqlstate = str(getattr(error.orig, "sqlstate", None) or "")
        permanent = (
            isinstance(error, ProgrammingError)
            or sqlstate[:2] in _POSTGRES_PERMANENT_SQLSTATE_CLASSES
            or (not sqlstate and bool(_POSTGRES_PERMANENT.search(reason)))
        )
    return ConfigError(message) if permanent else Unavailable(message)


def _sqlite(database: Database) -> Engine:
    path = database.path
    assert path is not None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"state database {path}: cannot create its directory: {e.strerror}") from e
    engine = create_engine(
        database.url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS},  # timeout: SQLite's busy timeout
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy, not pysqlite, decides when a transaction begins
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        _switch_to_wal(cursor)
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode = WAL``, waiting out another connection that holds the new file's lock.

    Switching a fresh database to WAL needs an exclusive lock and SQLite may report
    "database is locked" at once instead of calling its busy handler (for instance
    while a second opener is migrating it), so this waits like the busy timeout would.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
        else:
            return


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")
