"""Turn what a user wrote for ``--state`` / ``DRD_STATE`` into a database SQLAlchemy can open.

A bare path or ``sqlite:///PATH`` is a SQLite file; ``postgresql://`` and ``postgres://``
URLs are PostgreSQL through the psycopg 3 driver. Nothing here connects or touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from drd import redaction
from drd.errors import ConfigError

Backend = Literal["sqlite", "postgresql"]

_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "postgresql+psycopg"})
_SQLITE_SCHEMES = frozenset({"sqlite", "sqlite+pysqlite"})
_ACCEPTED = "a file path, sqlite:///PATH, or postgresql://USER@HOST:PORT/DATABASE"


@dataclass(frozen=True)
class Database:
    """A database to open: the SQLAlchemy URL (may hold a password: never print it) and its backend."""

    url: URL
    backend: Backend

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for PostgreSQL."""
        return Path(self.url.database or "") if self.backend == "sqlite" else None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Passwords held by the URL (its userinfo, or a ``password=`` query parameter)."""
        found = [self.url.password or ""]
        found += [str(v) for k, v in self.url.query.items() if redaction.is_secret_key(k)]
        return tuple(value for value in found if value)

    @property
    def display(self) -> str:
        """How messages name the database: the file, or the URL with its password masked."""
        if self.backend == "sqlite":
            return str(self.path)
        query = {k: (redaction.MASK if redaction.is_secret_key(k) else v) for k, v in self.url.query.items()}
        shown = self.url.set(query=query).render_as_string(hide_password=True)
        return redaction.redact_text(shown)


def parse(url_or_path: str) -> Database:
    """Parse ``url_or_path``; a malformed or unsupported value raises ConfigError naming it (password masked)."""
    text = url_or_path.strip()
    if not text:
        raise ConfigError(f"the state database is empty: expected {_ACCEPTED}")
    if "://" not in text:
        return _sqlite_file(text)
    scheme = text.split("://", 1)[0].lower()
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as e:
        raise ConfigError(redaction.redact_text(f"state database {text}: malformed URL ({e})")) from None
    if scheme in _POSTGRES_SCHEMES:
        return Database(url.set(drivername="postgresql+psycopg"), "postgresql")
    if scheme in _SQLITE_SCHEMES:
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise ConfigError(
                f"state database {text}: in-memory SQLite is not durable; use a file path (a temporary one in tests)"
            )
        return _sqlite_file(url.database)
    shown = redaction.redact_text(text)
    raise ConfigError(f"state database {shown}: unsupported scheme {scheme!r}; expected {_ACCEPTED}")


def _sqlite_file(path: str) -> Database:
    absolute = Path(path).expanduser().absolute()
    return Database(URL.create("sqlite+pysqlite", database=str(absolute)), "sqlite")
