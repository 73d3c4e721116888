"""One store shared by many threads (scheduler jobs, HTTP scrapes) loses and corrupts nothing.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from drd.outcomes import Phase
from drd.store.errors import Conflict

from .support import a_run

THREADS = 8
PER_THREAD = 25


def in_threads(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads started together; return their results (re-raising any error)."""
    barrier = threading.Barrier(count)

    def started_together(i: int) -> Any:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(started_together, range(count)))


def test_concurrent_writers_lose_no_runs(store):
    """8 threads each creating and completing 25 runs leave exactly those 200 runs, all completed."""

    def writer(i: int) -> list[str]:
        ids = []
        for n in range(PER_THREAD):
            run = a_run(store, subject=f"app-{i}", parameters={"n": n})
            store.update_run(run.id, phase=Phase.COMPLETED, expected_version=run.version)
            ids.append(run.id)
        return ids

    written = [run_id for ids in in_threads(writer) for run_id in ids]
    stored = store.list_runs(limit=1000)
    assert len(set(written)) == THREADS * PER_THREAD
    assert sorted(written, reverse=True) == [run.id for run in stored]
    assert {(run.phase, run.version) for run in stored} == {(Phase.COMPLETED, 2)}


def test_concurrent_updates_of_one_run_lose_none(store):
    """Unconditional updates of one run from 8 threads are serialised: the version counts every one of them."""
    run = a_run(store)

    def updater(i: int) -> None:
        for n in range(PER_THREAD):
            store.update_run(run.id, details={"thread": i, "n": n})

    in_threads(updater)
    assert store.get_run(run.id).version == 1 + THREADS * PER_THREAD


def test_racing_conditional_updates_let_exactly_one_win(store):
    """8 threads updating the same version of a run: one succeeds, the other seven get Conflict."""
    run = a_run(store)

    def contender(i: int) -> str:
        try:
            store.update_run(run.id, details={"winner": i}, expected_version=run.version)
        except Conflict:
            return "conflict"
        return "won"

    assert sorted(in_threads(contender), reverse=True) == ["won"] + ["conflict"] * (THREADS - 1)
    assert store.get_run(run.id).version == 2


def test_concurrent_step_starts_number_attempts_uniquely(store):
    """Threads retrying the same step concurrently get distinct, gapless attempt numbers."""
    run = a_run(store)
    attempts = in_threads(lambda i: store.start_step(run.id, ordinal=0, name="probe", type="http").attempt)
    assert sorted(attempts) == list(range(1, THREADS + 1))
