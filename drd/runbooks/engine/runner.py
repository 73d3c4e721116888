"""The durable runbook engine: runs, resumes, pauses and finishes runs, journaled in drd's store.

Every step attempt is written to the store *before* its side effect (write-ahead)
and again when it ends, so the store always tells where a run is. A run's
lifecycle (``drd_runs.phase`` + ``details.state``):

* ``Pending`` → ``InProgress`` (running) → ``Completed`` | ``PartiallyFailed``
  (non-critical failures) | ``Failed``;
* ``Waiting`` with ``details.waiting.reason`` = ``approval`` (a gate),
  ``paused`` (a step failed with ``onFailure: pause``), ``in-doubt`` (a step
  that cannot be repeated was interrupted: a human decides), ``queued`` (its
  target was locked and the runbook queues).

Rules (tested by the crash matrix):

* a completed step is never run again; its outputs come from the store;
* an interrupted attempt of a *repeatable* step (pure, idempotent, keyed) is
  closed as ``interrupted`` and a new attempt with the **same idempotency key**
  runs: a keyed step adopts the object its first attempt created, so a restore
  is never done twice; an interrupted step that cannot be repeated pauses the run;
* ``finally`` steps run once each time the run reaches a terminal state
  (re-armed by a resume), after compensations;
* compensations of succeeded steps run in reverse order on ``onFailure: compensate``;
* the target lock (:mod:`drd.runbooks.engine.locks`) is held from the first
  step until the run is terminal, across approvals, pauses and crashes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from pydantic import ValidationError

from drd import redaction
from drd.errors import DrdError, PermanentError, TemporaryError
from drd.outcomes import Outcome, Phase
from drd.runbooks.engine.actions import Action, ActionResult, StepCall
from drd.runbooks.engine.definition import COMPENSATION_BASE, FINALLY_BASE, RunbookDef, StepDef, compile_runbook
from drd.runbooks.engine.environment import Environment
from drd.runbooks.engine.locks import LockHeld, RunExecuting, RunLocks, Target
from drd.runbooks.spec import catalog, cel
from drd.runbooks.spec.expressions import Context, step_states
from drd.runbooks.spec.models import Runbook
from drd.runbooks.spec.parameters import bind
from drd.runbooks.spec.unknown import Unknown
from drd.store import Store
from drd.store.records import RunRecord, StepRecord

log = structlog.get_logger(__name__)

KIND = "runbook"
"""``drd_runs.kind`` of runbook runs."""
REDACTED = "<redacted>"
"""How secret outputs are stored."""
SUCCEEDED, FAILED, SKIPPED = "Succeeded", "Failed", "Skipped"
STOPPED = ("paused", "in-doubt")
"""Waiting reasons only a human ends."""
_STEP_STATUS = {Phase.COMPLETED: SUCCEEDED, Phase.FAILED: FAILED, Phase.SKIPPED: SKIPPED}


class RunError(PermanentError):
    """A verb that does not apply to the run in its current state (approve a run not waiting…)."""


class Interrupt(BaseException):
    """Raised by a test's crash hook to stop the engine dead at a chosen point, as kill -9 would."""


class RunObserver(Protocol):
    """Where step timings and run outcomes go besides the store (metrics, the canonical log line)."""

    def step_finished(self, runbook: str, step_type: str, seconds: float) -> None: ...

    def run_finished(self, outcome: Outcome) -> None: ...


@dataclass
class _Run:
    """Everything the engine holds in memory while it executes one run."""

    record: RunRecord
    definition: RunbookDef
    params: dict[str, Any]
    target: Target | None
    steps: dict[int, StepRecord]
    """Latest attempt of each step ordinal."""
    secret_outputs: dict[str, dict[str, Any]]
    reached: _Reached | None = None
    """What expressions read of the steps, kept between steps (built on first use)."""

    @property
    def details(self) -> dict[str, Any]:
        return dict(self.record.details)


class Engine:
    """Runs runbooks durably. One instance per process; safe to use from one thread per run."""

    def __init__(
        self,
        *,
        store: Store,
        env: Environment,
        locks: RunLocks,
        actions: Mapping[str, Action],
        observer: RunObserver | None = None,
        executor: str = "drd",
        crash: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.env = env
        self.locks = locks
        self.actions = actions
        self.observer = observer
        self.executor = executor
        self._crash = crash or (lambda _point, _step: None)
        self._executing: set[str] = set()
        self._executing_lock = threading.Lock()
        self._clock = env.clock

    # -- verbs --------------------------------------------------------------------------------

    def submit(
        self,
        runbook: Runbook,
        given: Mapping[str, Any],
        *,
        trigger: str = "manual",
        requested_by: str | None = None,
        kind: str = KIND,
        subject: str | None = None,
        timeout_seconds: float | None = None,
    ) -> RunRecord:
        """Create a run (validated parameters, pinned definition); nothing is executed yet.

        A workflow built on a runbook (a drill) records its runs under its own ``kind`` and
        ``subject`` (the policy), and may give the run a timeout other than the runbook's.
        """
        bound = bind(runbook, given)
        definition = compile_runbook(runbook)
        target = self._target(definition, bound.values, run_id="")
        details: dict[str, Any] = {
            "runbook": runbook.name,
            "digest": runbook.digest,
            "definition": json.dumps(runbook.canonical(), sort_keys=True),  # a string: key redaction must not touch it
            "target": {"cluster": target.cluster, "namespace": target.namespace} if target else None,
            "state": "pending",
        }
        if timeout_seconds is not None:
            details["timeoutSeconds"] = timeout_seconds
        run = self.store.create_run(
            kind=kind,
            subject=subject or runbook.name,
            trigger=trigger,
            parameters=bound.redacted(),
            details=details,
            requested_by=requested_by or self.env.identity,
        )
        self.store.record_event(
            run.id,
            "submitted",
            actor=requested_by or self.env.identity,
            data={"parameters": bound.redacted(), "digest": runbook.digest, "trigger": trigger},
        )
        return run

    def execute(self, run_id: str, *, secrets: Mapping[str, Any] | None = None) -> RunRecord:
        """Drive the run as far as it can go: to a terminal phase, or to a wait (approval, pause, queue).

        Raises :class:`RunExecuting` if another thread of this process (or another live process) executes it.
        """
        with self._executing_lock:
            if run_id in self._executing:
                raise RunExecuting(run_id, f"{self.executor} (another thread)")
            self._executing.add(run_id)
        try:
            return self._execute(run_id, secrets)
        finally:
            with self._executing_lock:
                self._executing.discard(run_id)

    def _execute(self, run_id: str, secrets: Mapping[str, Any] | None) -> RunRecord:
        record = self.store.get_run(run_id)
        if record.phase.terminal:
            return record
        if record.phase is Phase.WAITING and (record.details.get("waiting") or {}).get("reason") in STOPPED:
            return record  # a human resumes it (``drd runbook resume``)
        run = self._load(record, secrets or {})
        if run.target is not None:
            try:
                self.locks.acquire(run.target, run_id, executor=self.executor)
            except LockHeld as held:
                return self._lock_busy(run, held)
        with self._heartbeat(run):
            result = self._drive(run)
        try:
            if result.phase.terminal and run.target is not None:
                self.locks.release(run.target, run_id)
            elif run.target is not None:
                self.locks.stop_executing(run.target, run_id)
        except DrdError as exc:  # a finished run's lease is free anyway; a waiting run keeps it by its holder
            log.warning("runbook_lock_not_updated", run=run_id, error=str(exc))
        return result

    def approve(self, run_id: str, step_id: str, *, actor: str, comment: str = "", approve: bool = True) -> RunRecord:
        """Record a decision at a waiting approval gate; the run continues on its next :meth:`execute`."""
        record = self.store.get_run(run_id)
        waiting = (record.details.get("waiting") or {}) if record.phase is Phase.WAITING else {}
        if waiting.get("reason") != "approval" or waiting.get("step") != step_id:
            where = f"waiting at {waiting.get('step')!r} ({waiting.get('reason')})" if waiting else record.phase.value
            raise RunError(f"run {run_id} is not waiting for an approval of step {step_id!r}: it is {where}")
        if approve and actor == record.requested_by and not waiting.get("allowSelfApproval", False):
            raise RunError(f"{actor} started run {run_id} and cannot approve it: another person must")
        verb = "approved" if approve else "rejected"
        self.store.record_event(run_id, verb, actor=actor, data={"step": step_id, "comment": comment})
        log.info("runbook_step_decided", run=run_id, step=step_id, actor=actor, decision=verb)
        return self.store.get_run(run_id)

    def cancel(self, run_id: str, *, actor: str, reason: str, compensate: bool = False) -> RunRecord:
        """Stop a run that has not finished (audited): optionally undo what succeeded, then ``finally``.

        The run continues to its end on the next :meth:`execute` (compensations, ``finally``, the
        lock released) and ends Failed with the reason; a paused run holds its lock until then.
        """
        record = self.store.get_run(run_id)
        if record.phase.terminal:
            raise RunError(f"run {run_id} is {record.phase.value}: there is nothing to cancel")
        self._refuse_if_executing(record)
        for attempt in self._latest(run_id).values():
            if attempt.finished_at is None:  # a gate, or an attempt a dead process left: the person decided
                self.store.finish_step(attempt.id, phase=Phase.FAILED, error_class="cancelled", error_message=reason)
        details = dict(record.details)
        details.pop("waiting", None)
        details["failure"] = {"step": None, "message": f"cancelled by {actor}: {reason}"}
        details["result"] = Phase.FAILED.value
        details["state"] = "compensating" if compensate else "finalizing"
        details["epoch"] = self._clock.now().isoformat()
        self.store.update_run(run_id, phase=Phase.IN_PROGRESS, details=details)
        self.store.record_event(run_id, "cancelled", actor=actor, data={"reason": reason, "compensate": compensate})
        return self.store.get_run(run_id)

    def resume(
        self,
        run_id: str,
        *,
        actor: str,
        mark_succeeded: str | None = None,
        skip: str | None = None,
        reason: str = "",
    ) -> RunRecord:
        """Make a paused, in-doubt or failed run runnable again (audited); then call :meth:`execute`.

        ``mark_succeeded`` / ``skip`` name the step a human vouches for (it happened / it must
        not run); otherwise the step that stopped the run gets a new attempt.
        """
        record = self.store.get_run(run_id)
        if record.phase not in (Phase.WAITING, Phase.FAILED, Phase.IN_PROGRESS, Phase.PARTIALLY_FAILED):
            raise RunError(f"run {run_id} is {record.phase.value}: only paused, in-doubt or failed runs resume")
        waiting = record.details.get("waiting") or {}
        if record.phase is Phase.WAITING and waiting.get("reason") == "approval":
            raise RunError(f"run {run_id} waits for an approval of {waiting.get('step')!r}: approve or reject it")
        definition = self._definition(record)
        self._refuse_if_executing(record)
        epoch = self._clock.now()
        chosen = mark_succeeded or skip
        if chosen is not None:
            step = next((s for s in (*definition.steps, *definition.finally_steps) if s.id == chosen), None)
            if step is None:
                raise RunError(f"runbook {definition.name} has no step {chosen!r}")
            latest = self._latest(run_id).get(step.ordinal)
            if latest is not None and latest.finished_at is None:
                self.store.finish_step(latest.id, phase=Phase.FAILED, error_class="interrupted", error_message=reason)
            attempt = self.store.start_step(run_id, ordinal=step.ordinal, name=step.id, type=step.kind)
            phase = Phase.COMPLETED if mark_succeeded else Phase.SKIPPED
            self.store.finish_step(attempt.id, phase=phase, outputs={}, error_message=reason or None)
        details = dict(record.details)
        interrupted_in = waiting.get("state")
        details.pop("waiting", None)
        if interrupted_in in ("finalizing", "compensating"):
            details["state"] = interrupted_in  # carry on where it stopped; the run's result stands
        else:
            details.pop("failure", None)
            details["state"] = "running"
        details["epoch"] = epoch.isoformat()
        verb = "marked-succeeded" if mark_succeeded else "skipped" if skip else "resumed"
        self.store.update_run(run_id, phase=Phase.IN_PROGRESS, details=details)
        self.store.record_event(
            run_id, verb, actor=actor, data={"step": chosen, "reason": reason, "from": record.phase.value}
        )
        return self.store.get_run(run_id)

    def _refuse_if_executing(self, record: RunRecord) -> None:
        """A verb that changes a run waits until no other live process executes it (nothing is recorded)."""
        target = record.details.get("target")
        if not target:
            return
        state = self.locks.state(Target(target["cluster"], target.get("namespace")))
        foreign = state.holder == record.id and state.executor not in (None, self.executor)
        if foreign and state.executor_alive(self._clock.now()):
            raise RunExecuting(record.id, state.executor or "", until=state.expires)

    # -- the state machine --------------------------------------------------------------------------

    def _drive(self, run: _Run) -> RunRecord:
        details = run.details
        if run.record.phase is Phase.PENDING or details.get("state") in ("pending", "queued"):
            self._set(run, Phase.IN_PROGRESS, state="running", waiting=None)
            self._event(run, "started", {"executor": self.executor})
        noncritical: list[str] = list(details.get("noncriticalFailures") or [])
        if details.get("state") == "compensating":
            self._compensate(run)
        if details.get("state") in ("compensating", "finalizing"):
            return self._finish(run, Phase(details.get("result", Phase.FAILED.value)), noncritical)
        for step in run.definition.steps:
            status = self._run_step(run, step)
            if status == "waiting":
                return run.record
            if status == FAILED:
                if not step.critical:
                    noncritical.append(step.id)
                    continue
                if step.on_failure == "pause":
                    return self._wait(run, "paused", step)
                if step.on_failure == "compensate":
                    self._compensate(run)
                return self._finish(run, Phase.FAILED, noncritical, failed_step=step)
            if self._out_of_time(run):
                self._fail_run(run, step, "the run's timeout passed")
                return self._finish(run, Phase.FAILED, noncritical, failed_step=step)
        return self._finish(run, Phase.PARTIALLY_FAILED if noncritical else Phase.COMPLETED, noncritical)

    def _run_step(self, run: _Run, step: StepDef) -> str:
        """Take one step to a final status (Succeeded, Failed, Skipped) or ``waiting``."""
        latest = run.steps.get(step.ordinal)
        if latest is not None and latest.finished_at is not None and latest.phase in (Phase.COMPLETED, Phase.SKIPPED):
            if latest.started_at >= self._epoch(run) or step.ordinal < FINALLY_BASE:
                return _STEP_STATUS[latest.phase]
            latest = None  # a finally step of an earlier epoch: it runs again after a resume
        context = self._context(run)
        fresh = latest is None or latest.finished_at is not None
        if fresh and step.when is not None:
            guard = step.when.render(context)
            if not guard or isinstance(guard, Unknown):
                attempt = self.store.start_step(run.record.id, ordinal=step.ordinal, name=step.id, type=step.kind)
                self._close(run, attempt, Phase.SKIPPED, message="when: false")
                return SKIPPED
        if step.kind == "approval":
            return self._gate(run, step, latest)
        if latest is not None and latest.finished_at is None:
            if not step.repeatable:
                self._wait(run, "in-doubt", step)
                return "waiting"
            self._close(run, latest, Phase.FAILED, error_class="interrupted", message="interrupted (drd stopped)")
        return self._attempts_of(run, step, context)

    def _attempts_of(self, run: _Run, step: StepDef, context: Context) -> str:
        """Run attempts of a step until one succeeds, a permanent error, or the attempts run out."""
        while True:
            attempt_number = self._attempts(run, step) + 1
            try:
                inputs = catalog.step_type(step.kind).parse_inputs(step.with_.render(context))
            except (ValidationError, DrdError) as exc:
                attempt = self._start(run, step, {})
                self._close(run, attempt, Phase.FAILED, error_class="invalid-inputs", message=_message(exc))
                return FAILED
            attempt = self._start(run, step, _redacted_inputs(inputs))
            self._crash("after-start", step.id)
            started = self._clock.monotonic()
            try:
                result = self._action(step).execute(self._call(run, step, inputs))
            except TemporaryError as exc:
                self._close(run, attempt, Phase.FAILED, error_class="temporary", message=_message(exc))
                if attempt_number >= step.max_attempts or self._out_of_time(run):
                    return FAILED
                self._clock.sleep(step.backoff.delay(attempt_number))
                continue
            except DrdError as exc:
                self._close(run, attempt, Phase.FAILED, error_class="permanent", message=_message(exc))
                return FAILED
            except Exception as exc:
                log.exception("runbook_step_crashed", run=run.record.id, step=step.id)
                self._close(run, attempt, Phase.FAILED, error_class="bug", message=f"{type(exc).__name__}: {exc}")
                return FAILED
            self._crash("after-effect", step.id)
            outputs = self._persistable(run, step, result)
            if result.failure is not None:  # ran to the end, found a problem: Failed, with its findings kept
                self._close(run, attempt, Phase.FAILED, outputs=outputs, error_class="verdict", message=result.failure)
                return FAILED
            self._close(run, attempt, Phase.COMPLETED, outputs=outputs)
            if self.observer is not None:
                self.observer.step_finished(run.definition.name, step.kind, self._clock.monotonic() - started)
            self._crash("after-finish", step.id)
            return SUCCEEDED

    def _gate(self, run: _Run, step: StepDef, latest: StepRecord | None) -> str:
        """An approval step: wait until a decision is recorded (or its deadline passes)."""
        if latest is None or latest.finished_at is not None:
            inputs = catalog.step_type(step.kind).parse_inputs(step.with_.render(self._context(run)))
            given = getattr(inputs, "timeout", None)
            timeout = given.total_seconds() if given is not None else step.timeout_seconds
            latest = self.store.start_step(
                run.record.id,
                ordinal=step.ordinal,
                name=step.id,
                type=step.kind,
                inputs=_redacted_inputs(inputs),
                phase=Phase.WAITING,
                deadline_at=self._clock.now() + timedelta(seconds=timeout),
            )
            run.steps[step.ordinal] = latest
            self._event(run, "approval-requested", {"step": step.id, "message": getattr(inputs, "message", "")})
        decision = self._decision(run.record.id, step.id, since=latest.started_at)
        if decision is not None:
            verb, actor, comment = decision
            if verb == "approved":
                self._close(run, latest, Phase.COMPLETED, outputs={"approvedBy": actor, "comment": comment})
                return SUCCEEDED
            self._close(run, latest, Phase.FAILED, error_class="rejected", message=f"rejected by {actor}: {comment}")
            return FAILED
        if latest.deadline_at is not None and self._clock.now() >= latest.deadline_at:
            self._close(run, latest, Phase.FAILED, error_class="timeout", message="no decision before the deadline")
            return FAILED
        self._wait(run, "approval", step)
        return "waiting"

    def _compensate(self, run: _Run) -> None:
        """Undo what succeeded, newest first; stops at the first compensation that fails."""
        self._set(run, Phase.IN_PROGRESS, state="compensating")
        done = [
            s
            for s in run.definition.steps
            if s.compensate is not None
            and (r := run.steps.get(s.ordinal)) is not None
            and r.phase is Phase.COMPLETED
            and r.finished_at is not None
        ]
        for step in reversed(done):
            assert step.compensate is not None
            if self._run_step(run, step.compensate) == FAILED:
                self._event(run, "compensation-failed", {"step": step.compensate.id})
                return

    def _finish(
        self, run: _Run, phase: Phase, noncritical: list[str], *, failed_step: StepDef | None = None
    ) -> RunRecord:
        """Run ``finally`` (once per epoch), render outputs, record the terminal phase and the outcome."""
        extra: dict[str, Any] = {"result": phase.value, "noncriticalFailures": noncritical}
        if failed_step is not None and "failure" not in run.details:
            latest = run.steps.get(failed_step.ordinal)
            extra["failure"] = {"step": failed_step.id, "message": latest.error_message if latest else None}
        self._set(run, Phase.IN_PROGRESS, state="finalizing", **extra)
        final_failures = []
        for step in run.definition.finally_steps:
            status = self._run_step(run, step)
            if status == "waiting":
                return run.record
            if status == FAILED:
                final_failures.append(step.id)
        if final_failures and phase is Phase.COMPLETED:
            phase = Phase.PARTIALLY_FAILED
        outputs = self._outputs(run) if phase in (Phase.COMPLETED, Phase.PARTIALLY_FAILED) else {}
        self._set(run, phase, state="finished", outputs=outputs, finallyFailures=final_failures, result=phase.value)
        self._event(run, "finished", {"phase": phase.value})
        outcome = Outcome(
            kind=run.record.kind,
            subject=run.record.subject,
            phase=phase,
            started=run.record.started_at or run.record.created_at,
            finished=run.record.finished_at or self._clock.now(),
            details={"run": run.record.id, "failure": run.details.get("failure")},
        )
        log.info("runbook_run_finished", run=run.record.id, runbook=run.definition.name, phase=phase.value)
        if self.observer is not None:
            self.observer.run_finished(outcome)
        return run.record

    # -- helpers ------------------------------------------------------------------------------

    def _load(self, record: RunRecord, secrets: Mapping[str, Any]) -> _Run:
        runbook = pinned_runbook(record)  # read once: a long runbook takes milliseconds to validate
        definition = self._definition(record, runbook)
        params = self._params(record, secrets, runbook)
        target_doc = record.details.get("target")
        target = Target(target_doc["cluster"], target_doc.get("namespace")) if target_doc else None
        return _Run(record, definition, params, target, self._latest(record.id), {})

    def _definition(self, record: RunRecord, runbook: Runbook | None = None) -> RunbookDef:
        runbook = pinned_runbook(record) if runbook is None else runbook
        if runbook.digest != record.details.get("digest"):
            raise RunError(f"run {record.id}: its pinned runbook does not match its digest: the store was edited")
        return compile_runbook(runbook)

    def _params(self, record: RunRecord, secrets: Mapping[str, Any], runbook: Runbook) -> dict[str, Any]:
        secret = secret_parameters(runbook)
        given = {k: v for k, v in record.parameters.items() if k not in secret}
        missing = [k for k in secret if record.parameters.get(k) is not None and k not in secrets]
        if missing:
            raise RunError(
                f"run {record.id} needs its secret parameters again (they are never stored): "
                + ", ".join(f"-p {name}=…" for name in missing)
            )
        values = dict(bind(runbook, {**given, **{k: v for k, v in secrets.items() if k in secret}}).values)
        for name in secret:
            if isinstance(values.get(name), str):
                redaction.register_secret(values[name])
        return values

    def _target(self, definition: RunbookDef, params: Mapping[str, Any], *, run_id: str) -> Target | None:
        if definition.target_cluster is None:
            return None
        context = Context(params=params, run={"id": run_id})
        cluster = definition.target_cluster.render(context)
        namespace = definition.target_namespace.render(context) if definition.target_namespace else None
        return Target(str(cluster), str(namespace) if namespace else None)

    def _latest(self, run_id: str) -> dict[int, StepRecord]:
        latest: dict[int, StepRecord] = {}
        for step in self.store.steps(run_id):
            latest[step.ordinal] = step
        return latest

    def _attempts(self, run: _Run, step: StepDef) -> int:
        latest = run.steps.get(step.ordinal)
        return latest.attempt if latest is not None else 0

    def _context(self, run: _Run) -> Context:
        if run.reached is None:
            run.reached = _Reached(run.definition, run.params)
        steps, converted = run.reached.contents(run.steps, run.secret_outputs)
        target = run.target
        return Context(
            params=run.params,
            steps=steps,
            run={
                "id": run.record.id,
                "trigger": run.record.trigger,
                "requestedBy": run.record.requested_by or "",
                "startedAt": run.record.started_at or run.record.created_at,
            },
            target={"cluster": target.cluster, "namespace": target.namespace} if target else {},
            _cel=converted,  # what the context would convert again for every step
        )

    def _call(self, run: _Run, step: StepDef, inputs: Any) -> StepCall:
        remaining = self._remaining(run)
        timeout = step.timeout_seconds if remaining is None else max(1.0, min(step.timeout_seconds, remaining))
        return StepCall(
            run_id=run.record.id, step_id=step.id, inputs=inputs, key=step_key(run.record.id, step.id),
            timeout_seconds=timeout, env=self.env,
        )  # fmt: skip

    def _action(self, step: StepDef) -> Action:
        try:
            return self.actions[step.kind]
        except KeyError:
            raise PermanentError(f"step type {step.kind!r} has no implementation in this drd") from None

    def _start(self, run: _Run, step: StepDef, inputs: Mapping[str, Any]) -> StepRecord:
        record = self.store.start_step(
            run.record.id,
            ordinal=step.ordinal,
            name=step.id,
            type=step.kind,
            inputs=inputs,
            idempotency_key=step_key(run.record.id, step.id) if step.idempotency == "keyed" else None,
        )
        run.steps[step.ordinal] = record
        return record

    def _close(
        self,
        run: _Run,
        attempt: StepRecord,
        phase: Phase,
        *,
        outputs: Mapping[str, Any] | None = None,
        error_class: str | None = None,
        message: str | None = None,
    ) -> None:
        record = self.store.finish_step(
            attempt.id,
            phase=phase,
            outputs=outputs,
            error_class=error_class,
            error_message=redaction.redact(message) if message else None,
        )
        run.steps[attempt.ordinal] = record
        if phase is Phase.FAILED:
            log.warning(
                "runbook_step_failed", run=run.record.id, step=attempt.name, attempt=attempt.attempt, error=message
            )

    def _persistable(self, run: _Run, step: StepDef, result: ActionResult) -> dict[str, Any]:
        """Outputs as stored: secret ones masked (kept in memory for later steps of this process)."""
        outputs = dict(result.outputs)
        if result.secret:
            run.secret_outputs[step.id] = {k: outputs[k] for k in result.secret if k in outputs}
            for key in result.secret:
                value = outputs.get(key)
                if isinstance(value, str):
                    redaction.register_secret(value)
                outputs[key] = REDACTED
        return outputs

    def _wait(self, run: _Run, reason: str, step: StepDef) -> RunRecord:
        waiting = {
            "reason": reason,
            "step": step.id,
            "since": self._clock.now().isoformat(),
            "state": run.details.get("state", "running"),
        }
        self._set(run, Phase.WAITING, state=reason, waiting=waiting)
        self._event(run, f"waiting-{reason}", {"step": step.id})
        log.info("runbook_run_waiting", run=run.record.id, reason=reason, step=step.id)
        return run.record

    def _lock_busy(self, run: _Run, held: LockHeld) -> RunRecord:
        policy = run.definition.on_conflict
        if policy == "queue":
            if run.record.phase is not Phase.WAITING:
                self._set(run, Phase.WAITING, state="queued", waiting={"reason": "queued", "holder": held.holder})
                self._event(run, "queued", {"holder": held.holder})
            return run.record
        phase = Phase.SKIPPED if policy == "skip" else Phase.FAILED
        self._set(run, phase, state="finished", failure={"step": None, "message": str(held)}, result=phase.value)
        self._event(run, "lock-conflict", {"holder": held.holder, "policy": policy})
        if phase is Phase.FAILED:
            raise held
        return run.record

    def _fail_run(self, run: _Run, step: StepDef, message: str) -> None:
        details = run.details
        details["failure"] = {"step": step.id, "message": message}
        run.record = self.store.update_run(run.record.id, details=details)

    def _set(self, run: _Run, phase: Phase, **changes: Any) -> None:
        details = run.details
        for key, value in changes.items():
            if value is None:
                details.pop(key, None)
            else:
                details[key] = value
        run.record = self.store.update_run(run.record.id, phase=phase, details=details)

    def _event(self, run: _Run, event: str, data: Mapping[str, Any]) -> None:
        self.store.record_event(run.record.id, event, actor=self.executor, data=redaction.redact(dict(data)))

    def _decision(self, run_id: str, step_id: str, *, since: datetime) -> tuple[str, str, str] | None:
        for event in reversed(self.store.events(run_id)):
            if event.event in ("approved", "rejected") and event.data.get("step") == step_id and event.at >= since:
                return event.event, event.actor, str(event.data.get("comment") or "")
        return None

    def _epoch(self, run: _Run) -> datetime:
        epoch = run.details.get("epoch")
        return datetime.fromisoformat(epoch) if epoch else run.record.created_at

    def _remaining(self, run: _Run) -> float | None:
        limit = run.record.details.get("timeoutSeconds", run.definition.timeout_seconds)
        if limit is None:
            return None
        started = run.record.started_at or run.record.created_at
        return float(limit) - (self._clock.now() - started).total_seconds()

    def _out_of_time(self, run: _Run) -> bool:
        remaining = self._remaining(run)
        return remaining is not None and remaining <= 0

    def _outputs(self, run: _Run) -> dict[str, Any]:
        context = self._context(run)
        rendered: dict[str, Any] = {}
        for name, template in run.definition.outputs.items():
            try:
                rendered[name] = template.render(context)
            except DrdError as exc:
                rendered[name] = f"<error: {_message(exc)}>"
        result: dict[str, Any] = redaction.redact(rendered)
        return result

    @contextmanager
    def _heartbeat(self, run: _Run) -> Iterator[None]:
        """Renew the executor heartbeat of the run's lock while this process executes it."""
        if run.target is None:
            yield
            return
        stop = threading.Event()
        target = run.target
        period = max(1.0, self.locks.duration_seconds / 3)

        def beat() -> None:
            while not stop.wait(period):
                try:
                    self.locks.heartbeat(target, run.record.id, executor=self.executor)
                except DrdError as exc:
                    log.warning("runbook_lock_heartbeat_failed", run=run.record.id, error=str(exc))

        thread = threading.Thread(target=beat, name=f"lock-{run.record.id[-6:]}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)


_NOT_CONVERTED = object()
"""A value :func:`cel.to_cel` refused: left to the context, which reports it if an expression reads it."""
_CEL_MAP = type(cel.to_cel({}))
"""CEL's map type (:mod:`drd.runbooks.spec.cel` is the only module that imports celpy)."""


def _to_cel(value: Any) -> Any:
    """``value`` as a CEL value, or ``_NOT_CONVERTED``."""
    try:
        return cel.to_cel(value)
    except cel.CelEvalError:
        return _NOT_CONVERTED


@dataclass(frozen=True, slots=True)
class _StepView:
    """``steps['<id>']`` as expressions read it, for one attempt record."""

    record: StepRecord
    secret: Mapping[str, Any] | None
    """The step's secret outputs held in memory when the view was made."""
    state: dict[str, Any]
    """``{"outputs": …, "status": …}``."""
    cel: Any
    """``state`` as a CEL value (or ``_NOT_CONVERTED``)."""

    @classmethod
    def of(cls, record: StepRecord, secret: Mapping[str, Any] | None) -> _StepView:
        status = _STEP_STATUS.get(record.phase, FAILED)
        outputs = {**record.outputs, **(secret or {})} if status == SUCCEEDED else {}
        state = {"outputs": outputs, "status": status}
        return cls(record, secret, state, _to_cel(state))


class _Reached:
    """The ``steps`` and ``params`` of a run's contexts, kept between its steps.

    A step's view is made, and converted to CEL, once per attempt record, and ``steps`` is
    copied and patched where a step changed, instead of being rebuilt and converted whole for
    every step (which made the overhead per step grow with the runbook's length). Mappings
    handed to a context are never changed afterwards; the CEL values equal what converting
    the plain ones gives; a value that does not convert is left for the context to report.
    """

    def __init__(self, definition: RunbookDef, params: Mapping[str, Any]) -> None:
        everything = (*definition.steps, *definition.finally_steps)
        self._slots = tuple((step.id, step.ordinal) for step in everything)
        ids = tuple(step.id for step in everything)
        self._params = _to_cel(params)
        self._views: dict[str, _StepView] = {}
        self._steps: dict[str, Any] = step_states(ids, {})
        self._not_run = _to_cel(step_states(("-",), {})["-"])  # a step not reached: NotRun, no outputs
        steps_cel = _to_cel(self._steps)
        self._steps_cel = None if steps_cel is _NOT_CONVERTED else steps_cel
        self._keys = {step_id: cel.to_cel(step_id) for step_id in ids}
        self._unconverted: set[str] = set()
        """Steps whose state does not convert to CEL."""

    def contents(
        self, records: Mapping[int, StepRecord], secret_outputs: Mapping[str, Mapping[str, Any]]
    ) -> tuple[Mapping[str, Any], dict[str, Any]]:
        """``steps`` as a context holds it, and the CEL values of ``params`` and ``steps`` that converted."""
        changed: list[tuple[str, _StepView | None]] = []
        for step_id, ordinal in self._slots:
            record = records.get(ordinal)
            view = self._views.get(step_id)
            if record is None or record.finished_at is None:
                if view is not None:
                    changed.append((step_id, None))  # it runs again: not reached any more
                continue
            secret = secret_outputs.get(step_id)
            if view is None or view.record is not record or view.secret is not secret:
                changed.append((step_id, _StepView.of(record, secret)))
        if changed:
            self._apply(changed)
        converted: dict[str, Any] = {}
        if self._params is not _NOT_CONVERTED:
            converted["params"] = self._params
        if self._steps_cel is not None and not self._unconverted:
            converted["steps"] = self._steps_cel
        return self._steps, converted

    def _apply(self, changed: list[tuple[str, _StepView | None]]) -> None:
        steps = dict(self._steps)  # copies: what earlier contexts hold stays as it was
        steps_cel = None
        if self._steps_cel is not None:
            steps_cel = _CEL_MAP()
            steps_cel.update(self._steps_cel)
        for step_id, view in changed:
            self._unconverted.discard(step_id)
            if view is None:
                del self._views[step_id]
                steps[step_id] = step_states((step_id,), {})[step_id]
                value = self._not_run
            else:
                self._views[step_id] = view
                steps[step_id] = view.state
                value = view.cel
                if value is _NOT_CONVERTED:
                    self._unconverted.add(step_id)
            if steps_cel is not None:
                steps_cel[self._keys[step_id]] = value
        self._steps, self._steps_cel = steps, steps_cel


def pinned_runbook(record: RunRecord) -> Runbook:
    """The runbook a run was started with, as pinned in its record."""
    try:
        return Runbook.model_validate(json.loads(record.details["definition"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"run {record.id}: its pinned runbook cannot be read: {exc}") from None


def secret_parameters(runbook: Runbook) -> frozenset[str]:
    """Names of the runbook's secret parameters (never stored; supplied again on every execution)."""
    return frozenset(name for name, parameter in runbook.spec.parameters.items() if parameter.secret)


def step_key(run_id: str, step_id: str) -> str:
    """The idempotency key of a step of a run: a valid Kubernetes object name, stable across attempts."""
    return f"drd-{run_id[-10:].lower()}-{step_id}".replace(".", "-")[:63]


def _message(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return str(exc)


def _redacted_inputs(inputs: Any) -> dict[str, Any]:
    dumped = inputs.model_dump(mode="json", by_alias=True) if hasattr(inputs, "model_dump") else dict(inputs)
    redacted: dict[str, Any] = redaction.redact(dumped)
    return redacted


__all__ = ["COMPENSATION_BASE", "Engine", "Interrupt", "RunError", "RunObserver", "step_key"]
