"""What the engine needs of a step type's implementation: execute it, plan it, and nothing else.

An :class:`Action` is the code behind one step type of the catalogue
(``velero.restore``, ``k8s.waitReady``…). It receives a :class:`StepCall`
(validated inputs, the idempotency key, a deadline, the environment) and
returns an :class:`ActionResult`. The engine, never the action, decides
whether ``execute`` may be called (not in a dry run, not twice for a step that
cannot be repeated), when to retry, and what to record.

Keyed actions create an object named by ``call.key`` and must *adopt* that
object when it exists already (create → AlreadyExists → wait for the existing
one): re-executing them after a crash is then safe by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from drd.runbooks.engine.environment import Environment


@dataclass(frozen=True, slots=True)
class StepCall:
    """One invocation of an action."""

    run_id: str
    step_id: str
    inputs: BaseModel
    """The step's ``with:``, rendered and validated against its type's input model."""
    key: str
    """Deterministic per run and step, a valid Kubernetes name: keyed actions name their object so."""
    timeout_seconds: float
    env: Environment


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What a step produced: its outputs, and which of them are secret (never persisted in clear)."""

    outputs: Mapping[str, Any] = field(default_factory=dict)
    secret: frozenset[str] = frozenset()
    failure: str | None = None
    """Set when the step ran to the end but its verdict is a failure (a check that did not pass): the step
    is recorded Failed *with* its outputs, which later steps and the evidence read."""


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """What a dry run says a step would do."""

    fidelity: str
    """``executed`` (read-only, really run), ``simulated`` (checked, not done), ``gate``, ``not executed``."""
    summary: str
    changes: tuple[str, ...] = ()
    """Objects it would create, change or delete (``create Restore velero/r-1``)."""


class Action(Protocol):
    """The implementation of one step type."""

    def execute(self, call: StepCall) -> ActionResult:
        """Do it (wait included); raise a TemporaryError to be retried, anything else to fail."""

    def plan(self, call: StepCall) -> PlannedStep:
        """Describe what ``execute`` would do, changing nothing (reads are allowed)."""
