"""The store's typed errors, classified like every drd error (permanent, temporary, configuration).

Callers catch these, never SQLAlchemy's or a driver's exceptions: those stop inside drd.store.
"""

from __future__ import annotations

from drd.errors import ConfigError, PermanentError, TemporaryError


class NotFound(PermanentError):
    """A run or step with that id does not exist (in this database)."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} {key!r} not found")
        self.what = what
        self.key = key


class Conflict(TemporaryError):
    """Someone else changed the record first; re-read it and decide again."""

    def __init__(self, message: str) -> None:
        super().__init__(message, delay=0.0)


class Unavailable(TemporaryError):
    """The database cannot be reached or is busy right now; try again later."""


class SchemaTooNew(ConfigError):
    """The database was migrated by a newer drd; this one refuses to touch it rather than downgrade."""

    def __init__(self, database: str, *, found: int, known: int) -> None:
        super().__init__(
            f"state database {database} has schema version {found}, newer than version {known} that this drd knows: "
            "upgrade drd (a database is never downgraded)"
        )
        self.found = found
        self.known = known
