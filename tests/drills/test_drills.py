"""Cross-region restore drills on the sandbox: restore into dr-west, prove it, measure, tear down, keep evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drd.clients.kube_resources import (
    CRONJOBS,
    DEPLOYMENTS,
    NAMESPACES,
    NETWORK_POLICIES,
    RESOURCE_QUOTAS,
    SERVICES,
    VELERO_RESTORES,
)
from drd.daemon.drill_recorder import finish_drill
from drd.drills.run import start_drill
from drd.errors import PermanentError, PolicyError
from drd.outcomes import Phase
from drd.policy.loader import load_config
from drd.runbooks.engine.runner import Interrupt
from drd.runbooks.steps.drill_steps import DRILL_LABEL, EXPIRES, drill_namespace, sweep
from drd.velero.timefmt import rfc3339
from tests.runbooks.engine.conftest import APPROVER, REQUESTER, policy_backup
from tests.sandbox.velero.support import eventually, synced


def replicated_backup(sandbox, primary, dr, name: str = "shop-1") -> None:
    """A Completed shop backup in the primary, replicated and synced into dr-west."""
    policy_backup(primary, name)
    for replicator in sandbox.replicators:
        replicator.replicate_once()
    sandbox.cluster("dr-west").velero.run_periodic_now()
    synced(dr, name)


def drill(make_engine, store, config, name: str, **engine_options):
    """Run one drill to its end and return its evidence."""
    engine = make_engine(config=config, **engine_options)
    record = start_drill(engine, config, config.drill_policies[name], trigger="test", requested_by=REQUESTER)
    final = engine.execute(record.id)
    assert final.phase.terminal, final.details
    return finish_drill(store, record.id, config=config)


def drill_namespaces(dr) -> list[str]:
    return sorted(ns["metadata"]["name"] for ns in dr.list_objects(NAMESPACES, label_selector=DRILL_LABEL).items)


def test_a_drill_restores_the_newest_replicated_backup_proves_it_and_tears_down(
    sandbox, primary, dr, make_engine, store, add_drill
):
    """The shop is restored into an isolated drill namespace of dr-west, every check passes, nothing is left."""
    replicated_backup(sandbox, primary, dr)
    evidence = drill(make_engine, store, add_drill("quick"), "quick")
    assert evidence["result"] == "passed", evidence["failure"]
    assert evidence["phase"] == "Completed"
    assert evidence["backup"]["name"] == "shop-1"
    assert (evidence["source"]["region"], evidence["target"]["region"]) == ("us-east-1", "us-west-2")
    assert [c["name"] for c in evidence["checks"]] == ["objectsPresent-1", "workloadsReady-2", "storefront-healthy"]
    assert all(c["passed"] for c in evidence["checks"])
    assert evidence["objects"]["missing"] == []
    assert [level["status"] for level in evidence["levels"]] == ["pass"] * 6
    assert evidence["measurements"]["rtoSeconds"] > 0
    assert evidence["measurements"]["rpoSeconds"] > 0
    assert evidence["teardown"]["status"] == "deleted"
    assert drill_namespaces(dr) == []
    eventually(lambda: dr.list_objects(VELERO_RESTORES, namespace="velero").items == [])  # Velero's finalizer


def test_drill_namespaces_are_isolated_and_the_stopped_workloads_do_not_run(
    sandbox, primary, dr, make_engine, store, add_drill
):
    """While the drill runs its namespace has the deny-all policy, a quota, and the newsletter suspended."""
    replicated_backup(sandbox, primary, dr)
    config = add_drill("quick")
    seen = {}

    def look(point: str, step: str) -> None:
        if (point, step) == ("after-finish", "stop-workloads"):
            (name,) = drill_namespaces(dr)
            seen["policies"] = dr.list_objects(NETWORK_POLICIES, namespace=name).items
            seen["quotas"] = dr.list_objects(RESOURCE_QUOTAS, namespace=name).items
            seen["cronjob"] = dr.get(CRONJOBS, "newsletter", namespace=name)
            seen["consumer"] = dr.get(DEPLOYMENTS, "payment-webhook-consumer", namespace=name)

    drill(make_engine, store, config, "quick", crash=look)
    assert seen["policies"][0]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert seen["quotas"][0]["spec"]["hard"]["pods"] == "200"
    assert seen["cronjob"]["spec"]["suspend"] is True
    assert seen["consumer"]["spec"]["replicas"] == 0


def test_without_a_replicated_backup_the_drill_fails_fast_saying_why(
    sandbox, primary, dr, make_engine, store, add_drill
):
    """Replication lag: no backup has reached dr-west yet, so the drill errors at readiness with the reason."""
    sandbox.pause_replication()
    policy_backup(primary, "shop-1")  # made, not replicated yet
    evidence = drill(make_engine, store, add_drill("quick"), "quick")
    assert evidence["result"] == "error"
    assert evidence["failure"]["step"] == "prepare"
    assert "no restorable backup of shop has reached dr-west" in evidence["failure"]["message"]
    assert drill_namespaces(dr) == []


def test_a_failing_check_fails_the_drill_and_keeps_its_namespace_for_inspection(
    sandbox, primary, dr, make_engine, store, add_drill
):
    """A storefront answering 500 fails its check: result failed, namespace kept with its expiry."""
    primary.merge_patch(
        SERVICES, "storefront", {"metadata": {"annotations": {"sandbox.drd.dev/http-status": "500"}}}, namespace="shop"
    )
    replicated_backup(sandbox, primary, dr)
    evidence = drill(make_engine, store, add_drill("quick", keep="10m"), "quick")
    assert evidence["result"] == "failed"
    assert evidence["phase"] == "PartiallyFailed"
    failed = [c["name"] for c in evidence["checks"] if not c["passed"]]
    assert failed == ["storefront-healthy"]
    assert evidence["teardown"]["status"] == "kept"
    (kept,) = drill_namespaces(dr)
    assert dr.get(NAMESPACES, kept)["metadata"]["annotations"][EXPIRES] == evidence["teardown"]["keptUntil"]


def test_workloads_that_never_become_ready_fail_the_check_within_its_timeout(
    sandbox, primary, dr, make_engine, store, add_drill
):
    """A Deployment labelled never-ready times out its workloadsReady check, and the drill says which one."""
    primary.merge_patch(
        DEPLOYMENTS,
        "checkout",
        {"metadata": {"labels": {"sandbox.drd.dev/never-ready": "true"}}},
        namespace="shop",
    )
    replicated_backup(sandbox, primary, dr)
    checks = "    - {type: workloadsReady, timeout: 3s}\n"
    evidence = drill(make_engine, store, add_drill("quick", checks=checks), "quick")
    assert evidence["result"] == "failed"
    (check,) = evidence["checks"]
    assert not check["passed"]
    assert "checkout" in check["detail"]


def test_a_drill_never_touches_a_namespace_it_did_not_create(sandbox, primary, dr, make_engine, store, add_drill):
    """If its namespace name already exists (made by someone else), the drill errors and leaves it alone."""
    replicated_backup(sandbox, primary, dr)
    config = add_drill("quick")
    engine = make_engine(config=config)
    record = start_drill(engine, config, config.drill_policies["quick"], trigger="test")
    squatter = drill_namespace(config.drill_policies["quick"], "shop", record.id)
    dr.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": squatter}})
    engine.execute(record.id)
    evidence = finish_drill(store, record.id, config=config)
    assert evidence["result"] == "error"
    assert evidence["failure"]["step"] == "isolate"
    found = dr.find(NAMESPACES, squatter)
    assert found is not None
    assert not found["metadata"].get("deletionTimestamp")


def test_a_drill_into_a_primary_cluster_is_refused_before_anything_happens(settings, make_engine):
    """The inventory refuses a drill targeting a primary, and the runbook refuses a cluster the policy does not name."""
    path = settings.config.directory + "/bad.yaml"
    with open(path, "w") as handle:
        handle.write(
            "apiVersion: drd.dev/v1\nkind: DrillPolicy\nmetadata: {name: bad}\n"
            "spec: {backupPolicy: shop, target: primary-east, schedule: '@every 1h', objectives: {rto: 1m}}\n"
        )
    with pytest.raises(PolicyError, match="primary"):
        load_config([settings.config.directory])


def test_the_drill_runbook_refuses_a_cluster_other_than_the_policys_target(engine, store, shipped):
    """Run by hand against primary-east, the drill's first step refuses: the policy targets dr-west."""
    run = engine.submit(shipped["drill-cross-region"], {"policy": "shop-drill", "cluster": "primary-east"})
    final = engine.execute(run.id)
    assert final.phase is Phase.FAILED
    assert "targets dr-west, not primary-east" in final.details["failure"]["message"]


def test_a_drill_killed_mid_restore_resumes_and_restores_once(sandbox, primary, dr, make_engine, store, add_drill):
    """drd dies right after asking Velero to restore; a restarted drd adopts that restore and finishes the drill."""
    replicated_backup(sandbox, primary, dr)
    config = add_drill("quick")

    def kill(point: str, step: str) -> None:
        if (point, step) == ("after-start", "restore"):
            raise Interrupt("kill -9")

    engine = make_engine(config=config, executor="drd-0", crash=kill)
    record = start_drill(engine, config, config.drill_policies["quick"], trigger="test")
    with pytest.raises(Interrupt):
        engine.execute(record.id)
    final = make_engine(config=config, executor="drd-0").execute(record.id)
    assert final.phase.terminal
    evidence = finish_drill(store, record.id, config=config)
    assert evidence["result"] == "passed", evidence["failure"]
    restores = [s for s in store.steps(record.id) if s.name == "restore"]
    assert [(s.attempt, s.phase.value) for s in restores] == [(1, "Failed"), (2, "Completed")]
    assert drill_namespaces(dr) == []


def test_a_newly_failing_check_is_flagged_as_a_regression(sandbox, primary, dr, make_engine, store, add_drill):
    """After a passed drill, the same check failing next time is reported as a regression."""
    replicated_backup(sandbox, primary, dr)
    config = add_drill("quick")
    assert drill(make_engine, store, config, "quick")["result"] == "passed"
    primary.merge_patch(
        SERVICES, "storefront", {"metadata": {"annotations": {"sandbox.drd.dev/http-status": "503"}}}, namespace="shop"
    )
    replicated_backup(sandbox, primary, dr, "shop-2")
    evidence = drill(make_engine, store, config, "quick")
    assert {"kind": "check", "detail": "storefront-healthy newly fails"} in evidence["regressions"]
    assert evidence["history"][0]["result"] == "passed"


def test_the_sweeper_deletes_drill_namespaces_past_their_ttl(dr):
    """A drill namespace whose expires-at passed is deleted whatever happened to its drill; others stay."""
    past = rfc3339(datetime.now(UTC) - timedelta(minutes=1))
    future = rfc3339(datetime.now(UTC) + timedelta(hours=1))
    for name, expires in (("drill-old", past), ("drill-new", future)):
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {DRILL_LABEL: "quick"}, "annotations": {EXPIRES: expires}},
        }
        dr.create(NAMESPACES, body)
    assert sweep(dr, now=datetime.now(UTC)) == ["drill-old"]
    assert dr.find(NAMESPACES, "drill-new") is not None


def test_starting_a_drill_of_an_unknown_target_is_refused(engine, settings):
    """start_drill refuses a policy whose target is missing from the inventory before recording anything."""
    config = load_config([settings.config.directory])
    policy = config.drill_policies["shop-drill"]
    clusters = {k: v for k, v in config.clusters.items() if k != "dr-west"}
    broken = type(config)(
        documents={**config.documents, "Cluster": clusters}, sources=config.sources, warnings=config.warnings
    )
    with pytest.raises(PermanentError, match="not in the inventory"):
        start_drill(engine, broken, policy, trigger="test")


__all__ = ["APPROVER"]


def test_a_partially_failed_restore_is_verified_and_reported_never_passed(
    sandbox, primary, dr, make_engine, store, add_drill
):
    """Velero ends the restore PartiallyFailed: verification still runs, the drill is failed, integrity a warning."""
    replicated_backup(sandbox, primary, dr)
    sandbox.velero_faults.restore_outcome = "PartiallyFailed"
    try:
        evidence = drill(make_engine, store, add_drill("quick"), "quick")
    finally:
        sandbox.velero_faults.clear()
    assert evidence["restore"]["phase"] == "PartiallyFailed"
    assert evidence["result"] == "failed"
    assert evidence["checks"]
    assert evidence["levels"][0]["status"] == "warn"


def test_the_dr_cluster_failing_mid_drill_ends_it_as_an_error_and_the_sweeper_cleans_up(
    sandbox, primary, dr, make_engine, store, add_drill
):
    """The DR API goes down after the restore: the drill ends in error, saying why; its namespace expires later."""
    replicated_backup(sandbox, primary, dr)
    emulator = sandbox.cluster("dr-west").emulator

    def outage(point: str, step: str) -> None:
        if (point, step) == ("after-finish", "stop-workloads"):
            emulator.go_down()

    config = add_drill("quick")
    try:
        evidence = drill(make_engine, store, config, "quick", crash=outage)
    finally:
        emulator.come_up()
    assert evidence["result"] == "error"
    verify = next(s for s in evidence["steps"] if s["id"] == "verify")
    assert verify["phase"] == "Failed"
    assert evidence["teardown"]["status"] == "failed"
    (left,) = drill_namespaces(dr)
    expires = dr.get(NAMESPACES, left)["metadata"]["annotations"][EXPIRES]
    assert sweep(dr, now=datetime.fromisoformat(expires.replace("Z", "+00:00")) + timedelta(seconds=1)) == [left]


def test_status_shows_the_last_drill_and_its_rto_against_the_objective(
    sandbox, primary, dr, make_engine, store, add_drill
):
    """After a passed drill, drd status reports it with its RTO against the objective, and no breach from it."""
    from drd.cli import status_report
    from drd.clients.connect import Connections

    replicated_backup(sandbox, primary, dr)
    config = add_drill("quick")
    drill(make_engine, store, config, "quick")
    connections = Connections(default_kubeconfig=str(make_engine(config=config).env.connections._default_kubeconfig))
    try:
        rows = status_report.build(config, store, connections, now=datetime.now(UTC))
    finally:
        connections.close()
    shop = next(r for r in rows if r.policy == "shop")
    assert shop.drill is not None
    assert (shop.drill.policy, shop.drill.result, shop.drill.rto_met) == ("quick", "passed", True)
    assert shop.to_row()["rto"].endswith("/ 2m")


def test_a_restarted_daemon_restores_the_drill_gauges_from_the_store(
    sandbox, primary, dr, make_engine, store, add_drill
):
    """After a restart the last drill's RTO, its objective and the last success come back from the evidence."""
    from prometheus_client import CollectorRegistry

    from drd.clock import SystemClock
    from drd.daemon.drills import check_freshness
    from drd.metrics import Metrics

    replicated_backup(sandbox, primary, dr)
    config = add_drill("quick")
    evidence = drill(make_engine, store, config, "quick")
    registry = CollectorRegistry()
    metrics = Metrics(registry)  # a new process: nothing observed yet
    metrics.set_policies(config.backup_policies.values(), config.drill_policies.values())
    check_freshness(config, store, metrics, clock=SystemClock())
    sample = registry.get_sample_value
    assert sample("drd_objective_met", {"policy": "quick", "objective": "rto"}) == 1
    assert sample("drd_objective_met", {"policy": "quick", "objective": "drill_freshness"}) == 1
    assert sample("drd_drill_rto_seconds", {"policy": "quick"}) == evidence["measurements"]["rtoSeconds"]
    assert sample("drd_drill_last_success_timestamp_seconds", {"policy": "quick"}) > 0
