"""Steps and events: write-ahead step attempts, their results, and a run's audit trail.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from drd.outcomes import Phase
from drd.store.errors import Conflict, NotFound

from .support import T0, a_run


def test_a_started_step_is_in_progress_with_its_inputs(store):
    """start_step records the attempt before its effect: InProgress, inputs, start time, no finish yet."""
    run = a_run(store)
    step = store.start_step(
        run.id,
        ordinal=0,
        name="restore",
        type="velero.restore",
        inputs={"backup": "shop-0300"},
        idempotency_key=f"{run.id}-restore",
        deadline_at=T0 + timedelta(minutes=45),
    )
    assert (step.run_id, step.ordinal, step.attempt) == (run.id, 0, 1)
    assert (step.name, step.type) == ("restore", "velero.restore")
    assert (step.phase, step.inputs, step.outputs) == (Phase.IN_PROGRESS, {"backup": "shop-0300"}, {})
    assert (step.started_at, step.finished_at, step.deadline_at) == (T0, None, T0 + timedelta(minutes=45))
    assert step.idempotency_key == f"{run.id}-restore"
    assert store.steps(run.id) == [step]


def test_a_finished_step_keeps_its_outputs_and_error(store, clock):
    """finish_step records the terminal phase, outputs, error message and class, and the finish time."""
    run = a_run(store)
    step = store.start_step(run.id, ordinal=0, name="verify", type="http.probe")
    clock.advance(3)
    done = store.finish_step(
        step.id,
        phase=Phase.FAILED,
        outputs={"status": 503},
        error_message="probe returned 503",
        error_class="VerificationFailed",
    )
    assert (done.phase, done.outputs) == (Phase.FAILED, {"status": 503})
    assert (done.error_message, done.error_class) == ("probe returned 503", "VerificationFailed")
    assert (done.started_at, done.finished_at) == (T0, T0 + timedelta(seconds=3))
    assert store.steps(run.id) == [done]


def test_attempts_are_numbered_one_more_than_the_latest(store):
    """Without an explicit attempt, a retry of a step gets the next attempt number."""
    run = a_run(store)
    first = store.start_step(run.id, ordinal=2, name="wait", type="k8s.waitFor")
    store.finish_step(first.id, phase=Phase.FAILED, error_message="timed out")
    second = store.start_step(run.id, ordinal=2, name="wait", type="k8s.waitFor")
    assert (first.attempt, second.attempt) == (1, 2)


def test_steps_are_listed_by_ordinal_then_attempt(store):
    """steps() orders by step ordinal and then attempt, whatever order they were written in."""
    run = a_run(store)
    store.start_step(run.id, ordinal=1, name="b", type="t", attempt=2)
    store.start_step(run.id, ordinal=0, name="a", type="t")
    store.start_step(run.id, ordinal=1, name="b", type="t", attempt=1)
    store.start_step(run.id, ordinal=2, name="c", type="t")
    assert [(s.ordinal, s.attempt) for s in store.steps(run.id)] == [(0, 1), (1, 1), (1, 2), (2, 1)]


def test_a_run_without_steps_has_an_empty_list(store):
    """An existing run with no steps yet lists none (and is not NotFound)."""
    assert store.steps(a_run(store).id) == []


def test_starting_the_same_attempt_twice_is_a_conflict(store):
    """A second write-ahead record for one attempt (two replicas acting) raises Conflict."""
    run = a_run(store)
    store.start_step(run.id, ordinal=0, name="restore", type="velero.restore", attempt=1)
    with pytest.raises(Conflict, match="already has attempt 1 of step 0"):
        store.start_step(run.id, ordinal=0, name="restore", type="velero.restore", attempt=1)
    assert len(store.steps(run.id)) == 1


def test_finishing_a_step_twice_is_a_conflict(store):
    """A finished attempt cannot be finished again; the first result stands."""
    run = a_run(store)
    step = store.start_step(run.id, ordinal=0, name="restore", type="velero.restore")
    done = store.finish_step(step.id, phase=Phase.COMPLETED, outputs={"restore": "r-1"})
    with pytest.raises(Conflict, match="already finished"):
        store.finish_step(step.id, phase=Phase.FAILED)
    assert store.steps(run.id) == [done]


def test_finishing_a_missing_step_is_not_found(store):
    """finish_step with an unknown step id raises NotFound naming the step."""
    with pytest.raises(NotFound, match="step 'nope' not found"):
        store.finish_step("nope", phase=Phase.COMPLETED)


def test_steps_start_unfinished_and_finish_terminal(store):
    """A step cannot start in a terminal phase nor finish in a non-terminal one."""
    run = a_run(store)
    with pytest.raises(ValueError, match="non-terminal"):
        store.start_step(run.id, ordinal=0, name="n", type="t", phase=Phase.COMPLETED)
    step = store.start_step(run.id, ordinal=0, name="approve", type="approval", phase=Phase.WAITING)
    assert step.phase == Phase.WAITING
    with pytest.raises(ValueError, match="terminal phase"):
        store.finish_step(step.id, phase=Phase.IN_PROGRESS)


def test_events_form_the_audit_trail_in_written_order(store, clock):
    """Events come back in the order written, each with its time, actor, name and data."""
    run = a_run(store)
    store.record_event(run.id, "RunSubmitted", actor="alice", data={"trigger": "cli"})
    clock.advance(1)
    store.record_event(run.id, "ApprovalGranted", actor="bob", data={"comment": "go"})
    store.record_event(run.id, "RunFinished", actor="drd")
    trail = store.events(run.id)
    assert [e.event for e in trail] == ["RunSubmitted", "ApprovalGranted", "RunFinished"]
    assert [e.actor for e in trail] == ["alice", "bob", "drd"]
    assert [e.data for e in trail] == [{"trigger": "cli"}, {"comment": "go"}, {}]
    assert [e.at for e in trail] == [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=1)]
    assert sorted(e.id for e in trail) == [e.id for e in trail]


def test_events_of_one_run_are_not_mixed_with_another(store):
    """A run's trail holds only its own events."""
    run, other = a_run(store), a_run(store)
    mine = store.record_event(run.id, "RunStarted", actor="drd")
    store.record_event(other.id, "RunStarted", actor="drd")
    assert store.events(run.id) == [mine]
