"""Runs: creation, the phase lifecycle with its timestamps, optimistic concurrency, listing, not-found.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from drd.errors import PermanentError, TemporaryError
from drd.outcomes import Phase
from drd.store import Store
from drd.store.errors import Conflict, NotFound

from .support import T0, a_run


def test_a_new_run_is_pending_at_version_one(store):
    """A run is created Pending, version 1, stamped by the store's clock, not yet started or finished."""
    run = a_run(store, requested_by="alice", parameters={"backup": "latest"}, details={"note": "first"})
    assert (run.phase, run.version) == (Phase.PENDING, 1)
    assert (run.created_at, run.updated_at, run.started_at, run.finished_at) == (T0, T0, None, None)
    assert (run.kind, run.subject, run.trigger, run.requested_by) == ("drill", "shop", "schedule", "alice")
    assert (run.parameters, run.details) == ({"backup": "latest"}, {"note": "first"})
    assert len(run.id) == 26


def test_a_run_reads_back_as_it_was_written(store):
    """get_run returns a record equal to the one create_run returned."""
    run = a_run(store, parameters={"namespaces": ["shop", "payments"]})
    assert run == store.get_run(run.id)


def test_a_run_moves_through_its_lifecycle(store, clock):
    """Leaving Pending stamps started_at, a terminal phase stamps finished_at, each update bumps the version."""
    run = a_run(store)
    clock.advance(10)
    running = store.update_run(run.id, phase=Phase.IN_PROGRESS)
    clock.advance(50)
    done = store.update_run(run.id, phase=Phase.COMPLETED, details={"rto_seconds": 50})
    assert (running.version, running.started_at, running.finished_at) == (2, T0 + timedelta(seconds=10), None)
    assert (done.version, done.phase, done.details) == (3, Phase.COMPLETED, {"rto_seconds": 50})
    assert (done.started_at, done.finished_at, done.updated_at) == (
        T0 + timedelta(seconds=10),
        T0 + timedelta(seconds=60),
        T0 + timedelta(seconds=60),
    )
    assert done == store.get_run(run.id)


def test_updating_only_details_keeps_the_phase_and_replaces_the_document(store):
    """details replaces the whole document; fields not passed stay as they were."""
    run = a_run(store, phase=Phase.IN_PROGRESS, details={"a": 1, "b": 2})
    updated = store.update_run(run.id, details={"b": 3})
    assert (updated.phase, updated.details, updated.started_at) == (Phase.IN_PROGRESS, {"b": 3}, run.started_at)


def test_a_run_created_after_the_fact_keeps_the_given_times(store):
    """Recording an Outcome as a finished run keeps its real start and finish times."""
    started, finished = T0 - timedelta(minutes=5), T0 - timedelta(minutes=1)
    run = a_run(store, phase=Phase.PARTIALLY_FAILED, started_at=started, finished_at=finished)
    assert (run.started_at, run.finished_at) == (started, finished)


def test_a_run_created_running_has_started_now(store):
    """A run created in a phase other than Pending has started at creation, unless told otherwise."""
    assert a_run(store, phase=Phase.IN_PROGRESS).started_at == T0


def test_resuming_a_finished_run_clears_its_finish(store, clock):
    """Moving a terminal run back to InProgress (a resume) clears finished_at until it ends again."""
    run = a_run(store, phase=Phase.FAILED)
    clock.advance(5)
    resumed = store.update_run(run.id, phase=Phase.IN_PROGRESS)
    assert (resumed.started_at, resumed.finished_at) == (T0, None)


def test_correcting_a_terminal_phase_keeps_the_original_finish(store, clock):
    """Changing one terminal phase into another keeps the time the run first finished."""
    run = a_run(store, phase=Phase.COMPLETED)
    clock.advance(5)
    assert store.update_run(run.id, phase=Phase.PARTIALLY_FAILED).finished_at == T0


def test_a_finish_time_needs_a_terminal_phase(store):
    """finished_at with a non-terminal phase is a programming error, refused before writing."""
    run = a_run(store)
    with pytest.raises(ValueError, match="terminal"):
        store.update_run(run.id, phase=Phase.IN_PROGRESS, finished_at=T0)
    assert run == store.get_run(run.id)


def test_an_update_from_a_stale_version_is_a_conflict(store):
    """With expected_version, an update based on an outdated read raises Conflict and changes nothing."""
    run = a_run(store)
    current = store.update_run(run.id, phase=Phase.IN_PROGRESS, expected_version=1)
    with pytest.raises(Conflict, match="version 2, not 1") as caught:
        store.update_run(run.id, phase=Phase.FAILED, expected_version=1)
    assert isinstance(caught.value, TemporaryError)
    assert current == store.get_run(run.id)


def test_an_update_from_the_current_version_succeeds(store):
    """With expected_version equal to the stored version the update goes through."""
    run = a_run(store)
    assert store.update_run(run.id, details={"x": 1}, expected_version=run.version).version == 2


MISSING_RUN_CALLS: dict[str, Callable[[Store], object]] = {
    "get_run": lambda store: store.get_run("nope"),
    "update_run": lambda store: store.update_run("nope", phase=Phase.FAILED),
    "start_step": lambda store: store.start_step("nope", ordinal=0, name="n", type="t"),
    "steps": lambda store: store.steps("nope"),
    "record_event": lambda store: store.record_event("nope", "RunStarted", actor="drd"),
    "events": lambda store: store.events("nope"),
}


@pytest.mark.parametrize("call", MISSING_RUN_CALLS.values(), ids=MISSING_RUN_CALLS.keys())
def test_a_missing_run_is_not_found(store, call):
    """Every call naming a run that does not exist raises NotFound, a PermanentError, naming the id."""
    with pytest.raises(NotFound, match="run 'nope' not found") as caught:
        call(store)
    assert isinstance(caught.value, PermanentError)
    assert (caught.value.what, caught.value.key) == ("run", "nope")


def test_runs_are_listed_newest_first(store, clock):
    """list_runs returns the newest run first, even when several share a timestamp."""
    created = []
    for i in range(3):
        created.append(a_run(store, subject=f"app-{i}").id)
        created.append(a_run(store, subject=f"app-{i}").id)
        clock.advance(1)
    assert [run.id for run in store.list_runs()] == list(reversed(created))


def test_runs_are_filtered_by_kind_subject_and_phase(store):
    """Each filter given narrows the list; filters combine."""
    wanted = a_run(store, kind="backup", subject="shop", phase=Phase.COMPLETED)
    a_run(store, kind="backup", subject="shop", phase=Phase.FAILED)
    a_run(store, kind="backup", subject="payments", phase=Phase.COMPLETED)
    a_run(store, kind="drill", subject="shop", phase=Phase.COMPLETED)
    assert store.list_runs(kind="backup", subject="shop", phase=Phase.COMPLETED) == [wanted]
    assert len(store.list_runs(kind="backup")) == 3
    assert len(store.list_runs(subject="shop")) == 3
    assert len(store.list_runs(phase=Phase.COMPLETED)) == 3


def test_listing_pages_with_limit_and_before(store):
    """limit caps the page; before (a run id) continues after that run, so pages never overlap."""
    ids = [a_run(store).id for _ in range(5)]
    first = store.list_runs(limit=2)
    second = store.list_runs(limit=2, before=first[-1].id)
    last = store.list_runs(limit=2, before=second[-1].id)
    assert [run.id for run in first + second + last] == [ids[4], ids[3], ids[2], ids[1], ids[0]]


def test_a_limit_below_one_is_refused(store):
    """Asking for no runs at all is a programming error."""
    with pytest.raises(ValueError, match="limit"):
        store.list_runs(limit=0)


def test_last_run_is_the_newest_for_a_kind_and_subject(store, clock):
    """last_run finds the newest run of a kind for a subject, optionally in a phase, or None."""
    good = a_run(store, kind="backup", phase=Phase.COMPLETED)
    clock.advance(60)
    newest = a_run(store, kind="backup", phase=Phase.FAILED)
    a_run(store, kind="backup", subject="other", phase=Phase.COMPLETED)
    assert store.last_run("backup", "shop") == newest
    assert store.last_run("backup", "shop", phase=Phase.COMPLETED) == good
    assert store.last_run("backup", "shop", phase=Phase.SKIPPED) is None
    assert store.last_run("restore", "shop") is None
