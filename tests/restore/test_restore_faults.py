"""Incident restores when things go wrong: the primary region gone, a PartiallyFailed restore, a flapping API,
a backup deleted under the confirmation prompt, missing Secrets and a sealed Vault, a second restore of the
same target; and the daemon's finisher recording a restore it saw end."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from drd.clients.kube_resources import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, SECRETS, VELERO_BACKUPS
from drd.daemon.finishers import Finishers
from drd.daemon.restores import finish_restore
from drd.metrics import Metrics
from drd.outcomes import Outcome, Phase
from drd.policy.loader import load_config
from drd.restore import run as restoring
from drd.restore.plan import Request
from drd.runbooks.assembly import assemble
from drd.runbooks.engine.locks import Target
from drd.runbooks.steps.restore_steps import VAULT_PATH
from drd.sandbox.vault import OpenBaoDevServer
from drd.settings import Settings
from drd.store import open_store
from tests.restore.conftest import replicated_backup, restores
from tests.runbooks.engine.conftest import policy_backup
from tests.sandbox.velero.support import eventually


def test_with_the_primary_api_down_the_app_is_restored_into_dr_west(drd, sandbox, primary, dr):
    """The replicated backup is restored into dr-west and verified; the unreachable primary is only a warning."""
    replicated_backup(sandbox, primary, dr)
    emulator = sandbox.cluster("primary-east").emulator
    emulator.go_down()
    try:
        code, out, err = drd("restore", "shop", "--to", "dr-west", "--yes")
    finally:
        emulator.come_up()
    assert code == 0, err + out
    assert "into        dr-west (us-west-2, dr)" in out
    assert "WARNING     primary-east could not be asked for newer backups" in out
    assert "RESTORED AND VERIFIED: shop into dr-west/shop" in out
    assert dr.find(DEPLOYMENTS, "storefront", namespace="shop") is not None


def test_a_partially_failed_restore_says_which_objects_failed_and_why(drd, primary):
    """Restoring into a namespace being deleted: objects fail; each is named, with Velero's reason."""
    primary.create(NAMESPACES, {"metadata": {"name": "shop-copy"}})
    primary.create(
        CONFIGMAPS, {"metadata": {"name": "keep", "finalizers": ["example.com/hold"]}}, namespace="shop-copy"
    )
    primary.delete(NAMESPACES, "shop-copy")
    policy_backup(primary, "shop-1")
    code, out, err = drd("restore", "shop", "--as", "shop-copy", "--yes")
    assert code == 1, err
    assert "namespace   shop → shop-copy  [BEING DELETED]" in out
    assert "RESTORED WITH PROBLEMS: shop into primary-east/shop-copy" in out
    assert "PartiallyFailed" in out
    assert "FAILED      apps/v1/Deployment shop-copy/storefront" in out
    assert "ERROR       namespace shop-copy: namespace shop-copy is terminating; cannot restore into it" in out


def test_a_flapping_target_api_is_retried_and_makes_exactly_one_restore(drd, sandbox, dr, primary):
    """The first two Restore creations answer 503: the step retries and adopts; one Restore, restored and verified."""
    replicated_backup(sandbox, primary, dr)
    sandbox.cluster("dr-west").emulator.faults.fail_next(2, methods=["POST"], path_pattern="/restores")
    code, out, err = drd("restore", "shop", "--to", "dr-west", "--yes", "-o", "json")
    assert code == 0, err
    outcome = json.loads(out)["outcome"]
    assert outcome["restore"]["attempts"] == 3
    assert outcome["result"] == "succeeded"
    assert len(restores(dr)) == 1


def test_a_backup_deleted_while_the_plan_waits_for_confirmation_is_refused(drd, primary):
    """The person reads the plan; meanwhile the backup is deleted; their "y" restores nothing."""
    policy_backup(primary, "shop-1")

    def delete_then_answer() -> str:
        primary.delete(VELERO_BACKUPS, "shop-1", namespace="velero")
        eventually(lambda: primary.find(VELERO_BACKUPS, "shop-1", namespace="velero") is None)
        return "y\n"

    code, _out, err = drd("restore", "shop", "--as", "shop-copy", answer=delete_then_answer)
    assert code == 1
    assert "backup shop-1 no longer exists in primary-east: it was deleted after the plan was made" in err
    assert restores(primary) == []


def test_a_secret_the_workloads_need_that_is_not_restored_is_reported(drd, primary):
    """storefront reads payments-api-key, which the backup does not hold: verification fails naming both."""
    deployment = primary.get(DEPLOYMENTS, "storefront", namespace="shop")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    containers[0]["env"] = [
        {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "payments-api-key", "key": "key"}}}
    ]
    patch = {"spec": {"template": {"spec": {"containers": containers}}}}
    primary.merge_patch(DEPLOYMENTS, "storefront", patch, namespace="shop")
    policy_backup(primary, "shop-1")
    code, out, err = drd("restore", "shop", "--as", "shop-copy", "--yes")
    assert code == 1, err
    assert "RESTORED WITH PROBLEMS" in out
    assert (
        "FAIL        secrets: 1 referenced Secret(s); missing: shop-copy/payments-api-key "
        "(used by Deployment/storefront)"
    ) in out


@pytest.fixture
def vault_env(vault: OpenBaoDevServer, monkeypatch: pytest.MonkeyPatch) -> OpenBaoDevServer:
    """drd talks to the run's OpenBao, as VAULT_ADDR and VAULT_TOKEN say."""
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_TOKEN", vault.root_token)
    return vault


def test_a_sealed_vault_is_reported_for_the_secrets_it_is_the_source_of(drd, primary, vault_env):
    """postgres-credentials comes from Vault; Vault sealed during the incident: the secrets check says so."""
    annotations = {"metadata": {"annotations": {VAULT_PATH: "secret/shop/postgres"}}}
    primary.merge_patch(SECRETS, "postgres-credentials", annotations, namespace="shop")
    policy_backup(primary, "shop-1")
    vault_env.seal()
    code, out, err = drd("restore", "shop", "--as", "shop-copy", "--yes")
    assert code == 1, err
    assert (
        "FAIL        secrets: 0 referenced Secret(s); shop-copy/postgres-credentials: its source "
        "secret/shop/postgres cannot be confirmed: Vault is sealed"
    ) in out


def test_a_second_restore_of_the_same_target_is_refused_by_the_lock(drd, primary, env):
    """A restore of shop-copy not finished yet holds its lock: a second one fails naming it, restoring nothing."""
    policy_backup(primary, "shop-1")
    settings = Settings.from_env()
    config = load_config([settings.config.directory])
    request = Request("shop", "primary-east", "primary-east", as_namespace="shop-copy", yes=True)
    with open_store(settings.store.url) as store:
        assembly = assemble(settings, config, store, identity="carol@test")
        try:
            first = restoring.start_restore(
                assembly.engine, restoring.prepare(assembly.env, config, request), trigger="test"
            )
            assembly.locks.acquire(Target("primary-east", "shop-copy"), first.id, executor="elsewhere")
        finally:
            assembly.close()
    code, _out, err = drd("restore", "shop", "--as", "shop-copy", "--yes")
    assert code == 1, err
    assert f"primary-east/shop-copy is locked by run {first.id}, which has not finished" in err
    assert restores(primary) == []


def test_the_daemon_records_a_restore_it_saw_end_once_and_counts_it(drd, primary, env):
    """The finisher keeps the evidence and counts drd_restore_runs_total{target_cluster,result} once."""
    policy_backup(primary, "shop-1")
    code, out, _ = drd("restore", "shop", "--as", "shop-copy", "--yes", "-o", "json")
    assert code == 0
    run_id = json.loads(out)["outcome"]["run"]
    registry = CollectorRegistry()
    with open_store(Settings.from_env().store.url) as store:
        record = store.get_run(run_id)
        store.update_run(run_id, details={k: v for k, v in record.details.items() if k != "evidence"})
        metrics = Metrics(registry)
        finisher = Finishers({"restore": lambda run: finish_restore(store, run, config=None, metrics=metrics)})
        outcome = Outcome("restore", "shop", Phase.COMPLETED, record.created_at, record.created_at, {"run": run_id})
        finisher.run_finished(outcome)
        finisher.run_finished(outcome)
        assert store.get_run(run_id).details["evidence"]["result"] == "succeeded"
    labels = {"target_cluster": "primary-east", "result": "succeeded"}
    assert registry.get_sample_value("drd_restore_runs_total", labels) == 1.0
