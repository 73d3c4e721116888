"""An upgrade's recorded runs, read from drd's store (the :class:`drd.upgrades.run.Ledger` of the CLI and daemon)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from drd.store import Store
from drd.store.records import RunRecord
from drd.upgrades.progress import CLUSTER_KIND, STAGE_KIND, CurrentStep

RUNS_PER_KIND = 1000
"""How many recent runs of each upgrade kind are read to find a plan's (enough for fleets of hundreds)."""


class StoreLedger:
    """Upgrade runs in the store: ``upgrade-cluster`` and ``upgrade-stage`` runs whose subject is ``<plan>/…``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def runs(self, plan: str) -> list[RunRecord]:
        prefix = f"{plan}/"
        found: list[RunRecord] = []
        for kind in (CLUSTER_KIND, STAGE_KIND):
            found += [r for r in self.store.list_runs(kind=kind, limit=RUNS_PER_KIND) if r.subject.startswith(prefix)]
        return found

    def current_steps(self, runs: Sequence[RunRecord]) -> Mapping[str, CurrentStep]:
        steps: dict[str, CurrentStep] = {}
        for run in runs:
            if run.phase.terminal:
                continue
            attempts = self.store.steps(run.id)
            if attempts:
                last = max(attempts, key=lambda s: (s.started_at, s.ordinal, s.attempt))
                steps[run.id] = CurrentStep(last.name, last.error_message or "")
        return steps

    def mark_skipped(self, run_id: str, *, by: str, reason: str) -> None:
        run = self.store.get_run(run_id)
        details = dict(run.details)
        details["skipped"] = {"by": by, "reason": reason}
        self.store.update_run(run_id, details=details)
        self.store.record_event(run_id, "skipped", actor=by, data={"reason": reason})
