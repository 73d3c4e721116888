"""The job wrapper: runs only on the leader, never crashes, records every run, retries only temporary errors."""

from __future__ import annotations

from drd.daemon.jobs import JobContext, JobSpec, run_job
from drd.errors import PermanentError, TemporaryError
from drd.outcomes import Outcome, Phase
from tests.support.clocks import ManualClock


class Context:
    """A job context that keeps what happened, for assertions."""

    def __init__(self, *, leader: bool = True) -> None:
        self.clock = ManualClock()
        self.leader = leader
        self.stopping = False
        self.recorded: list[Outcome] = []
        self.triggers: list[str] = []
        self.retries: list[tuple[str, float, int]] = []

    def record(self, spec: JobSpec, outcome: Outcome, trigger: str) -> None:
        self.recorded.append(outcome)
        self.triggers.append(trigger)

    def build(self) -> JobContext:
        return JobContext(
            clock=self.clock,
            is_leader=lambda: self.leader,
            is_stopping=lambda: self.stopping,
            record=self.record,
            schedule_retry=lambda spec, delay, attempt: self.retries.append((spec.id, delay, attempt)),
        )


def a_job(func) -> JobSpec:
    return JobSpec(id="schedule:shop", kind="schedule", subject="shop", func=func, interval_seconds=60)


def completed() -> Outcome:
    clock = ManualClock()
    return Outcome("schedule", "shop", Phase.COMPLETED, clock.now(), clock.now())


def test_a_follower_does_not_run_jobs():
    """A replica that is not the leader skips the job and records nothing."""
    context = Context(leader=False)
    assert run_job(a_job(completed), context.build()) is None
    assert context.recorded == []


def test_the_leader_runs_and_records_the_outcome():
    """On the leader the job's outcome is recorded once."""
    context = Context()
    outcome = run_job(a_job(completed), context.build())
    assert outcome is not None
    assert [o.phase for o in context.recorded] == [Phase.COMPLETED]


def test_a_temporary_error_is_recorded_failed_and_retried_later():
    """TemporaryError: a Failed outcome marked temporary, and a retry after its delay."""

    def throttled() -> Outcome:
        raise TemporaryError("API throttled", delay=7)

    context = Context()
    run_job(a_job(throttled), context.build())
    (failed,) = context.recorded
    assert failed.phase is Phase.FAILED
    assert failed.details["temporary"] is True
    assert context.retries == [("schedule:shop", 7, 2)]


def test_retries_stop_after_the_limit():
    """The last allowed attempt records the failure without scheduling another retry."""

    def throttled() -> Outcome:
        raise TemporaryError("API throttled", delay=1)

    context = Context()
    run_job(a_job(throttled), context.build(), attempt=4)
    assert context.retries == []


def test_a_permanent_error_is_not_retried():
    """PermanentError: recorded Failed with the reason, no retry."""

    def invalid() -> Outcome:
        raise PermanentError("storage location missing")

    context = Context()
    run_job(a_job(invalid), context.build())
    assert context.recorded[0].details["error"] == "storage location missing"
    assert context.retries == []


def test_a_bug_in_a_job_is_recorded_and_does_not_escape():
    """An unexpected exception is logged and recorded as Failed; the caller (the scheduler) never sees it."""

    def buggy() -> Outcome:
        raise KeyError("oops")

    context = Context()
    outcome = run_job(a_job(buggy), context.build())
    assert outcome is not None
    assert outcome.details["error_class"] == "KeyError"


def test_nothing_runs_while_stopping():
    """During shutdown no new job starts."""
    context = Context()
    context.stopping = True
    assert run_job(a_job(completed), context.build()) is None


def test_observation_jobs_run_on_followers_too():
    """A job marked leader_only=False (a health check) runs on every replica."""
    context = Context(leader=False)
    spec = JobSpec(id="health", kind="health", subject="clusters", func=completed, leader_only=False)
    assert run_job(spec, context.build()) is not None


def test_the_trigger_is_recorded_and_its_details_join_the_outcome():
    """A catch-up run is recorded with its trigger, and the missed slot is in the outcome's details."""
    context = Context()
    outcome = run_job(
        a_job(completed), context.build(), trigger="catch-up", details={"missed_slot": "2026-03-01T03:00:00+00:00"}
    )
    assert outcome is not None
    assert context.triggers == ["catch-up"]
    assert outcome.details == {"missed_slot": "2026-03-01T03:00:00+00:00"}
    assert context.recorded == [outcome]


def test_a_failed_catch_up_keeps_why_it_ran():
    """The details of the trigger are kept on a Failed outcome too."""

    def invalid() -> Outcome:
        raise PermanentError("no backup to drill")

    context = Context()
    outcome = run_job(a_job(invalid), context.build(), trigger="catch-up", details={"missed_runs": 3})
    assert outcome is not None
    assert (outcome.phase, outcome.details["missed_runs"], outcome.details["error"]) == (
        Phase.FAILED,
        3,
        "no backup to drill",
    )
