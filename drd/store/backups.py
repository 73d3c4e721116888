"""The SQL behind :class:`drd.store.Store`'s backup methods: upsert, deletion marks and queries.

One row per (cluster, Backup name). Observations of a Backup only ever add
information (Velero never unsets a timestamp), so an upsert changes the
fields it is given and leaves the others; a Backup that reappears under the
same name with another uid is a different backup and replaces the row.
Recording an unchanged observation writes nothing: re-observing after a
relist or a daemon restart is idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from drd.store.schema import backups

OBSERVED = (
    "uid",
    "policy",
    "schedule",
    "phase",
    "started_at",
    "completed_at",
    "expiration",
    "items_total",
    "items_backed_up",
    "errors",
    "warnings",
    "storage_location",
    "failure_reason",
)
"""The columns an observation sets (the rest are the key and the store's own timestamps)."""

GOOD_PHASES = ("Completed",)
GOOD_PHASES_WITH_PARTIAL = ("Completed", "PartiallyFailed")


def upsert(conn: Connection, *, cluster: str, name: str, observed: Mapping[str, Any], now: datetime) -> RowMapping:
    """Insert or update the row of one Backup; see the module docstring for the rules."""
    current = _locked(conn, cluster, name)
    if current is None:
        fresh = {**_complete(observed), "cluster": cluster, "name": name, "first_seen_at": now, "updated_at": now}
        inserted = _insert_unless_present(conn, fresh)
        if inserted is not None:
            return inserted
        current = _locked(conn, cluster, name)  # another writer inserted it first: update theirs
        assert current is not None
    if observed.get("uid") is not None and current["uid"] is not None and observed["uid"] != current["uid"]:
        values = {**_complete(observed), "first_seen_at": now, "deleted_at": None}
    else:
        values = {key: value for key, value in observed.items() if value is not None and current[key] != value}
        if current["deleted_at"] is not None:
            values["deleted_at"] = None  # observed again, so it exists again (for example re-synced by Velero)
    if not values:
        return current
    statement = update(backups).where(_key(cluster, name)).values({**values, "updated_at": now})
    return conn.execute(statement.returning(*backups.c)).mappings().one()


def mark_deleted(conn: Connection, *, cluster: str, name: str, at: datetime, now: datetime) -> RowMapping | None:
    """Stamp ``deleted_at`` once (a second mark keeps the first time); None when the backup is unknown."""
    statement = (
        update(backups)
        .where(_key(cluster, name), backups.c.deleted_at.is_(None))
        .values(deleted_at=at, updated_at=now)
        .returning(*backups.c)
    )
    row = conn.execute(statement).mappings().one_or_none()
    return row if row is not None else _locked(conn, cluster, name)


def listing(
    *, policy: str | None, cluster: str | None, include_deleted: bool, phases: tuple[str, ...] | None = None
) -> Select[Any]:
    """The rows matching every filter given (no order, no limit)."""
    query = select(backups)
    if policy is not None:
        query = query.where(backups.c.policy == policy)
    if cluster is not None:
        query = query.where(backups.c.cluster == cluster)
    if not include_deleted:
        query = query.where(backups.c.deleted_at.is_(None))
    if phases is not None:
        query = query.where(backups.c.phase.in_(phases))
    return query


def newest_first(query: Select[Any]) -> Select[Any]:
    """Ordered by when the backup ran (start, else completion, else when drd first saw it), newest first."""
    moment = func.coalesce(backups.c.started_at, backups.c.completed_at, backups.c.first_seen_at)
    return query.order_by(moment.desc(), backups.c.name.desc(), backups.c.id.desc())


def by_completion(query: Select[Any]) -> Select[Any]:
    """Completed backups, newest completion first."""
    return query.where(backups.c.completed_at.is_not(None)).order_by(
        backups.c.completed_at.desc(), backups.c.name.desc()
    )


def newest_completions(conn: Connection, *, phases: tuple[str, ...]) -> dict[tuple[str, str], datetime]:
    """(policy, Velero phase) → the newest completion time among backups in that phase (not deleted)."""
    query = (
        select(backups.c.policy, backups.c.phase, func.max(backups.c.completed_at))
        .where(backups.c.deleted_at.is_(None), backups.c.completed_at.is_not(None), backups.c.phase.in_(phases))
        .group_by(backups.c.policy, backups.c.phase)
    )
    return {(str(policy), str(phase)): newest for policy, phase, newest in conn.execute(query)}


def counts(conn: Connection, *, policy: str, cluster: str | None) -> dict[str, int]:
    """Velero phase → how many of the policy's backups (not deleted) are in it."""
    query = listing(policy=policy, cluster=cluster, include_deleted=False).with_only_columns(
        backups.c.phase, func.count()
    )
    return {str(phase): int(count) for phase, count in conn.execute(query.group_by(backups.c.phase))}


def _complete(observed: Mapping[str, Any]) -> dict[str, Any]:
    """Every observed column, with zero error and warning counts when not given."""
    values = {column: observed.get(column) for column in OBSERVED}
    values["errors"] = values["errors"] or 0
    values["warnings"] = values["warnings"] or 0
    return values


def _insert_unless_present(conn: Connection, values: Mapping[str, Any]) -> RowMapping | None:
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        dialect_insert(backups)
        .values(dict(values))
        .on_conflict_do_nothing(index_elements=[backups.c.cluster, backups.c.name])
        .returning(*backups.c)
    )
    return conn.execute(statement).mappings().one_or_none()


def _locked(conn: Connection, cluster: str, name: str) -> RowMapping | None:
    return conn.execute(select(backups).where(_key(cluster, name)).with_for_update()).mappings().one_or_none()


def _key(cluster: str, name: str) -> ColumnElement[bool]:
    return and_(backups.c.cluster == cluster, backups.c.name == name)
