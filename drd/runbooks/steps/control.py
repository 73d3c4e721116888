"""Steps that only think, wait or talk: ``assert``, ``sleep``, ``notify``."""

from __future__ import annotations

from typing import Any

from drd.errors import VerificationFailed
from drd.operations.notification import Notification, Severity
from drd.runbooks.engine.actions import ActionResult, PlannedStep, StepCall


class AssertStep:
    """Every condition of ``that`` must be true (expressions are rendered by the engine beforehand)."""

    def execute(self, call: StepCall) -> ActionResult:
        inputs: Any = call.inputs
        failed = [index for index, value in enumerate(inputs.that) if value is not True]
        if failed:
            which = ", ".join(f"that[{i}]" for i in failed)
            raise VerificationFailed(f"{inputs.message or 'assertion failed'} ({which} false)")
        return ActionResult({"checked": len(inputs.that)})

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("simulated", "would check its conditions")


class SleepStep:
    """Wait for a duration (bounded by the step's timeout)."""

    def execute(self, call: StepCall) -> ActionResult:
        inputs: Any = call.inputs
        seconds = min(inputs.duration.total_seconds(), call.timeout_seconds)
        call.env.clock.sleep(seconds)
        return ActionResult({"slept": seconds})

    def plan(self, call: StepCall) -> PlannedStep:
        inputs: Any = call.inputs
        return PlannedStep("simulated", f"would wait {inputs.duration.total_seconds():g}s")


class NotifyStep:
    """A message to the configured webhook (and the log); never fails the run for a delivery problem."""

    def execute(self, call: StepCall) -> ActionResult:
        inputs: Any = call.inputs
        notifier = call.env.notifier
        if notifier is None:
            return ActionResult({"sent": False})
        notification = Notification(
            reason="RunbookNotice",
            severity=Severity(str(inputs.severity)),
            title=str(inputs.message).splitlines()[0][:150] if inputs.message else "runbook notice",
            text=str(inputs.message),
            fields={"Run": call.run_id, "Step": call.step_id},
            key=f"runbook/{call.run_id}/{call.step_id}",
        )
        result = notifier.notify(notification)
        return ActionResult({"sent": result.delivered})

    def plan(self, call: StepCall) -> PlannedStep:
        inputs: Any = call.inputs
        return PlannedStep("not executed", f"would notify ({inputs.severity}): {inputs.message}")
