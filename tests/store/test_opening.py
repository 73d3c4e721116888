"""Opening a store: what is created, how SQLite is set up, and how failures to connect are reported.

A failure a human must fix (no such database, not a database file) is a ConfigError; one
that may pass (server down, unreachable) is Unavailable, a TemporaryError. Either way the
message names the database and never shows its password, not even in the chained cause.
"""

from __future__ import annotations

import sqlite3
import traceback

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from drd import redaction
from drd.errors import ConfigError, TemporaryError
from drd.settings import default_state_url
from drd.store import engine as engines
from drd.store import open_store, urls
from drd.store.errors import Unavailable

PASSWORD = "hunter2-very-secret"


def _everything_said(error: BaseException) -> str:
    """The error as a log line with its traceback and chained causes would show it."""
    return "".join(traceback.format_exception(error))


def test_opening_a_sqlite_path_creates_its_directories(tmp_path):
    """The parent directories of a new SQLite file are created (the XDG state directory may not exist)."""
    path = tmp_path / "a" / "b" / "drd.sqlite"
    with open_store(str(path)) as store:
        assert store.backend == "sqlite"
        assert store.database == str(path)
    assert path.is_file()


def test_the_default_location_is_the_xdg_state_directory(tmp_path):
    """With no --state, the store is a SQLite file under $XDG_STATE_HOME/drd, created on first open."""
    with open_store(default_state_url({"XDG_STATE_HOME": str(tmp_path / "state")})) as store:
        assert store.database == str(tmp_path / "state" / "drd" / "drd.sqlite")
    assert (tmp_path / "state" / "drd" / "drd.sqlite").is_file()


def test_sqlite_files_use_write_ahead_logging(tmp_path):
    """The SQLite file is switched to WAL, so readers never block the writer."""
    path = tmp_path / "drd.sqlite"
    open_store(str(path)).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_sqlite_enforces_foreign_keys(tmp_path):
    """SQLite connections have foreign keys switched on: a step cannot point at a missing run."""
    database = urls.parse(str(tmp_path / "drd.sqlite"))
    open_store(str(database.path)).close()
    engine = engines.create(database)
    orphan = text(
        "INSERT INTO drd_events (run_id, at, actor, event, data) "
        "VALUES ('missing', '2026-01-01 00:00:00', 'drd', 'RunStarted', '{}')"
    )
    try:
        with engine.begin() as conn, pytest.raises(IntegrityError, match="FOREIGN KEY"):
            conn.execute(orphan)
    finally:
        engine.dispose()


def test_a_file_that_is_not_a_database_is_a_configuration_error(tmp_path):
    """Pointing the store at some other file is a ConfigError naming the file."""
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just a long enough line of text to fill the SQLite header\n" * 20)
    with pytest.raises(ConfigError, match="not a database") as caught:
        open_store(str(path))
    assert str(path) in str(caught.value)


def test_a_directory_that_cannot_be_created_is_a_configuration_error(tmp_path):
    """When the file's directory cannot be created (a file is in the way), the error says so."""
    (tmp_path / "blocker").write_text("")
    with pytest.raises(ConfigError, match="cannot create its directory"):
        open_store(str(tmp_path / "blocker" / "drd.sqlite"))


@pytest.mark.postgres
def test_an_unreachable_server_is_temporary_and_masks_the_password(postgres_database):
    """Nobody listening on the port is Unavailable (retry later); the password appears nowhere."""
    url = make_url(postgres_database).set(password=PASSWORD, port=1).render_as_string(hide_password=False)
    with pytest.raises(Unavailable) as caught:
        open_store(url)
    assert isinstance(caught.value, TemporaryError)
    assert ":***@127.0.0.1:1/" in str(caught.value)
    assert PASSWORD not in _everything_said(caught.value)


@pytest.mark.postgres
def test_a_missing_database_is_a_configuration_error_that_masks_the_password(postgres_database):
    """A database that does not exist needs a human: ConfigError naming it, password masked."""
    url = make_url(postgres_database).set(password=PASSWORD, database="drd_no_such_db")
    with pytest.raises(ConfigError) as caught:
        open_store(url.render_as_string(hide_password=False))
    assert 'database "drd_no_such_db" does not exist' in str(caught.value)
    assert "/drd_no_such_db" in str(caught.value)
    assert PASSWORD not in _everything_said(caught.value)


@pytest.mark.postgres
def test_an_unknown_connection_option_is_a_configuration_error(postgres_database):
    """A misspelt URL option is a ConfigError, not a driver exception."""
    with pytest.raises(ConfigError, match="invalid connection option"):
        open_store(f"{postgres_database}?sslmdoe=require")


@pytest.mark.postgres
def test_the_database_password_is_masked_everywhere_once_opened(postgres_url):
    """Opening a store registers its password with redaction, so a log line quoting it is masked."""
    url = make_url(postgres_url).set(password=PASSWORD).render_as_string(hide_password=False)
    with open_store(url):  # trust authentication accepts any password
        assert redaction.redact_text(f"password was {PASSWORD}") == "password was ***"


@pytest.mark.postgres
def test_the_short_postgres_scheme_opens_the_same_database(postgres_url):
    """``postgres://`` works like ``postgresql://``: a run written through one is read through the other."""
    with open_store(postgres_url) as store:
        run = store.create_run(kind="backup", subject="shop", trigger="cli", parameters={})
    with open_store(postgres_url.replace("postgresql://", "postgres://", 1)) as store:
        assert run == store.get_run(run.id)
