"""Where the engine reports step timings and run outcomes: the metrics of the contract."""

from __future__ import annotations

from drd.metrics import Metrics
from drd.outcomes import Outcome


class MetricsObserver:
    """``drd_runbook_step_duration_seconds`` per step, ``drd_runbook_runs_total`` per finished run."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def step_finished(self, runbook: str, step_type: str, seconds: float) -> None:
        self.metrics.observe_runbook_step(runbook, step_type, seconds)

    def run_finished(self, outcome: Outcome) -> None:
        self.metrics.record(outcome)
