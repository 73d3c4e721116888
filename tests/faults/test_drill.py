"""Fault matrix, drill row: ``drd.drills.run.start_drill`` on the engine, one fault per test (docs/fault-matrix.md).

Every test checks the four invariants: the verdict recorded in the store is honest (``passed`` only with
everything proven), no drill namespace outlives its TTL (the daemon's sweeper), and the next drill passes
once the fault is cleared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_RESTORES
from drd.daemon.drill_recorder import finish_drill
from drd.drills.run import start_drill
from drd.outcomes import Phase
from drd.policy.loader import Config
from drd.runbooks.engine.runner import Engine
from drd.sandbox.environment import Sandbox
from drd.sandbox.topology import DR_BUCKET
from drd.store import Store
from tests.drills.conftest import add_drill, dr, make_engine, primary, sandbox, settings, shipped, store
from tests.faults.support import (
    assert_drill_namespaces_expire,
    assert_honest_drill,
    cleared,
    window,
)
from tests.runbooks.engine.conftest import policy_backup
from tests.sandbox.velero.support import create, eventually, synced

__all__ = ["add_drill", "dr", "make_engine", "primary", "sandbox", "settings", "shipped", "store"]

POLICY = "quick"


def replicated(sandbox: Sandbox, primary, dr, name: str) -> None:
    """A Completed shop backup in the primary, replicated and synced into dr-west."""
    policy_backup(primary, name)
    sandbox.replicate_now()
    sandbox.cluster("dr-west").velero.run_periodic_now()
    synced(dr, name)


def run_drill(
    make_engine: Callable[..., Engine], store: Store, config: Config, **options: Any
) -> tuple[dict[str, Any], Phase]:
    """One drill to its end: its evidence and the run's final phase, as recorded in the store."""
    engine = make_engine(config=config, **options)
    record = start_drill(engine, config, config.drill_policies[POLICY], trigger="test")
    final = engine.execute(record.id)
    evidence = finish_drill(store, record.id, config=config)
    return evidence, store.get_run(record.id).phase if final.phase.terminal else final.phase


def settle(make_engine, store, config, sandbox, dr, evidence, final) -> None:
    """The invariants after the fault: honest verdict, namespaces within their TTL, and the next drill passes."""
    assert_honest_drill(evidence, final)
    engine = make_engine(config=config)
    assert_drill_namespaces_expire(config, dr, engine.env.connections)
    after, phase = run_drill(make_engine, store, config)
    assert_honest_drill(after, phase)
    assert after["result"] == "passed", after.get("failure")
    assert_drill_namespaces_expire(config, dr, engine.env.connections)


def phase_of(kube, backup: str) -> str | None:
    return (kube.get(VELERO_BACKUPS, backup, namespace="velero").get("status") or {}).get("phase")


def storm(sandbox: Sandbox, **faults: Any) -> Callable[[], None]:
    return lambda: sandbox.cluster("dr-west").emulator.set_faults(**faults)


def test_a_500_storm_from_the_restore_on_is_an_error_and_its_namespace_expires(
    sandbox, primary, dr, make_engine, store, add_drill
):
    """dr-west answers 500 to every request from the restore to the end: error at restore, never passed."""
    replicated(sandbox, primary, dr, "shop-1")
    config = add_drill(POLICY)
    with cleared(sandbox):
        hook = window("restore", storm(sandbox, error_rate=1.0, status=500), lambda: None, attempts=99)
        evidence, final = run_drill(make_engine, store, config, crash=hook)
    assert evidence["result"] == "error"
    assert evidence["failure"]["step"] == "restore"
    assert "500" in evidence["failure"]["message"] or "injected" in evidence["failure"]["message"]
    assert dr.list_objects(VELERO_RESTORES, namespace="velero").items == []
    settle(make_engine, store, config, sandbox, dr, evidence, final)


def test_high_latency_on_every_request_still_passes_honestly(sandbox, primary, dr, make_engine, store, add_drill):
    """Every request to dr-west takes 100 ms longer for the whole drill: it passes, with every check proven."""
    replicated(sandbox, primary, dr, "shop-1")
    config = add_drill(POLICY)
    with cleared(sandbox):
        sandbox.cluster("dr-west").emulator.set_faults(latency=0.1)
        evidence, final = run_drill(make_engine, store, config)
    assert evidence["result"] == "passed", evidence.get("failure")
    settle(make_engine, store, config, sandbox, dr, evidence, final)


def test_409_conflicts_on_writes_are_retried_and_the_drill_passes(sandbox, primary, dr, make_engine, store, add_drill):
    """The first two PATCHes of stop-workloads answer 409: the step is retried and the drill passes."""
    replicated(sandbox, primary, dr, "shop-1")
    config = add_drill(POLICY)
    emulator = sandbox.cluster("dr-west").emulator

    def conflicts() -> None:
        emulator.faults.fail_next(2, status=409, methods=["PATCH"])

    with cleared(sandbox):
        evidence, final = run_drill(make_engine, store, config, crash=window("stop-workloads", conflicts, lambda: None))
    assert evidence["result"] == "passed", evidence.get("failure")
    attempts = [s for s in store.steps(evidence["run"]) if s.name == "stop-workloads"]
    assert attempts[0].phase is Phase.FAILED
    assert attempts[-1].phase is Phase.COMPLETED
    settle(make_engine, store, config, sandbox, dr, evidence, final)


def test_the_dr_cluster_down_and_back_during_verify_is_retried_and_passes(
    sandbox, primary, dr, make_engine, store, add_drill
):
    """dr-west goes down as verification starts and is back for its second attempt: the drill passes."""
    replicated(sandbox, primary, dr, "shop-1")
    config = add_drill(POLICY)
    emulator = sandbox.cluster("dr-west").emulator
    with cleared(sandbox):
        hook = window("verify", emulator.go_down, emulator.come_up)
        evidence, final = run_drill(make_engine, store, config, crash=hook)
    assert evidence["result"] == "passed", evidence.get("failure")
    attempts = [s for s in store.steps(evidence["run"]) if s.name == "verify"]
    assert [a.phase for a in attempts] == [Phase.FAILED, Phase.COMPLETED]
    settle(make_engine, store, config, sandbox, dr, evidence, final)


@pytest.mark.parametrize(
    ("fault", "result"),
    [("restore:Failed", "error"), ("restore:PartiallyFailed", "failed"), ("backup:Stuck", "passed")],
)
def test_velero_failures_are_reported_as_they_are(sandbox, primary, dr, make_engine, store, add_drill, fault, result):
    """A Failed restore is an error, a PartiallyFailed one a failure; a newer backup stuck InProgress is not used."""
    replicated(sandbox, primary, dr, "shop-1")
    config = add_drill(POLICY)
    kind, outcome = fault.split(":")
    with cleared(sandbox):
        if kind == "backup":
            sandbox.velero_faults.backup_outcome = outcome
            labels = {"drd.dev/policy": "shop", "app.kubernetes.io/managed-by": "drd"}
            create(primary, VELERO_BACKUPS, "shop-2", {"includedNamespaces": ["shop"]}, labels=labels)
            eventually(lambda: phase_of(primary, "shop-2") == "InProgress")
            sandbox.replicate_now()
            sandbox.cluster("dr-west").velero.run_periodic_now()
        else:
            sandbox.velero_faults.restore_outcome = outcome
        evidence, final = run_drill(make_engine, store, config)
    assert evidence["result"] == result, evidence.get("failure")
    if kind == "backup":
        assert evidence["backup"]["name"] == "shop-1"
    else:
        assert evidence["restore"]["phase"] == outcome
    settle(make_engine, store, config, sandbox, dr, evidence, final)


def test_the_dr_bucket_gone_is_an_error_at_readiness(sandbox, primary, dr, make_engine, store, add_drill):
    """The replica bucket disappears: dr-west's location turns Unavailable and the drill errors at prepare."""
    replicated(sandbox, primary, dr, "shop-1")
    config = add_drill(POLICY)
    sandbox.remove_bucket(DR_BUCKET)
    sandbox.cluster("dr-west").velero.run_periodic_now()
    evidence, final = run_drill(make_engine, store, config)
    assert evidence["result"] == "error"
    assert evidence["failure"]["step"] == "prepare"
    assert "Unavailable" in evidence["failure"]["message"] or "unavailable" in evidence["failure"]["message"]
    sandbox.buckets[DR_BUCKET].create()  # the bucket is back (empty): a new backup replicates into it
    replicated(sandbox, primary, dr, "shop-2")
    settle(make_engine, store, config, sandbox, dr, evidence, final)


def test_replication_lag_restores_the_newest_backup_that_has_arrived(
    sandbox, primary, dr, make_engine, store, add_drill
):
    """With an hour of lag, the newer backup has not reached dr-west: the older one is restored and named."""
    replicated(sandbox, primary, dr, "shop-1")
    config = add_drill(POLICY)
    with cleared(sandbox):
        sandbox.set_replication_lag(3600)
        policy_backup(primary, "shop-2")
        sandbox.replicate_now()
        sandbox.cluster("dr-west").velero.run_periodic_now()
        evidence, final = run_drill(make_engine, store, config)
    assert evidence["result"] == "passed", evidence.get("failure")
    assert evidence["backup"]["name"] == "shop-1"
    sandbox.replicate_now()
    sandbox.cluster("dr-west").velero.run_periodic_now()
    synced(dr, "shop-2")
    settle(make_engine, store, config, sandbox, dr, evidence, final)
