"""Fault matrix, incident-restore row: ``drd.restore.run`` (what ``drd restore`` runs) under one fault per test.

Each restore is planned, started and executed as the CLI does, and its evidence recorded by
``finish_restore``. Invariants: the result in the store is honest (``succeeded`` only when Velero completed
and verification passed), exactly one Velero Restore per run, and the next restore succeeds once the fault
is cleared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import SECRETS, VELERO_RESTORES
from drd.clients.vault import VaultClient
from drd.daemon.restores import finish_restore
from drd.errors import DrdError
from drd.outcomes import Phase
from drd.policy.loader import load_config
from drd.restore import run as restoring
from drd.restore.plan import Request
from drd.runbooks.assembly import Assembly, assemble
from drd.runbooks.engine.runner import Engine, Interrupt
from drd.runbooks.steps.restore_steps import VAULT_PATH
from drd.sandbox.environment import Sandbox
from drd.sandbox.topology import PRIMARY_BUCKET
from drd.sandbox.vault import OpenBaoDevServer
from drd.settings import Secret, Settings
from drd.store import Store
from tests.faults.support import assert_honest_restore, cleared, kill_at, window
from tests.runbooks.engine.conftest import REQUESTER, dr, make_engine, policy_backup, primary, sandbox, settings, store
from tests.sandbox.velero.support import synced

__all__ = ["dr", "make_engine", "primary", "sandbox", "settings", "store"]


def side_by_side(namespace: str = "shop-copy", cluster: str = "primary-east") -> Request:
    return Request("shop", cluster, "primary-east", as_namespace=namespace, yes=True)


def run_restore(
    make_engine: Callable[..., Engine], store: Store, settings: Settings, request: Request, **options: Any
) -> tuple[dict[str, Any], Phase]:
    """Plan, start and execute one restore as ``drd restore`` does: its evidence and recorded phase."""
    config = load_config([settings.config.directory])
    engine = make_engine(config=config, **options)
    prepared = restoring.prepare(engine.env, config, request)
    record = restoring.start_restore(engine, prepared, trigger="test")
    store.update_run(record.id, details={**record.details, "plan": prepared.plan})  # as the CLI keeps it
    engine.execute(record.id)
    evidence = finish_restore(store, record.id, config=config)
    return evidence, store.get_run(record.id).phase


def restores_of(kube: KubeClient, run: str) -> list[dict[str, Any]]:
    name = restoring.restore_name(run)
    return [r for r in kube.list_objects(VELERO_RESTORES, namespace="velero").items if r["metadata"]["name"] == name]


def healthy(make_engine, store, settings, namespace: str = "shop-again", cluster: str = "primary-east") -> None:
    """The fault cleared, the next restore succeeds, restored and verified."""
    evidence, phase = run_restore(make_engine, store, settings, side_by_side(namespace, cluster))
    assert_honest_restore(evidence, phase)
    assert evidence["result"] == "succeeded", evidence


def api_fault(sandbox: Sandbox, kind: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """Begin and end of a fault on primary-east's API."""
    emulator = sandbox.cluster("primary-east").emulator
    if kind == "500 storm":
        return (lambda: emulator.set_faults(error_rate=1.0, status=500)), emulator.clear_faults
    if kind == "409 conflicts":
        return (lambda: emulator.faults.fail_next(2, status=409, methods=["POST"], path_pattern="/restores")), (
            lambda: None
        )
    return emulator.go_down, emulator.come_up


@pytest.mark.parametrize(("fault", "attempts"), [("500 storm", 2), ("409 conflicts", 1), ("down and back", 1)])
def test_api_faults_during_the_restore_are_retried_into_exactly_one_restore(
    sandbox, primary, make_engine, store, settings, fault, attempts
):
    """The target API fails the first attempts of the restore step: retried, adopted, one Restore, succeeded."""
    policy_backup(primary, "shop-1")
    begin, end = api_fault(sandbox, fault)
    with cleared(sandbox):
        evidence, phase = run_restore(
            make_engine, store, settings, side_by_side(), crash=window("restore", begin, end, attempts=attempts)
        )
    assert_honest_restore(evidence, phase)
    assert evidence["result"] == "succeeded", evidence
    assert evidence["restore"]["attempts"] > 1
    assert len(restores_of(primary, evidence["run"])) == 1
    healthy(make_engine, store, settings)


def test_high_latency_still_restores_and_verifies(sandbox, primary, make_engine, store, settings):
    """Every request to the primary takes 100 ms longer: restored and verified, honestly succeeded."""
    policy_backup(primary, "shop-1")
    with cleared(sandbox):
        sandbox.cluster("primary-east").emulator.set_faults(latency=0.1)
        evidence, phase = run_restore(make_engine, store, settings, side_by_side())
    assert_honest_restore(evidence, phase)
    assert evidence["result"] == "succeeded", evidence
    healthy(make_engine, store, settings)


@pytest.mark.parametrize(("outcome", "result"), [("Failed", "failed"), ("PartiallyFailed", "partially_failed")])
def test_velero_failing_the_restore_is_never_reported_as_restored(
    sandbox, primary, make_engine, store, settings, outcome, result
):
    """Velero ends the Restore Failed or PartiallyFailed: the result says so, never succeeded."""
    policy_backup(primary, "shop-1")
    with cleared(sandbox):
        sandbox.velero_faults.restore_outcome = outcome
        evidence, phase = run_restore(make_engine, store, settings, side_by_side())
    assert_honest_restore(evidence, phase)
    assert evidence["result"] == result
    assert evidence["restore"]["phase"] == outcome
    healthy(make_engine, store, settings)


def test_the_bucket_gone_refuses_the_restore_before_anything_happens(sandbox, primary, make_engine, store, settings):
    """The primary's bucket disappears after the backup: the plan cannot read it, no run, no Restore."""
    policy_backup(primary, "shop-1")
    sandbox.remove_bucket(PRIMARY_BUCKET)
    sandbox.cluster("primary-east").velero.run_periodic_now()
    with pytest.raises(DrdError, match="NoSuchBucket"):
        run_restore(make_engine, store, settings, side_by_side())
    assert store.list_runs(kind=restoring.KIND) == []
    assert primary.list_objects(VELERO_RESTORES, namespace="velero").items == []
    sandbox.buckets[PRIMARY_BUCKET].create()
    sandbox.cluster("primary-east").velero.run_periodic_now()
    policy_backup(primary, "shop-2")
    healthy(make_engine, store, settings)


def test_replication_lag_restores_into_dr_the_newest_backup_that_arrived(
    sandbox, primary, dr, make_engine, store, settings
):
    """With an hour of lag the newest backup is not in dr-west yet: the older one is restored, with a warning."""
    policy_backup(primary, "shop-1")
    sandbox.replicate_now()
    sandbox.cluster("dr-west").velero.run_periodic_now()
    synced(dr, "shop-1")
    with cleared(sandbox):
        sandbox.set_replication_lag(3600)
        policy_backup(primary, "shop-2")
        evidence, phase = run_restore(make_engine, store, settings, side_by_side("shop", "dr-west"))
    assert_honest_restore(evidence, phase)
    assert evidence["result"] == "succeeded", evidence
    assert evidence["backup"]["name"] == "shop-1"
    assert any("replicated" in w for w in evidence["plan"]["warnings"]), evidence["plan"]
    healthy(make_engine, store, settings, "shop-again", "dr-west")


@pytest.fixture
def vault_settings(settings: Settings, vault: OpenBaoDevServer) -> Settings:
    """The engine talks to the run's OpenBao."""
    return replace(settings, vault=replace(settings.vault, addr=vault.url, token=Secret(vault.root_token)))


@pytest.fixture
def make_vault_engine(vault_settings: Settings, store: Store) -> Iterator[Callable[..., Engine]]:
    """Engines whose environment has Vault configured."""
    built: list[Assembly] = []

    def build(**options: Any) -> Engine:
        config = options.pop("config", None) or load_config([vault_settings.config.directory])
        built.append(assemble(vault_settings, config, store, identity=REQUESTER, **options))
        return built[-1].engine

    yield build
    for assembly in built:
        assembly.close()


def test_a_sealed_vault_fails_the_secrets_check_never_succeeded(
    sandbox, primary, store, vault, vault_settings, make_vault_engine
):
    """postgres-credentials comes from Vault, sealed during the restore: problems reported, not succeeded."""
    client = VaultClient(vault.url, token=vault.root_token)
    client.write_kv("shop/postgres", {"password": "x"})
    annotations = {"metadata": {"annotations": {VAULT_PATH: "secret/shop/postgres"}}}
    primary.merge_patch(SECRETS, "postgres-credentials", annotations, namespace="shop")
    policy_backup(primary, "shop-1")
    vault.seal()
    try:
        evidence, phase = run_restore(make_vault_engine, store, vault_settings, side_by_side())
    finally:
        vault.unseal()
    assert_honest_restore(evidence, phase)
    assert evidence["result"] == "partially_failed"
    assert "sealed" in str(evidence["verification"]["secrets"])
    healthy(make_vault_engine, store, vault_settings)


def test_drd_killed_after_creating_the_restore_resumes_and_adopts_it(sandbox, primary, make_engine, store, settings):
    """Killed right after the Restore was created (not yet journaled): resumed, adopted, one Restore, succeeded."""
    policy_backup(primary, "shop-1")
    config = load_config([settings.config.directory])
    crashing = make_engine(config=config, executor="drd-0", crash=kill_at("after-effect", "restore"))
    record = restoring.start_restore(crashing, restoring.prepare(crashing.env, config, side_by_side()), trigger="test")
    with pytest.raises(Interrupt):
        crashing.execute(record.id)
    assert not store.get_run(record.id).phase.terminal
    make_engine(config=config, executor="drd-0").execute(record.id)
    evidence = finish_restore(store, record.id, config=config)
    assert_honest_restore(evidence, store.get_run(record.id).phase)
    assert evidence["result"] == "succeeded", evidence
    assert len(restores_of(primary, record.id)) == 1
    healthy(make_engine, store, settings)
