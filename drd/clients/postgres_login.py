"""Prove that a PostgreSQL login works: connect with a username and password, run ``SELECT 1``.

A rotation is finished only when the new password logs in (and the old one no
longer does). psycopg's errors stop here and become typed errors naming the
server, the database and the user, never the password:

* :class:`PostgresLoginRefused` (permanent): the server answered and refused the
  login, a wrong password or an unknown user ("login refused for <user>"), or
  the user may not connect to that database;
* :class:`PostgresDatabaseMissing` (permanent): no such database;
* :class:`PostgresUnavailable` (temporary): nobody listening, a timeout, a server
  starting up, shutting down or out of connection slots.

The password is never part of a message: the driver's text is not passed on
except for a bounded, redacted reason, with the password masked in it too, and
the driver's exception (whose connection object holds the password) is not
chained.
"""

from __future__ import annotations

import re

import psycopg

from drd import redaction
from drd.clients.errors import ClientError
from drd.errors import PermanentError, TemporaryError

_CONNECT_TIMEOUT_SECONDS = 5
_MAX_REASON = 200
_REFUSED = re.compile(
    r"password authentication failed|authentication failed|no pg_hba\.conf entry|pg_hba\.conf rejects"
    r"|role \".*\" does not exist|permission denied for database|not permitted to log in"
    r"|password is required|password expired",
    re.IGNORECASE,
)
_DATABASE_MISSING = re.compile(r"database \".*\" does not exist", re.IGNORECASE)


class PostgresLoginError(ClientError):
    """A PostgreSQL login check failed."""


class PostgresLoginRefused(PostgresLoginError, PermanentError):
    """The server refused the login: a wrong password or an unknown user (PostgreSQL does not say which)."""


class PostgresDatabaseMissing(PostgresLoginError, PermanentError):
    """The database does not exist."""


class PostgresUnavailable(PostgresLoginError, TemporaryError):
    """The server could not be reached or could not take the session now."""


def check_login(host: str, port: int, database: str, username: str, password: str) -> None:
    """Log in as ``username`` with ``password`` and run ``SELECT 1``; raise a typed error otherwise."""
    system = f'postgresql "{host}:{port}/{database}"'
    try:
        with (
            psycopg.connect(
                host=host,
                port=port,
                dbname=database,
                user=username,
                password=password,
                connect_timeout=_CONNECT_TIMEOUT_SECONDS,
                application_name="drd-login-check",
            ) as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except psycopg.Error as exc:
        error = _classify(str(exc), system=system, username=username, password=password)
    else:
        return
    raise error  # outside the except block: the driver's exception (holding the password) is not chained


def _classify(text: str, *, system: str, username: str, password: str) -> PostgresLoginError:
    if _REFUSED.search(text):
        return PostgresLoginRefused(f"login refused for {username}", system=system)
    if _DATABASE_MISSING.search(text):
        return PostgresDatabaseMissing(f"login as {username}: the database does not exist", system=system)
    return PostgresUnavailable(f"login as {username}: {_reason(text, password)}", system=system)


def _reason(text: str, password: str) -> str:
    """The driver's last line of complaint, the password masked, bounded."""
    if password:
        text = text.replace(password, redaction.MASK)
    text = redaction.redact_text(" ".join(text.split()))
    text = re.sub(r"^connection failed: ", "", text)
    text = re.sub(r"^connection to server at \"[^\"]*\", port \d+ failed: ", "", text)
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"
