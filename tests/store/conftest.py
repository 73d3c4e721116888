"""Fixtures for the store's tests: a manual clock and an empty database on each backend.

A test that takes ``store_url`` or ``store`` runs twice, on a SQLite file and on PostgreSQL.
PostgreSQL is required: the session creates a throw-away database (``drd_test_<hex>``) on the
server named by ``DRD_TEST_POSTGRES_URL`` and drops it at the end; each test gets its own
empty schema in it. An unreachable server fails those tests loudly, unless
``DRD_TEST_POSTGRES=skip`` says to run SQLite only.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from drd import redaction
from drd.store import Store, open_store

from .support import T0, ManualClock

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture(autouse=True)
def _no_registered_secrets() -> Iterator[None]:
    redaction.forget_secrets()
    yield
    redaction.forget_secrets()


def _libpq(url: str) -> str:
    """A SQLAlchemy-style URL as libpq accepts it (no ``+driver``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """URL of a database created for this test session and dropped after it."""
    if os.environ.get("DRD_TEST_POSTGRES", "").lower() == "skip":
        pytest.skip("DRD_TEST_POSTGRES=skip: PostgreSQL tests not run")
    admin_url = _libpq(os.environ.get("DRD_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.Error as e:
        unreachable = str(e)
    else:
        unreachable = ""
    if unreachable:
        pytest.fail(
            f"PostgreSQL is required by the store's tests and is unreachable at "
            f"{redaction.redact_text(admin_url)}: {unreachable}\n(set DRD_TEST_POSTGRES=skip to run SQLite only)",
            pytrace=False,
        )
    name = f"drd_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _postgres_admin(postgres_database: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")
        yield conn


@pytest.fixture
def postgres_url(postgres_database: str, _postgres_admin: psycopg.Connection[tuple[object, ...]]) -> Iterator[str]:
    """URL of an empty schema of its own, made the default through ``search_path``."""
    schema = f"t_{secrets.token_hex(6)}"
    _postgres_admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{postgres_database}?options=-csearch_path%3D{schema}"
    finally:
        _postgres_admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where an empty store lives: a SQLite file in a directory not created yet, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "state" / "drd.sqlite")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str, clock: ManualClock) -> Iterator[Store]:
    """A migrated, empty store on each backend, with the manual clock."""
    with open_store(store_url, clock=clock) as opened:
        yield opened
