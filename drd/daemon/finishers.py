"""The daemon's engine observer: a run of a workflow kind that ends is recorded by that workflow's recorder.

Drills and incident restores are runs on the one engine; when the daemon
executes one to its end (a scheduled drill, a run it carried on after the CLI
detached or died), the recorder of its kind keeps its evidence, counts it and
announces it — once, since recorders are idempotent. Other runs go on to the
next observer (runbook metrics).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import structlog

from drd.errors import DrdError
from drd.outcomes import Outcome
from drd.runbooks.engine.runner import RunObserver
from drd.store import Store

log = structlog.get_logger(__name__)

Finish = Callable[[str], object]
"""Records the finished run with that id (``finish_drill``, ``finish_restore`` bound to the store)."""


class Finishers:
    """Dispatches finished runs by kind to their recorder; everything else goes to ``then``."""

    def __init__(self, finishers: Mapping[str, Finish], *, then: RunObserver | None = None) -> None:
        self.finishers = dict(finishers)
        self.then = then

    def step_finished(self, runbook: str, step_type: str, seconds: float) -> None:
        if self.then is not None:
            self.then.step_finished(runbook, step_type, seconds)

    def run_finished(self, outcome: Outcome) -> None:
        finish = self.finishers.get(outcome.kind)
        if finish is None:
            if self.then is not None:
                self.then.run_finished(outcome)
            return
        run_id = str(outcome.details.get("run") or "")
        try:
            finish(run_id)
        except DrdError as exc:
            log.warning("run_finish_failed", kind=outcome.kind, run=run_id, error=str(exc))

    def count_finished(self, store: Store, *, limit: int = 20) -> int:
        """Record and count recent finished runs of these kinds that nobody counted (the CLI ran them)."""
        counted = 0
        for kind, finish in self.finishers.items():
            for run in store.list_runs(kind=kind, limit=limit):
                if run.phase.terminal and not run.details.get("counted"):
                    try:
                        finish(run.id)
                    except DrdError as exc:
                        log.warning("run_finish_failed", kind=kind, run=run.id, error=str(exc))
                        continue
                    counted += 1
        return counted
