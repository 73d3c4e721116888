"""Dry runs: what a run would do, step by step, with nothing changed.

The engine, not each action, guarantees that a dry run never calls a mutating
``execute``: read-only (``pure``) steps really run, so their outputs are real
and later ``when`` guards resolve; every other step is asked for its
:meth:`~drd.runbooks.engine.actions.Action.plan` and its outputs become
:class:`~drd.runbooks.spec.unknown.Unknown`, so steps that read them say
"depends on unknown" instead of failing. Approvals are listed, not waited for.
Nothing is written to the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drd.errors import DrdError, PermanentError
from drd.runbooks.engine.actions import Action, PlannedStep, StepCall
from drd.runbooks.engine.definition import RunbookDef, StepDef, compile_runbook
from drd.runbooks.engine.environment import Environment
from drd.runbooks.engine.locks import LockState, RunLocks, Target
from drd.runbooks.engine.runner import step_key
from drd.runbooks.spec import catalog
from drd.runbooks.spec.expressions import step_states
from drd.runbooks.spec.models import Runbook
from drd.runbooks.spec.parameters import bind
from drd.runbooks.spec.unknown import Unknown, combine, unknowns

PLAN_RUN_ID = "00000000000000000000DRYRUN"


@dataclass(frozen=True)
class PlanEntry:
    """One line of a plan."""

    id: str
    type: str
    fidelity: str
    """``executed``, ``simulated``, ``gate``, ``skipped``, ``unverified`` (depends on unknown), ``error``."""
    summary: str
    changes: tuple[str, ...] = ()
    final: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "fidelity": self.fidelity,
            "summary": self.summary,
            "changes": list(self.changes),
            "finally": self.final,
        }


@dataclass(frozen=True)
class RunPlan:
    """The whole plan of a would-be run."""

    runbook: str
    digest: str
    parameters: Mapping[str, Any]
    target: Target | None
    lock: LockState | None
    entries: tuple[PlanEntry, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "runbook": self.runbook,
            "digest": self.digest,
            "parameters": dict(self.parameters),
            "target": self.target.key if self.target else None,
            "lock": (self.lock.holder or "free") if self.lock else None,
            "steps": [entry.to_json() for entry in self.entries],
        }


def plan(
    runbook: Runbook,
    given: Mapping[str, Any],
    *,
    env: Environment,
    actions: Mapping[str, Action],
    locks: RunLocks | None = None,
) -> RunPlan:
    """The plan of running ``runbook`` with ``given`` parameters now."""
    bound = bind(runbook, given)
    definition = compile_runbook(runbook)
    context: dict[str, Any] = {
        "params": dict(bound.values),
        "steps": step_states((s.id for s in (*definition.steps, *definition.finally_steps)), {}),
        "run": {"id": PLAN_RUN_ID, "trigger": "dry-run", "requestedBy": env.identity, "startedAt": env.clock.now()},
        "target": {},
    }
    target = _target(definition, context)
    if target is not None:
        context["target"] = {"cluster": target.cluster, "namespace": target.namespace}
    lock = _lock(locks, target)
    entries = [
        *(_plan_step(step, context, env, actions) for step in definition.steps),
        *(_plan_step(step, context, env, actions, final=True) for step in definition.finally_steps),
    ]
    return RunPlan(runbook.name, runbook.digest, bound.redacted(), target, lock, tuple(entries))


def _plan_step(
    step: StepDef, context: dict[str, Any], env: Environment, actions: Mapping[str, Action], *, final: bool = False
) -> PlanEntry:
    unknown_outputs = {"outputs": Unknown(f"steps.{step.id}.outputs"), "status": Unknown(f"steps.{step.id}.status")}
    entry = _entry(step, context, env, actions, final)
    if entry.fidelity != "executed":
        context["steps"][step.id] = unknown_outputs
    return entry


def _entry(
    step: StepDef, context: dict[str, Any], env: Environment, actions: Mapping[str, Action], final: bool
) -> PlanEntry:
    def entry(fidelity: str, summary: str, changes: tuple[str, ...] = ()) -> PlanEntry:
        return PlanEntry(step.id, step.kind, fidelity, summary, changes, final)

    if step.when is not None:
        guard = step.when.render(context)
        if isinstance(guard, Unknown):
            return entry("unverified", f"runs only if its condition holds; depends on unknown: {guard.description}")
        if not guard:
            context["steps"][step.id] = {"outputs": {}, "status": "Skipped"}
            return entry("skipped", "when: false")
    rendered = step.with_.render(context)
    found = list(unknowns(rendered))
    if found:
        return entry("unverified", f"depends on unknown: {combine(found).description}")
    try:
        inputs = catalog.step_type(step.kind).parse_inputs(rendered)
        planned = _ask(step, inputs, context, env, actions)
    except DrdError as exc:
        return entry("error", str(exc))
    return entry(planned.fidelity, planned.summary, planned.changes)


def _ask(
    step: StepDef, inputs: Any, context: dict[str, Any], env: Environment, actions: Mapping[str, Action]
) -> PlannedStep:
    """Run a read-only step for real; ask any other for its plan (the engine's dry-run guarantee)."""
    if step.kind == "approval":
        return PlannedStep("gate", f"would wait for an approval: {getattr(inputs, 'message', '')}")
    action = actions.get(step.kind)
    if action is None:
        raise PermanentError(f"no implementation of {step.kind}")
    call = StepCall(PLAN_RUN_ID, step.id, inputs, step_key(PLAN_RUN_ID, step.id), step.timeout_seconds, env)
    if step.idempotency == "pure" and not step.mutating:
        result = action.execute(call)
        context["steps"][step.id] = {"outputs": dict(result.outputs), "status": "Succeeded"}
        return PlannedStep("executed", _brief(result.outputs))
    return action.plan(call)


def _target(definition: RunbookDef, context: dict[str, Any]) -> Target | None:
    if definition.target_cluster is None:
        return None
    cluster = definition.target_cluster.render(context)
    namespace = definition.target_namespace.render(context) if definition.target_namespace else None
    return Target(str(cluster), str(namespace) if namespace else None)


def _lock(locks: RunLocks | None, target: Target | None) -> LockState | None:
    if locks is None or target is None:
        return None
    try:
        return locks.state(target)
    except DrdError:
        return None


def _brief(outputs: Mapping[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in outputs.items() if isinstance(v, str | int | float | bool)]
    return " ".join(parts)[:200] or "ok"
