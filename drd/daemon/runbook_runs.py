"""The leader carries runbook runs forward: detached runs, approved gates, queued runs, interrupted runs.

Every few seconds the leader lists the runs that are not finished and executes
each that nobody else is executing (the run lock's heartbeat says so): a run
submitted with ``--detach``, a run whose approval was given with
``--no-continue``, a queued run whose lock came free, and a run whose executor
died (the engine resumes it from the store, adopting what its interrupted step
made). Runs execute on a small pool of threads, one run per thread, so a long
restore does not hold up an approval elsewhere. Paused and in-doubt runs wait
for a person (``drd runbook resume``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import structlog

from drd.clock import Clock
from drd.errors import DrdError
from drd.outcomes import Outcome, Phase
from drd.policy.loader import Config
from drd.rotation.run import KIND as ROTATION_KIND
from drd.rotation.steps import rotation_actions
from drd.runbooks.assembly import Assembly, assemble
from drd.runbooks.engine.locks import RunExecuting
from drd.runbooks.engine.runner import KIND, STOPPED, RunObserver
from drd.settings import Settings
from drd.store import Store
from drd.store.records import RunRecord
from drd.upgrades.progress import CLUSTER_KIND as UPGRADE_CLUSTER_KIND
from drd.upgrades.progress import STAGE_KIND as UPGRADE_STAGE_KIND
from drd.upgrades.steps import upgrade_actions

log = structlog.get_logger(__name__)

WORKERS = 4
"""Runs executed at once by one daemon."""
KINDS = (KIND, "drill", "restore", UPGRADE_CLUSTER_KIND, UPGRADE_STAGE_KIND, ROTATION_KIND)
"""Run kinds executed on the engine: runbook runs, drills (the drill-cross-region runbook) and incident restores
(the incident-restore runbook: a ``drd restore`` the person detached from, or whose process died)."""


class RunbookRuns:
    """Finds unfinished runbook runs and executes them on a bounded pool."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        config: Callable[[], Config | None],
        identity: str,
        clock: Clock,
        observer: RunObserver | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._config = config
        self._identity = identity
        self._clock = clock
        self._observer = observer
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="runbook")
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._assembly: Assembly | None = None
        self._assembled_for: Config | None = None
        self._told: set[str] = set()

    def tick(self) -> Outcome:
        """One pass: start executing every unfinished run not already in flight here."""
        started = self._clock.now()
        config = self._config()
        picked = 0
        if config is not None:
            for run in self._unfinished():
                with self._lock:
                    if run in self._in_flight:
                        continue
                    self._in_flight.add(run)
                picked += 1
                self._pool.submit(self._execute, config, run)
        return Outcome("runbooks", "runs", Phase.COMPLETED, started, self._clock.now(), {"picked": picked})

    def close(self) -> None:
        """Stop taking runs; runs in flight are abandoned to the store (resumed by the next leader)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._assembly is not None:
            self._assembly.close()

    def _unfinished(self) -> list[str]:
        runs = []
        for phase in (Phase.PENDING, Phase.IN_PROGRESS, Phase.WAITING):
            for record in self._runs(phase):
                if (record.details.get("waiting") or {}).get("reason") in STOPPED:
                    continue
                runs.append(record.id)
        return sorted(runs)

    def _runs(self, phase: Phase) -> list[RunRecord]:
        return [r for kind in KINDS for r in self._store.list_runs(kind=kind, phase=phase, limit=200)]

    def _execute(self, config: Config, run_id: str) -> None:
        try:
            record = self._engine(config).engine.execute(run_id)
            if record.phase.terminal:
                log.info("runbook_run_carried_on", run=run_id, phase=record.phase.value)
        except RunExecuting:
            pass  # a CLI or another replica is executing it right now
        except DrdError as exc:
            if run_id not in self._told:  # e.g. it needs its secret parameters again: say so once
                self._told.add(run_id)
                log.warning("runbook_run_not_carried_on", run=run_id, error=str(exc))
        except Exception:
            log.exception("runbook_run_crashed", run=run_id)
        finally:
            with self._lock:
                self._in_flight.discard(run_id)

    def assembly(self, config: Config) -> Assembly:
        """The engine (and its environment) for ``config``, shared by every run this daemon executes."""
        return self._engine(config)

    def _engine(self, config: Config) -> Assembly:
        with self._lock:
            if self._assembly is None or self._assembled_for is not config:
                if self._assembly is not None:
                    self._assembly.close()
                self._assembly = assemble(
                    self._settings,
                    config,
                    self._store,
                    identity=self._identity,
                    executor=f"daemon:{self._identity}",
                    clock=self._clock,
                    observer=self._observer,
                    extra_actions={**upgrade_actions(), **rotation_actions()},
                )
                self._assembled_for = config
            return self._assembly
