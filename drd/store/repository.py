"""The store's API: runs, their steps, their audit events and the Velero backups seen, as frozen records.

Each call is one short transaction on a connection from the engine's pool, so one
:class:`Store` is safe to share between threads (scheduler jobs, HTTP scrapes). Writes
that read first (updates, step starts) lock the run row (``SELECT … FOR UPDATE`` on
PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite), so concurrent writers never lose updates.

The store keeps two invariants itself: ``started_at`` is set when a run leaves Pending
and ``finished_at`` exactly while its phase is terminal (callers may pass the times, e.g.
when recording an Outcome after the fact). Everything JSON or free text is redacted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from drd.clock import Clock
from drd.outcomes import Phase
from drd.store import backups as backup_sql
from drd.store import documents, ids
from drd.store import engine as engines
from drd.store.errors import Conflict, NotFound
from drd.store.records import (
    BackupRecord,
    EventRecord,
    RunRecord,
    StepRecord,
    backup_from,
    event_from,
    run_from,
    step_from,
)
from drd.store.schema import backups as backups_table
from drd.store.schema import events, runs, steps
from drd.store.urls import Database


class Store:
    """Durable runs, steps and events in SQLite or PostgreSQL; obtain one from :func:`drd.store.open_store`."""

    def __init__(self, engine: Engine, *, database: Database, clock: Clock) -> None:
        self._engine = engine
        self._writer = engines.writing(engine)
        self._database = database
        self._clock = clock

    @property
    def database(self) -> str:
        """The database, fit for messages and logs (password masked)."""
        return self._database.display

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._database.backend

    def close(self) -> None:
        """Close every pooled connection; the store must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    # -- runs -----------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        kind: str,
        subject: str,
        trigger: str,
        parameters: Mapping[str, Any],
        details: Mapping[str, Any] | None = None,
        phase: Phase = Phase.PENDING,
        requested_by: str | None = None,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
    ) -> RunRecord:
        """Record a new run; ``started_at``/``finished_at`` default to now when ``phase`` implies them."""
        now = self._now()
        started, finished = _run_times(phase, now=now, started_at=started_at, finished_at=finished_at)
        values = {
            "id": ids.new_id(now),
            "kind": kind,
            "subject": subject,
            "phase": Phase(phase).value,
            "trigger": trigger,
            "requested_by": requested_by,
            "parameters": documents.document(parameters, what="parameters"),
            "details": documents.document(details, what="details"),
            "created_at": now,
            "started_at": started,
            "finished_at": finished,
            "updated_at": now,
            "version": 1,
        }
        with self._write() as conn:
            row = conn.execute(insert(runs).values(values).returning(*runs.c)).mappings().one()
        return run_from(row)

    def get_run(self, run_id: str) -> RunRecord:
        """The run with that id, or NotFound."""
        with self._read() as conn:
            return self._run(conn, run_id)

    def update_run(
        self,
        run_id: str,
        *,
        phase: Phase | None = None,
        details: Mapping[str, Any] | None = None,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> RunRecord:
        """Change a run (None leaves a field as it is; ``details`` replaces the whole document).

        With ``expected_version``, the update happens only if nobody changed the run since that
        version was read, else Conflict. Moving to a non-terminal phase clears ``finished_at``.
        """
        now = self._now()
        new_details = None if details is None else documents.document(details, what="details")
        with self._write() as conn:
            current = self._run(conn, run_id, for_update=True)
            if expected_version is not None and current.version != expected_version:
                raise Conflict(
                    f"run {run_id!r} is at version {current.version}, not {expected_version}: "
                    "it changed since it was read"
                )
            new_phase = current.phase if phase is None else Phase(phase)
            kept_finish = current.finished_at if current.phase.terminal and new_phase.terminal else None
            started, finished = _run_times(
                new_phase, now=now, started_at=started_at or current.started_at, finished_at=finished_at or kept_finish
            )
            values: dict[str, Any] = {
                "phase": new_phase.value,
                "started_at": started,
                "finished_at": finished,
                "updated_at": now,
                "version": current.version + 1,
            }
            if new_details is not None:
                values["details"] = new_details
            statement = update(runs).where(runs.c.id == run_id).values(values).returning(*runs.c)
            row = conn.execute(statement).mappings().one()  # the row is locked: it exists and is unchanged
        return run_from(row)

    def list_runs(
        self,
        *,
        kind: str | None = None,
        subject: str | None = None,
        phase: Phase | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[RunRecord]:
        """Runs matching every filter given, newest first; ``before`` (a run id) pages on from that run."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        query = _runs_where(kind=kind, subject=subject, phase=phase)
        if before is not None:
            query = query.where(runs.c.id < before)
        with self._read() as conn:
            rows = conn.execute(query.order_by(runs.c.id.desc()).limit(limit)).mappings().all()
        return [run_from(row) for row in rows]

    def last_run(self, kind: str, subject: str, *, phase: Phase | None = None) -> RunRecord | None:
        """The newest run of ``kind`` for ``subject`` (in ``phase``, if given), or None."""
        found = self.list_runs(kind=kind, subject=subject, phase=phase, limit=1)
        return found[0] if found else None

    # -- steps ----------------------------------------------------------------------------------

    def start_step(
        self,
        run_id: str,
        *,
        ordinal: int,
        name: str,
        type: str,
        inputs: Mapping[str, Any] | None = None,
        attempt: int | None = None,
        phase: Phase = Phase.IN_PROGRESS,
        idempotency_key: str | None = None,
        deadline_at: datetime | None = None,
    ) -> StepRecord:
        """Record that an attempt of step ``ordinal`` starts (write-ahead, before its effect).

        ``attempt`` defaults to one more than the step's latest attempt. Starting an attempt
        that exists already raises Conflict; a missing run raises NotFound.
        """
        now = self._now()
        if phase.terminal:
            raise ValueError(f"a step starts in a non-terminal phase, not {phase.value}")
        with self._write() as conn:
            self._run(conn, run_id, for_update=True)
            if attempt is None:
                latest = conn.scalar(
                    select(func.max(steps.c.attempt)).where(steps.c.run_id == run_id, steps.c.ordinal == ordinal)
                )
                attempt = (latest or 0) + 1
            values = {
                "id": ids.new_id(now),
                "run_id": run_id,
                "ordinal": ordinal,
                "attempt": attempt,
                "name": name,
                "type": type,
                "phase": phase.value,
                "inputs": documents.document(inputs, what="inputs"),
                "outputs": {},
                "idempotency_key": idempotency_key,
                "deadline_at": _aware(deadline_at, "deadline_at"),
                "started_at": now,
            }
            try:
                row = conn.execute(insert(steps).values(values).returning(*steps.c)).mappings().one()
            except IntegrityError as e:
                raise Conflict(f"run {run_id!r} already has attempt {attempt} of step {ordinal}") from e
        return step_from(row)

    def finish_step(
        self,
        step_id: str,
        *,
        phase: Phase,
        outputs: Mapping[str, Any] | None = None,
        error_message: str | None = None,
        error_class: str | None = None,
        finished_at: datetime | None = None,
    ) -> StepRecord:
        """Record how an attempt ended (a terminal phase); finishing it twice raises Conflict."""
        if not phase.terminal:
            raise ValueError(f"a step finishes in a terminal phase, not {phase.value}")
        values = {
            "phase": phase.value,
            "outputs": documents.document(outputs, what="outputs"),
            "error_message": documents.text(error_message),
            "error_class": error_class,
            "finished_at": _aware(finished_at, "finished_at") or self._now(),
        }
        with self._write() as conn:
            current = conn.execute(select(steps.c.finished_at).where(steps.c.id == step_id).with_for_update()).first()
            if current is None:
                raise NotFound("step", step_id)
            if current.finished_at is not None:
                raise Conflict(f"step {step_id!r} has already finished")
            statement = update(steps).where(steps.c.id == step_id).values(values).returning(*steps.c)
            row = conn.execute(statement).mappings().one()
        return step_from(row)

    def steps(self, run_id: str) -> list[StepRecord]:
        """Every attempt of every step of a run, by step ordinal then attempt; NotFound for a missing run."""
        query = select(steps).where(steps.c.run_id == run_id).order_by(steps.c.ordinal, steps.c.attempt)
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
            if not rows:
                self._run(conn, run_id)
        return [step_from(row) for row in rows]

    # -- events ---------------------------------------------------------------------------------

    def record_event(
        self, run_id: str, event: str, *, actor: str, data: Mapping[str, Any] | None = None
    ) -> EventRecord:
        """Append an entry to a run's audit trail (who did what, with redacted data)."""
        values = {
            "run_id": run_id,
            "at": self._now(),
            "actor": actor,
            "event": event,
            "data": documents.document(data, what="data"),
        }
        with self._write() as conn:
            self._run(conn, run_id)
            row = conn.execute(insert(events).values(values).returning(*events.c)).mappings().one()
        return event_from(row)

    def events(self, run_id: str) -> list[EventRecord]:
        """A run's audit trail in the order it was written; NotFound for a missing run."""
        query = select(events).where(events.c.run_id == run_id).order_by(events.c.id)
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
            if not rows:
                self._run(conn, run_id)
        return [event_from(row) for row in rows]

    # -- backups --------------------------------------------------------------------------------

    def record_backup(
        self,
        *,
        cluster: str,
        name: str,
        policy: str,
        phase: str,
        uid: str | None = None,
        schedule: str | None = None,
        started_at: datetime | None = None,
        completed_at: datetime | None = None,
        expiration: datetime | None = None,
        items_total: int | None = None,
        items_backed_up: int | None = None,
        errors: int | None = None,
        warnings: int | None = None,
        storage_location: str | None = None,
        failure_reason: str | None = None,
    ) -> BackupRecord:
        """Record what was observed of one Velero Backup (``phase`` is Velero's); insert or update, idempotently.

        A field passed as None keeps the stored value (observations only add
        information). The same name with a different ``uid`` is a new backup and
        replaces the row. Observing a backup clears ``deleted_at``.
        """
        if not phase:
            raise ValueError("a backup is recorded with its Velero phase")
        observed = {
            "uid": uid,
            "policy": policy,
            "schedule": schedule,
            "phase": phase,
            "started_at": _aware(started_at, "started_at"),
            "completed_at": _aware(completed_at, "completed_at"),
            "expiration": _aware(expiration, "expiration"),
            "items_total": items_total,
            "items_backed_up": items_backed_up,
            "errors": errors,
            "warnings": warnings,
            "storage_location": storage_location,
            "failure_reason": documents.text(failure_reason),
        }
        now = self._now()
        with self._write() as conn:
            row = backup_sql.upsert(conn, cluster=cluster, name=name, observed=observed, now=now)
        return backup_from(row)

    def mark_backup_deleted(self, cluster: str, name: str, *, at: datetime) -> BackupRecord | None:
        """Record that the Backup object is gone (the first time wins); None for a backup never recorded."""
        at = _aware(at, "at") or at
        with self._write() as conn:
            row = backup_sql.mark_deleted(conn, cluster=cluster, name=name, at=at, now=self._now())
        return None if row is None else backup_from(row)

    def backups(
        self,
        *,
        policy: str | None = None,
        cluster: str | None = None,
        include_deleted: bool = False,
        limit: int = 100,
    ) -> list[BackupRecord]:
        """Backups matching every filter given, newest first (by start, else completion, else first seen)."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        query = backup_sql.listing(policy=policy, cluster=cluster, include_deleted=include_deleted)
        with self._read() as conn:
            rows = conn.execute(backup_sql.newest_first(query).limit(limit)).mappings().all()
        return [backup_from(row) for row in rows]

    def last_good_backup(
        self, policy: str, *, include_partial: bool = False, cluster: str | None = None
    ) -> BackupRecord | None:
        """The policy's newest restorable backup by completion time: Completed (or PartiallyFailed, if asked)."""
        phases = backup_sql.GOOD_PHASES_WITH_PARTIAL if include_partial else backup_sql.GOOD_PHASES
        query = backup_sql.listing(policy=policy, cluster=cluster, include_deleted=False, phases=phases)
        with self._read() as conn:
            row = conn.execute(backup_sql.by_completion(query).limit(1)).mappings().one_or_none()
        return None if row is None else backup_from(row)

    def backup_names(self, *, cluster: str, phases: tuple[str, ...]) -> set[str]:
        """Names of the cluster's backups in these phases, deleted ones included (cheap: names only)."""
        query = backup_sql.listing(policy=None, cluster=cluster, include_deleted=True, phases=phases)
        with self._read() as conn:
            return {str(name) for name in conn.execute(query.with_only_columns(backups_table.c.name)).scalars()}

    def newest_good_completions(self) -> dict[tuple[str, str], datetime]:
        """(policy, phase) → completion time of its newest Completed and PartiallyFailed backup, in one query.

        What the RPO of every policy is computed from at each scrape (one query, not one per policy).
        """
        with self._read() as conn:
            return backup_sql.newest_completions(conn, phases=backup_sql.GOOD_PHASES_WITH_PARTIAL)

    def backup_counts(self, policy: str, *, cluster: str | None = None) -> dict[str, int]:
        """How many of the policy's backups (not deleted) are in each Velero phase."""
        with self._read() as conn:
            return backup_sql.counts(conn, policy=policy, cluster=cluster)

    # -- plumbing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with engines.translated(self._database), self._engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with engines.translated(self._database), self._writer.connect() as conn, conn.begin():
            yield conn

    def _run(self, conn: Connection, run_id: str, *, for_update: bool = False) -> RunRecord:
        query = select(runs).where(runs.c.id == run_id)
        row = conn.execute(query.with_for_update() if for_update else query).mappings().one_or_none()
        if row is None:
            raise NotFound("run", run_id)
        return run_from(row)

    def _now(self) -> datetime:
        now = self._clock.now()
        if now.utcoffset() is None:
            raise ValueError("the store's clock returned a naive datetime; it must be timezone-aware")
        return now


def _runs_where(*, kind: str | None, subject: str | None, phase: Phase | None) -> Select[Any]:
    query = select(runs)
    if kind is not None:
        query = query.where(runs.c.kind == kind)
    if subject is not None:
        query = query.where(runs.c.subject == subject)
    if phase is not None:
        query = query.where(runs.c.phase == Phase(phase).value)
    return query


def _run_times(
    phase: Phase, *, now: datetime, started_at: datetime | None, finished_at: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """(started_at, finished_at) as the phase implies: started unless Pending, finished iff terminal."""
    started = _aware(started_at, "started_at")
    finished = _aware(finished_at, "finished_at")
    if started is None and phase is not Phase.PENDING:
        started = now
    if not phase.terminal and finished is not None:
        raise ValueError(f"finished_at is only for a terminal phase, not {phase.value}")
    if phase.terminal and finished is None:
        finished = now
    return started, finished


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value
