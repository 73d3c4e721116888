"""Which backups unfinished runs depend on, so that retention never prunes them mid-restore."""

from __future__ import annotations

from drd.outcomes import Phase
from drd.runbooks.engine.runner import KIND
from drd.store import Store

_UNFINISHED = (Phase.PENDING, Phase.IN_PROGRESS, Phase.WAITING)


def backups_in_use(store: Store) -> frozenset[str]:
    """Backup names chosen (``velero.findBackup``) or being restored (``velero.restore``) by an unfinished run."""
    names: set[str] = set()
    for phase in _UNFINISHED:
        for run in store.list_runs(kind=KIND, phase=phase, limit=500):
            for step in store.steps(run.id):
                if step.type == "velero.findBackup" and isinstance(step.outputs.get("name"), str):
                    names.add(step.outputs["name"])
                elif step.type == "velero.restore" and isinstance(step.inputs.get("backup"), str):
                    names.add(step.inputs["backup"])
    return frozenset(names)
