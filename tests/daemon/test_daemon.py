"""The daemon against the sandbox: schedules reconciled, backups observed into the store and the metrics,
health endpoints, a broken reload keeping the last good config, notifications on failed backups."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from drd.backups import run as backups
from drd.clients.kube_resources import VELERO_SCHEDULES
from drd.clock import SystemClock
from drd.daemon.app import Daemon
from drd.outcomes import Phase
from tests.sandbox.fixtures import dr, primary, sandbox
from tests.sandbox.velero.support import eventually
from tests.support.daemons import Webhook, daemon_env, running_daemon

__all__ = ["dr", "primary", "sandbox"]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()


@pytest.fixture
def daemon(sandbox, tmp_path, webhook) -> Iterator[Daemon]:
    """A daemon on the sandbox's config, alone (no election), its HTTP endpoints on a free port."""
    with running_daemon(daemon_env(sandbox, tmp_path, webhook)) as instance:
        yield instance


def scrape(daemon: Daemon) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.http.port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def on_demand_backup(daemon: Daemon, policy_name: str = "shop"):
    config = daemon.config.current
    policy = config.backup_policies[policy_name]
    cluster = config.source_cluster(policy)
    return backups.backup_now(
        daemon.connections.get(cluster), policy, cluster, wait=True, timeout_seconds=30, clock=SystemClock()
    )


def test_every_backup_policy_gets_a_velero_schedule(daemon, primary):
    """On start the leader creates one drd-managed Velero Schedule per BackupPolicy."""
    schedules = eventually(
        lambda: (
            len(primary.list_objects(VELERO_SCHEDULES, namespace="velero").items) == 2
            and primary.list_objects(VELERO_SCHEDULES, namespace="velero").items
        )
    )
    assert {s["metadata"]["name"] for s in schedules} == {"drd-shop", "drd-catalog-api"}
    assert all(s["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "drd" for s in schedules)


def test_a_completed_backup_reaches_the_store_and_the_metrics(daemon):
    """A backup Velero completes is recorded in the store, counted once, and the RPO becomes finite."""
    outcome = on_demand_backup(daemon)
    assert outcome.phase.value == "Completed"
    record = eventually(lambda: daemon.store.last_good_backup("shop"))
    assert record.name == outcome.details["backup"]
    samples = eventually(
        lambda: (
            (s := scrape(daemon))
            and value(s, "drd_backup_runs_total", policy="shop", cluster="primary-east", phase="Completed") == 1
            and s
        )
    )
    assert value(samples, "drd_rpo_seconds", policy="shop") < 180
    assert value(samples, "drd_objective_met", policy="shop", objective="rpo") == 1


def test_a_partially_failed_backup_is_counted_as_such_never_as_success(daemon, sandbox, webhook):
    """PartiallyFailed is counted under its phase, leaves the RPO unmet, and is announced on the webhook."""
    sandbox.velero_faults.backup_outcome = "PartiallyFailed"
    outcome = on_demand_backup(daemon)
    assert outcome.phase.value == "PartiallyFailed"
    samples = eventually(
        lambda: (
            (s := scrape(daemon))
            and value(s, "drd_backup_runs_total", policy="shop", cluster="primary-east", phase="PartiallyFailed") == 1
            and s
        )
    )
    assert value(samples, "drd_objective_met", policy="shop", objective="rpo") == 0
    assert value(samples, "drd_rpo_seconds", policy="shop") == float("inf")
    message = eventually(lambda: next((m for m in webhook.received if "PartiallyFailed" in m["text"]), None))
    assert "shop" in message["text"]


def test_readyz_reports_leader_config_and_clusters(daemon):
    """/readyz is 200 with the leader, a valid config and every cluster reachable."""

    def ready():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{daemon.http.port}/readyz", timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError:
            return None

    body = eventually(ready)
    assert body["ready"] is True
    assert set(body["clusters"]) == {"primary-east", "dr-west"}
    assert body["leader"] == {"known": True, "self": True, "holder": "test-daemon"}


def test_a_broken_config_is_reported_and_the_last_good_one_keeps_running(daemon):
    """A bad edit shows in drd_config_errors and /readyz, while the schedules of the last good config stay."""
    shop = Path(daemon.settings.config.directory) / "shop.yaml"
    shop.write_text(shop.read_text().replace("rpo: 3m", "rpo: whenever"))
    daemon.reload()
    samples = scrape(daemon)
    assert value(samples, "drd_config_errors", file=str(shop)) == 1
    assert "shop" in daemon.config.current.backup_policies
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"http://127.0.0.1:{daemon.http.port}/readyz", timeout=5)
    body = json.loads(error.value.read())
    assert error.value.code == 503
    assert any("spec.objectives.rpo" in reason for reason in body["reasons"])


DETACHED = """
apiVersion: drd.dev/v1
kind: Runbook
metadata: {name: detached}
spec:
  target: {cluster: primary-east, namespace: shop}
  steps:
    - id: mark
      type: k8s.annotate
      with: {cluster: primary-east, apiVersion: v1, kind: Namespace, name: shop, annotations: {drd.dev/touched: "yes"}}
"""


def test_the_leader_executes_a_runbook_run_submitted_without_waiting(daemon, primary):
    """A run submitted with --detach (Pending in the store) is picked up and completed by the daemon."""
    from drd.clients.kube_resources import NAMESPACES
    from drd.runbooks.assembly import assemble
    from drd.runbooks.spec.loader import load_runbook_text
    from tests.sandbox.velero.support import eventually

    assembly = assemble(daemon.settings, daemon.config.current, daemon.store, identity="alice@test")
    try:
        run = assembly.engine.submit(load_runbook_text(DETACHED), {}, trigger="cli")
        done = eventually(lambda: (r := daemon.store.get_run(run.id)).phase.terminal and r, timeout=30)
    finally:
        assembly.close()
    assert done.phase is Phase.COMPLETED
    assert primary.get(NAMESPACES, "shop")["metadata"]["annotations"]["drd.dev/touched"] == "yes"


def test_a_detached_drill_is_run_by_the_daemon_which_keeps_its_evidence_and_counts_it(daemon, sandbox, primary, dr):
    """A drill submitted without waiting is executed by the leader; its evidence is stored and the metrics count it."""
    from drd.drills.run import start_drill
    from drd.runbooks.assembly import assemble
    from tests.runbooks.engine.conftest import policy_backup
    from tests.sandbox.velero.support import eventually, synced

    policy_backup(primary, "shop-drilled")
    for replicator in sandbox.replicators:
        replicator.replicate_once()
    sandbox.cluster("dr-west").velero.run_periodic_now()
    synced(dr, "shop-drilled")
    config = daemon.config.current
    assembly = assemble(daemon.settings, config, daemon.store, identity="alice@test")
    try:
        run = start_drill(assembly.engine, config, config.drill_policies["shop-drill"], trigger="cli")
    finally:
        assembly.close()
    done = eventually(lambda: (r := daemon.store.get_run(run.id)).details.get("evidence") and r, timeout=60)
    assert done.details["evidence"]["result"] == "passed", done.details["evidence"]["failure"]
    samples = scrape(daemon)
    assert value(samples, "drd_drill_runs_total", policy="shop-drill", target_cluster="dr-west", result="passed") == 1
    assert value(samples, "drd_objective_met", policy="shop-drill", objective="rto") == 1


def test_a_drill_the_cli_ran_is_counted_by_the_daemon_once(daemon, sandbox, primary, dr):
    """A drill recorded by the CLI (no metrics there) is counted once by the leader's runs:record job."""
    from drd.daemon.drill_recorder import finish_drill
    from drd.drills.run import start_drill
    from drd.runbooks.assembly import assemble
    from tests.runbooks.engine.conftest import policy_backup
    from tests.sandbox.velero.support import eventually, synced

    policy_backup(primary, "shop-cli")
    for replicator in sandbox.replicators:
        replicator.replicate_once()
    sandbox.cluster("dr-west").velero.run_periodic_now()
    synced(dr, "shop-cli")
    config = daemon.config.current
    assembly = assemble(daemon.settings, config, daemon.store, identity="alice@test", executor="cli")
    try:
        run = start_drill(assembly.engine, config, config.drill_policies["shop-drill"], trigger="cli")
        assembly.engine.execute(run.id)
    finally:
        assembly.close()
    assert finish_drill(daemon.store, run.id, config=config)["result"] == "passed"
    daemon.finishers.count_finished(daemon.store)  # the runs:record job may have counted it already

    def counted() -> float | None:
        labels = {"policy": "shop-drill", "target_cluster": "dr-west", "result": "passed"}
        return value(scrape(daemon), "drd_drill_runs_total", **labels)

    eventually(lambda: counted() == 1)
    assert daemon.finishers.count_finished(daemon.store) == 0
    assert counted() == 1
