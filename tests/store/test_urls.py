"""Where the store lives: bare paths and sqlite URLs are SQLite files, postgres URLs use psycopg 3.

Aspects: SQLite paths made absolute, PostgreSQL schemes rewritten to the psycopg driver,
what is refused (in-memory, other schemes, malformed), and passwords masked wherever a
location is shown.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drd.errors import ConfigError
from drd.store import urls


def test_a_bare_path_is_a_sqlite_file_made_absolute(tmp_path, monkeypatch):
    """A path without a scheme is a SQLite file, resolved against the working directory."""
    monkeypatch.chdir(tmp_path)
    database = urls.parse("state/drd.sqlite")
    assert database.backend == "sqlite"
    assert database.path == tmp_path / "state" / "drd.sqlite"
    assert database.display == str(tmp_path / "state" / "drd.sqlite")


def test_a_home_relative_path_is_expanded(monkeypatch, tmp_path):
    """``~`` in a path means the user's home directory, as it does in a shell."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert urls.parse("~/drd.sqlite").path == tmp_path / "drd.sqlite"


@pytest.mark.parametrize("url", ["sqlite:////var/lib/drd/drd.sqlite", "sqlite+pysqlite:////var/lib/drd/drd.sqlite"])
def test_sqlite_urls_name_the_same_file_as_the_path(url):
    """``sqlite:////abs/path`` names the file ``/abs/path``."""
    assert urls.parse(url).path == Path("/var/lib/drd/drd.sqlite")


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg", "POSTGRES"])
def test_postgres_urls_use_the_psycopg_3_driver(scheme):
    """Every spelling of a PostgreSQL URL is opened with psycopg 3, keeping host, port, database and options."""
    database = urls.parse(f"{scheme}://drd@db.example:6432/drd?sslmode=require")
    assert database.backend == "postgresql"
    assert database.path is None
    assert database.url.drivername == "postgresql+psycopg"
    assert (database.url.host, database.url.port, database.url.database) == ("db.example", 6432, "drd")
    assert dict(database.url.query) == {"sslmode": "require"}


def test_the_display_form_masks_the_password():
    """Messages name a PostgreSQL database by its URL with the password, wherever it is given, masked."""
    database = urls.parse("postgresql://drd:s3cr3t-pw@db:5432/drd?password=other-pw&sslmode=require")
    assert "s3cr3t-pw" not in database.display
    assert "other-pw" not in database.display
    assert "drd:***@db:5432/drd" in database.display
    assert database.secrets == ("s3cr3t-pw", "other-pw")


@pytest.mark.parametrize("location", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:mem?mode=memory&uri=true"])
def test_in_memory_sqlite_is_refused(location):
    """An in-memory database would lose every run on restart, so it is a configuration error."""
    with pytest.raises(ConfigError, match="in-memory"):
        urls.parse(location)


def test_other_schemes_are_refused_with_the_accepted_forms_and_no_password():
    """A MySQL URL is refused; the message lists what is accepted and masks the password."""
    with pytest.raises(ConfigError) as caught:
        urls.parse("mysql://root:hunter22@db/drd")
    assert "unsupported scheme 'mysql'" in str(caught.value)
    assert "postgresql://" in str(caught.value)
    assert "hunter22" not in str(caught.value)


def test_a_malformed_url_is_refused_without_its_password():
    """A URL that cannot be parsed (a port that is not a number) is a configuration error, password masked."""
    with pytest.raises(ConfigError, match="malformed") as caught:
        urls.parse("postgresql://drd:hunter22@db:port/drd")
    assert "hunter22" not in str(caught.value)


@pytest.mark.parametrize("location", ["", "   "])
def test_an_empty_location_is_refused(location):
    """An empty location is a configuration error, not the current directory."""
    with pytest.raises(ConfigError, match="empty"):
        urls.parse(location)
