"""The settings a step runs with once defaults are applied: timeout, attempts, backoff, failure handling.

Defaults come from three places, in order: the step, the step type (timeout,
attempts) and the runbook (``spec.onFailure``). ``finally`` steps default to
``onFailure: continue`` so one failing clean-up does not stop the others; a
compensation that fails stops compensating (``fail``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from drd.runbooks.spec.catalog import step_type
from drd.runbooks.spec.models import Action, Backoff, OnFailure, RunbookSpec, Step


@dataclass(frozen=True)
class StepSettings:
    """How the engine runs one step (or compensation)."""

    timeout: timedelta
    """The limit for one attempt."""
    max_attempts: int
    """Attempts in all; only temporary errors are retried."""
    backoff: Backoff
    """The waits between attempts."""
    on_failure: OnFailure
    """What a failure after the last attempt does."""
    critical: bool
    """Whether that failure fails the run."""


def settings_for(spec: RunbookSpec, action: Action) -> StepSettings:
    """The effective settings of a step, finally step or compensation of ``spec`` (its type must exist)."""
    found = step_type(action.type)
    timeout = action.timeout or timedelta(seconds=found.default_timeout)
    attempts = action.retry.max_attempts if action.retry else found.default_attempts
    backoff = action.retry.backoff if action.retry else Backoff()
    if not isinstance(action, Step):
        return StepSettings(timeout, attempts, backoff, OnFailure.FAIL, critical=True)
    default = OnFailure.CONTINUE if spec.is_finally(action) else spec.on_failure
    on_failure = action.on_failure or default
    critical = action.critical if action.critical is not None else on_failure is not OnFailure.CONTINUE
    return StepSettings(timeout, attempts, backoff, on_failure, critical)
