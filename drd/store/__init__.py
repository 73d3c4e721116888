"""The durable store: runs, their steps and an audit trail, in a SQLite file or PostgreSQL.

:func:`open_store` parses the location, connects, migrates the schema to the version this
code knows (refusing a newer one) and returns a thread-safe :class:`Store`.
"""

from __future__ import annotations

from collections.abc import Sequence

from drd import redaction
from drd.clock import Clock, SystemClock
from drd.store import engine as engines
from drd.store import migrate, urls
from drd.store.migrations import MIGRATIONS, Migration
from drd.store.repository import Store

__all__ = ["Store", "open_store"]


def open_store(url_or_path: str, *, clock: Clock | None = None, migrations: Sequence[Migration] = MIGRATIONS) -> Store:
    """Open (creating if needed) the store at a SQLite path or ``sqlite:///``/``postgresql://`` URL.

    Raises ConfigError when a human must fix the location, credentials or schema version, and
    :class:`~drd.store.errors.Unavailable` (a TemporaryError) when the database cannot be reached
    now. Messages name the database with its password masked; the password is also registered
    with :mod:`drd.redaction` so that it is masked wherever else it might appear.
    ``migrations`` is for tests of the migration mechanism.
    """
    database = urls.parse(url_or_path)
    for secret in database.secrets:
        redaction.register_secret(secret)
    engine = engines.create(database)
    clock = clock or SystemClock()
    try:
        engines.probe(engine, database)
        with engines.translated(database):
            migrate.migrate(engine, migrations, clock=clock, database=database.display)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, database=database, clock=clock)
