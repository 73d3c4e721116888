"""Schema migrations run on every open: forward only, once, in one transaction, never downgrading.

Aspects: an empty database reaches the latest version and exactly the tables the code uses;
re-opening is a no-op; a newer database is refused; an added migration keeps the data; a
failing migration leaves the previous version intact; two stores starting at once migrate
once; the migration list itself must be numbered 1, 2, 3….
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    Table,
    UniqueConstraint,
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection

from drd.errors import ConfigError
from drd.outcomes import Phase
from drd.store import open_store, schema, urls
from drd.store.errors import SchemaTooNew
from drd.store.migrate import check_sequence
from drd.store.migrations import MIGRATIONS, Migration, add_column
from drd.store.schema import NAMING_CONVENTION
from drd.store.types import ID


def _versions(url: str) -> list[tuple[int, str]]:
    """The rows of the schema version table, read behind the store's back."""
    engine = create_engine(urls.parse(url).url)
    try:
        with engine.connect() as conn:
            query = select(schema.schema_version.c.version, schema.schema_version.c.name)
            return [tuple(row) for row in conn.execute(query.order_by(schema.schema_version.c.version))]
    finally:
        engine.dispose()


def _columns(url: str, table: str) -> dict[str, bool]:
    """Column name → nullable, as the database reports it."""
    engine = create_engine(urls.parse(url).url)
    try:
        return {c["name"]: c["nullable"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def _add_priority(conn: Connection) -> None:
    """The example migration 2 of docs/store.md: a column with a default, and an index over it."""
    add_column(conn, "drd_runs", Column("priority", Integer, nullable=False, server_default="5"))
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    runs = Table("drd_runs", metadata, Column("priority", Integer), Column("id", ID))  # as much of it as needed
    Index(None, runs.c.priority, runs.c.id).create(conn)


def _priority_of(url: str, run_id: str) -> int:
    engine = create_engine(urls.parse(url).url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(text("SELECT priority FROM drd_runs WHERE id = :id"), {"id": run_id}))
    finally:
        engine.dispose()


LATEST = MIGRATIONS[-1].version
"""The schema version of this code."""
NEXT = LATEST + 1
"""The version of the example migration added by these tests."""
WITH_NEXT: Sequence[Migration] = (*MIGRATIONS, Migration(NEXT, "runs get a priority", _add_priority))
ALL_VERSIONS = [m.version for m in MIGRATIONS]


def test_an_empty_database_is_migrated_to_the_latest_version(store_url):
    """Opening an empty database applies every migration and records each one."""
    open_store(store_url).close()
    assert _versions(store_url) == [(m.version, m.name) for m in MIGRATIONS]


def test_the_migrated_schema_is_exactly_the_schema_the_code_uses(store_url):
    """Replaying the migrations yields the tables, columns, indexes and constraints of drd.store.schema."""
    open_store(store_url).close()
    engine = create_engine(urls.parse(store_url).url)
    try:
        found = inspect(engine)
        assert set(found.get_table_names()) == set(schema.metadata.tables)
        for name, table in schema.metadata.tables.items():
            assert _columns(store_url, name) == {c.name: bool(c.nullable) for c in table.columns}, name
            indexes = {i["name"] for i in found.get_indexes(name) if not i.get("duplicates_constraint")}
            assert indexes == {i.name for i in table.indexes}, name
            uniques = {u["name"] for u in found.get_unique_constraints(name)}
            assert uniques == {c.name for c in table.constraints if isinstance(c, UniqueConstraint)}, name
            foreign = {(fk["referred_table"], tuple(fk["constrained_columns"])) for fk in found.get_foreign_keys(name)}
            assert foreign == {(fk.column.table.name, (fk.parent.name,)) for fk in table.foreign_keys}, name
    finally:
        engine.dispose()


def test_reopening_a_migrated_database_changes_nothing(store_url, clock):
    """A second open finds nothing to do and keeps the data."""
    with open_store(store_url, clock=clock) as store:
        run = store.create_run(kind="backup", subject="shop", trigger="schedule", parameters={"ttl": "72h"})
    before = _versions(store_url)
    clock.advance(60)
    with open_store(store_url, clock=clock) as store:
        assert run == store.get_run(run.id)
    assert _versions(store_url) == before


def test_a_database_from_a_newer_drd_is_refused(store_url):
    """A database migrated by a newer drd raises SchemaTooNew (a ConfigError) naming both versions."""
    open_store(store_url, migrations=WITH_NEXT).close()
    with pytest.raises(SchemaTooNew) as caught:
        open_store(store_url)
    assert isinstance(caught.value, ConfigError)
    assert (caught.value.found, caught.value.known) == (NEXT, LATEST)
    assert f"schema version {NEXT}, newer than version {LATEST}" in str(caught.value)
    assert [version for version, _ in _versions(store_url)] == [*ALL_VERSIONS, NEXT]


def test_a_new_migration_keeps_existing_data(store_url, clock):
    """Migrating a database with runs in it to a newer version adds the column and keeps every run as it was."""
    with open_store(store_url, clock=clock) as store:
        run = store.create_run(kind="drill", subject="shop", trigger="schedule", parameters={"rto": "1h"})
        store.start_step(run.id, ordinal=0, name="restore", type="velero.restore", inputs={"backup": "b-1"})
    with open_store(store_url, clock=clock, migrations=WITH_NEXT) as store:
        assert run == store.get_run(run.id)
        assert [step.name for step in store.steps(run.id)] == ["restore"]
        updated = store.update_run(run.id, phase=Phase.IN_PROGRESS, expected_version=run.version)
    assert [version for version, _ in _versions(store_url)] == [*ALL_VERSIONS, NEXT]
    assert "priority" in _columns(store_url, "drd_runs")
    assert _priority_of(store_url, run.id) == 5
    assert updated.version == 2


def test_migration_2_adds_the_backups_table_to_a_version_1_database(store_url, clock):
    """A database written by a version-1 drd gains drd_backups on open and keeps its runs."""
    with open_store(store_url, clock=clock, migrations=MIGRATIONS[:1]) as store:
        run = store.create_run(kind="backup", subject="shop", trigger="cli", parameters={})
    with open_store(store_url, clock=clock) as store:
        assert run == store.get_run(run.id)
        recorded = store.record_backup(cluster="primary-east", name="drd-shop-1", policy="shop", phase="Completed")
    assert [version for version, _ in _versions(store_url)][:2] == [1, 2]
    assert "completed_at" in _columns(store_url, "drd_backups")
    assert recorded.phase == "Completed"


def test_a_failing_migration_leaves_the_previous_version_intact(store_url):
    """A migration that fails half-way is rolled back entirely: no new column, no new version, data kept."""

    def add_then_fail(conn: Connection) -> None:
        _add_priority(conn)
        raise RuntimeError("migration bug")

    with open_store(store_url) as store:
        run = store.create_run(kind="drill", subject="shop", trigger="cli", parameters={})
    with pytest.raises(RuntimeError, match="migration bug"):
        open_store(store_url, migrations=(*MIGRATIONS, Migration(NEXT, "broken", add_then_fail)))
    assert [version for version, _ in _versions(store_url)] == ALL_VERSIONS
    assert "priority" not in _columns(store_url, "drd_runs")
    with open_store(store_url) as store:
        assert run == store.get_run(run.id)


def test_two_stores_starting_at_once_migrate_only_once(store_url):
    """Two processes opening the same empty database together: one migrates, the other waits and finds it done."""
    calls: list[int] = []
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def slow_initial(conn: Connection) -> None:
        calls.append(1)
        time.sleep(0.3)  # long enough for the other opener to arrive while this one is migrating
        MIGRATIONS[0].apply(conn)

    def opener() -> None:
        barrier.wait()
        try:
            with open_store(store_url, migrations=(Migration(1, MIGRATIONS[0].name, slow_initial),)) as store:
                outcomes.append(store.create_run(kind="backup", subject="shop", trigger="cli", parameters={}).id)
        except Exception as e:  # reported below, with its type
            outcomes.append(e)

    threads = [threading.Thread(target=opener) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(outcome, str) for outcome in outcomes), outcomes
    assert calls == [1]
    assert _versions(store_url) == [(1, MIGRATIONS[0].name)]


@pytest.mark.parametrize("versions", [[2], [1, 3], [1, 1], [2, 1]])
def test_migrations_must_be_numbered_from_one_without_gaps(versions):
    """A gap, a duplicate or a wrong order in the migration list is a programming error caught before any SQL."""
    with pytest.raises(ValueError, match="numbered 1, 2, 3"):
        check_sequence([Migration(v, f"m{v}", lambda conn: None) for v in versions])


def test_add_column_renders_for_each_dialect(store_url):
    """add_column emits ALTER TABLE in the database's own dialect, so one migration serves both backends."""
    open_store(store_url).close()
    engine = create_engine(urls.parse(store_url).url)
    try:
        with engine.begin() as conn:
            add_column(conn, "drd_events", Column("severity", Integer))
            conn.execute(text("UPDATE drd_events SET severity = 1"))
    finally:
        engine.dispose()
    assert _columns(store_url, "drd_events")["severity"] is True
