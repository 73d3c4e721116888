"""Drills in the daemon: run them on their schedules, finish them, sweep their namespaces, watch their freshness.

* each DrillPolicy is a cron job (missed slots caught up from the store, see
  :mod:`drd.daemon.catchup`): it submits a drill run and executes it on the
  one engine; a run interrupted by a crash is carried on by
  :mod:`drd.daemon.runbook_runs` and recorded through :mod:`drd.daemon.finishers`;
* the sweeper deletes drill namespaces whose ``drd.dev/expires-at`` passed,
  whatever happened to their drill (a TTL guarantees drill namespaces die);
* ``drd_objective_met{objective="drill_freshness"}`` says whether the last
  passed drill is recent enough: no older than the longest gap of the
  schedule plus the drill's own timeout.
"""

from __future__ import annotations

import structlog

from drd.clients.connect import Connections
from drd.clients.errors import KubeError
from drd.clock import Clock
from drd.drills.run import KIND, start_drill
from drd.metrics import Metrics
from drd.metrics.vocabulary import Objective
from drd.outcomes import Outcome, Phase
from drd.policy.loader import Config
from drd.policy.models.drill import DrillPolicy
from drd.policy.schedule import interval_hint
from drd.runbooks.assembly import Assembly
from drd.runbooks.steps.drill_steps import sweep
from drd.store import Store

log = structlog.get_logger(__name__)


def run_drill(assembly: Assembly, config: Config, policy: DrillPolicy, *, trigger: str, clock: Clock) -> Outcome:
    """One scheduled drill, start to end (evidence is recorded by the :class:`DrillFinisher`)."""
    started = clock.now()
    record = start_drill(assembly.engine, config, policy, trigger=trigger, requested_by=assembly.env.identity)
    final = assembly.engine.execute(record.id)
    evidence = (final.details or {}).get("evidence") or {}
    return Outcome(
        KIND,
        policy.name,
        final.phase if final.phase.terminal else Phase.WAITING,
        started,
        clock.now(),
        {"run": record.id, "result": evidence.get("result")},
    )


def sweep_drill_namespaces(config: Config, connections: Connections, *, clock: Clock) -> Outcome:
    """Delete expired drill namespaces in every cluster drills target."""
    started = clock.now()
    deleted: list[str] = []
    errors: list[str] = []
    for name in sorted({policy.spec.target for policy in config.drill_policies.values()}):
        cluster = config.clusters.get(name)
        if cluster is None:
            continue
        try:
            found = sweep(connections.get(cluster), now=clock.now())
        except KubeError as exc:
            errors.append(f"{name}: {exc}")
            continue
        deleted += [f"{name}/{ns}" for ns in found]
    if deleted:
        log.info("drill_namespaces_swept", deleted=deleted)
    phase = Phase.FAILED if errors else Phase.COMPLETED
    return Outcome("sweep", "drill-namespaces", phase, started, clock.now(), {"deleted": deleted, "errors": errors})


def check_freshness(config: Config, store: Store, metrics: Metrics, *, clock: Clock) -> Outcome:
    """Set each drill policy's gauges from the store (survives restarts and leader changes).

    ``drill_freshness``: the last passed drill is no older than the schedule's longest gap plus the
    drill's timeout. The last drill's RTO, restored backup age and ``rto`` objective, and the last
    success time, are set from the evidence of the newest finished drills.
    """
    started = clock.now()
    stale = []
    for name, policy in sorted(config.drill_policies.items()):
        allowed = interval_hint(policy.spec.schedule) + policy.spec.effective_timeout
        finished = [r for r in store.list_runs(kind=KIND, subject=name, limit=50) if r.details.get("evidence")]
        passed = [r for r in finished if r.details["evidence"].get("result") == "passed"]
        last_success = passed[0].finished_at if passed else None
        fresh = last_success is not None and clock.now() - last_success <= allowed
        metrics.set_objective_met(name, Objective.DRILL_FRESHNESS, fresh)
        if finished:
            evidence = finished[0].details["evidence"]
            measurements = evidence.get("measurements") or {}
            rto = (evidence.get("objectives") or {}).get("rto") or {}
            metrics.restore_drill_state(
                name,
                last_success=last_success,
                rto_seconds=measurements.get("rtoSeconds") if evidence.get("result") == "passed" else None,
                restored_backup_age_seconds=measurements.get("rpoSeconds"),
                rto_met=evidence.get("result") == "passed" and bool(rto.get("met")),
            )
        if not fresh:
            stale.append(name)
    return Outcome("freshness", "drills", Phase.COMPLETED, started, clock.now(), {"stale": stale})
