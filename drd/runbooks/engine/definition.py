"""A runbook as the engine executes it: flat, compiled step definitions with every default applied.

The engine never reads the YAML model's optional fields itself: :func:`compile_runbook`
resolves the step type of each step from the catalogue, the effective timeout,
attempts, backoff, failure policy and criticality, and gives each step a stable
*ordinal* — the key of its attempts in the store:

* main steps: ``0 … n-1`` in document order;
* ``finally`` steps: ``1000 + i``;
* the compensation of main step ``i``: ``2000 + i``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from drd.runbooks.spec import catalog
from drd.runbooks.spec.expressions import Template
from drd.runbooks.spec.models import Action, Retry, Runbook, Step

FINALLY_BASE = 1000
COMPENSATION_BASE = 2000


@dataclass(frozen=True)
class Backoff:
    """Delay before attempt ``n + 1``: ``initial * factor ** (n - 1)``, at most ``maximum``."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        return float(min(self.maximum, self.initial * self.factor ** max(0, attempt - 1)))


@dataclass(frozen=True)
class StepDef:
    """One step, ready to run."""

    ordinal: int
    id: str
    kind: str
    """The step type (``velero.restore``)."""
    inputs_model: type[BaseModel]
    with_: Template
    when: Template | None
    timeout_seconds: float
    max_attempts: int
    backoff: Backoff
    on_failure: str
    """``fail``, ``continue``, ``pause`` or ``compensate``."""
    critical: bool
    idempotency: str
    """``pure``, ``idempotent``, ``keyed`` or ``none`` (from the step type)."""
    mutating: bool
    compensate: StepDef | None = None

    @property
    def repeatable(self) -> bool:
        """Whether running it again after an interruption is safe (it adopts or re-does harmlessly)."""
        return self.idempotency in ("pure", "idempotent", "keyed")


@dataclass(frozen=True)
class RunbookDef:
    """A whole runbook, ready to run."""

    name: str
    digest: str
    steps: tuple[StepDef, ...]
    finally_steps: tuple[StepDef, ...]
    target_cluster: Template | None
    target_namespace: Template | None
    on_conflict: str
    timeout_seconds: float | None
    outputs: Mapping[str, Template]

    def step(self, ordinal: int) -> StepDef:
        """The step (main, finally or compensation) with that ordinal."""
        for step in (*self.steps, *self.finally_steps):
            if step.ordinal == ordinal:
                return step
            if step.compensate is not None and step.compensate.ordinal == ordinal:
                return step.compensate
        raise KeyError(ordinal)


def compile_runbook(runbook: Runbook) -> RunbookDef:
    """Flatten a validated runbook into what the engine runs."""
    spec = runbook.spec
    default_on_failure = str(spec.on_failure)
    steps = tuple(_step(step, index, default_on_failure) for index, step in enumerate(spec.steps))
    finals = tuple(
        _step(step, FINALLY_BASE + index, "continue", default_critical=False)
        for index, step in enumerate(spec.finally_)
    )
    target = spec.target
    return RunbookDef(
        name=runbook.name,
        digest=runbook.digest,
        steps=steps,
        finally_steps=finals,
        target_cluster=target.cluster if target is not None else None,
        target_namespace=target.namespace if target is not None else None,
        on_conflict=str(spec.concurrency.on_conflict),
        timeout_seconds=spec.timeout.total_seconds(),
        outputs=dict(spec.outputs),
    )


def _step(step: Step, ordinal: int, default_on_failure: str, *, default_critical: bool = True) -> StepDef:
    on_failure = str(step.on_failure) if step.on_failure is not None else default_on_failure
    critical = step.critical if step.critical is not None else (default_critical and on_failure != "continue")
    compensation = None
    if step.compensate is not None and ordinal < FINALLY_BASE:
        ids = (step.compensation_id, COMPENSATION_BASE + ordinal)
        compensation = _action(step.compensate, ids, on_failure="fail", critical=True, compensation=None)
    return _action(step, (step.id, ordinal), on_failure=on_failure, critical=critical, compensation=compensation)


def _action(
    action: Action, ids: tuple[str, int], *, on_failure: str, critical: bool, compensation: StepDef | None
) -> StepDef:
    step_id, ordinal = ids
    kind = catalog.step_type(action.type)
    retry = action.retry
    return StepDef(
        ordinal=ordinal,
        id=step_id,
        kind=action.type,
        inputs_model=kind.inputs,
        with_=action.with_,
        when=action.when,
        timeout_seconds=action.timeout.total_seconds() if action.timeout is not None else float(kind.default_timeout),
        max_attempts=retry.max_attempts if retry is not None else kind.default_attempts,
        backoff=_backoff(retry),
        on_failure=on_failure,
        critical=critical,
        idempotency=kind.idempotency,
        mutating=kind.mutating,
        compensate=compensation,
    )


def _backoff(retry: Retry | None) -> Backoff:
    if retry is None:
        return Backoff()
    b = retry.backoff
    return Backoff(initial=b.initial.total_seconds(), factor=float(b.factor), maximum=b.max.total_seconds())
