"""The ``pods/<name>/eviction`` subresource: evictions subject to PodDisruptionBudgets, as the apiserver decides.

Aspects: a pod no budget selects is deleted (201, Success); a budget with room
lets the eviction through and records it in its status (one disruption fewer,
the pod in ``disruptedPods``); a budget allowing no disruption is a 429 with
Kubernetes' message and a ``DisruptionBudget`` cause naming it, and the pod
stays; percentages round up; an unready pod may go while the budget holds; a
Pending pod ignores budgets; two budgets are a 500; a body naming another pod
is a 400, a missing pod a 404; ``dryRun`` decides without deleting; discovery
lists ``pods/eviction``; ``kubectl drain`` evicts through it.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from drd.sandbox.kube import eviction
from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import KUBECTL, raw_request, status_of

NS = "default"


def add_pod(emu: KubeEmulator, name: str, *, ready: bool = True, phase: str = "Running", app: str = "db") -> None:
    """A pod of ``app`` on node-1, Running and Ready (or not)."""
    pod = {
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "example/app:1"}]},
    }
    emu.store.create("pods", pod, namespace=NS)
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    emu.store.patch(
        "pods", name, {"status": {"phase": phase, "conditions": conditions}}, namespace=NS, subresource="status"
    )


def add_pdb(emu: KubeEmulator, name: str = "db", *, app: str = "db", **spec: Any) -> None:
    """A policy/v1 PodDisruptionBudget over ``app=<app>``."""
    body = {"metadata": {"name": name}, "spec": {"selector": {"matchLabels": {"app": app}}, **spec}}
    emu.store.create("poddisruptionbudgets", body, namespace=NS)


def evict(core: client.CoreV1Api, name: str, *, body_name: str | None = None, dry_run: bool = False) -> Any:
    body = client.V1Eviction(
        api_version="policy/v1",
        kind="Eviction",
        metadata=client.V1ObjectMeta(name=body_name or name, namespace=NS),
        delete_options=client.V1DeleteOptions(dry_run=["All"]) if dry_run else None,
    )
    return core.create_namespaced_pod_eviction(name, NS, body, _preload_content=False)


def pod_names(emu: KubeEmulator) -> list[str]:
    return [p["metadata"]["name"] for p in emu.store.list("pods", namespace=NS)]


def test_a_pod_no_budget_selects_is_deleted(emu: KubeEmulator, core: client.CoreV1Api) -> None:
    add_pod(emu, "web-0", app="web")
    add_pdb(emu, app="db", minAvailable=1)
    response = evict(core, "web-0")
    assert response.status == 201
    assert pod_names(emu) == []


def test_the_success_status_is_what_the_apiserver_sends(emu: KubeEmulator) -> None:
    add_pod(emu, "db-0")
    body = b'{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "db-0"}}'
    response = raw_request(
        emu,
        "POST",
        f"/api/v1/namespaces/{NS}/pods/db-0/eviction",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert (response.status, response.body) == (
        201,
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"},
    )


def test_a_budget_with_room_lets_the_eviction_through_and_records_it(emu: KubeEmulator, core: client.CoreV1Api) -> None:
    for name in ("db-0", "db-1", "db-2"):
        add_pod(emu, name)
    add_pdb(emu, minAvailable=2)
    assert evict(core, "db-0").status == 201
    assert pod_names(emu) == ["db-1", "db-2"]
    status = emu.store.get("poddisruptionbudgets", "db", namespace=NS)["status"]
    assert (status["currentHealthy"], status["desiredHealthy"], status["expectedPods"]) == (3, 2, 3)
    assert status["disruptionsAllowed"] == 0
    assert list(status["disruptedPods"]) == ["db-0"]


def test_a_budget_allowing_no_disruption_refuses_with_429_naming_it(emu: KubeEmulator, core: client.CoreV1Api) -> None:
    add_pod(emu, "db-0")
    add_pod(emu, "db-1")
    add_pdb(emu, minAvailable=2)
    with pytest.raises(client.ApiException) as refused:
        evict(core, "db-0")
    status = status_of(refused.value)
    assert (refused.value.status, status["reason"], status["message"]) == (429, "TooManyRequests", eviction.VIOLATION)
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"] == [
        {"reason": "DisruptionBudget", "message": "The disruption budget db needs 2 healthy pods and has 2 currently"}
    ]
    assert pod_names(emu) == ["db-0", "db-1"]


def test_the_refusal_records_the_budget_status(emu: KubeEmulator, core: client.CoreV1Api) -> None:
    add_pod(emu, "db-0")
    add_pdb(emu, maxUnavailable=0)
    with pytest.raises(client.ApiException):
        evict(core, "db-0")
    assert emu.store.get("poddisruptionbudgets", "db", namespace=NS)["status"]["disruptionsAllowed"] == 0


def test_percentages_round_up_like_the_disruption_controller(emu: KubeEmulator, core: client.CoreV1Api) -> None:
    for name in ("db-0", "db-1", "db-2"):
        add_pod(emu, name)
    add_pdb(emu, minAvailable="50%")  # ceil(1.5) = 2 must stay
    assert evict(core, "db-0").status == 201
    status = emu.store.get("poddisruptionbudgets", "db", namespace=NS)["status"]
    assert (status["desiredHealthy"], status["disruptionsAllowed"]) == (2, 0)


def test_a_replaced_pod_still_counts_as_expected_under_max_unavailable(
    emu: KubeEmulator, core: client.CoreV1Api
) -> None:
    deployment = {
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}},
        },
    }
    owner = emu.store.create("deployments", deployment, namespace=NS)["metadata"]
    for name in ("db-0", "db-1"):
        add_pod(emu, name)
        reference = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "db",
            "uid": owner["uid"],
            "controller": True,
        }
        emu.store.patch("pods", name, {"metadata": {"ownerReferences": [reference]}}, namespace=NS)
    add_pdb(emu, maxUnavailable=1)
    assert evict(core, "db-0").status == 201
    with pytest.raises(client.ApiException) as refused:  # db-0 not replaced yet: 1 of 2 expected is down
        evict(core, "db-1")
    assert refused.value.status == 429


def test_an_unready_pod_may_go_while_the_budget_holds(emu: KubeEmulator, core: client.CoreV1Api) -> None:
    add_pod(emu, "db-0")
    add_pod(emu, "db-1", ready=False)
    add_pdb(emu, minAvailable=1)
    assert evict(core, "db-1").status == 201
    assert pod_names(emu) == ["db-0"]


def test_a_pending_pod_ignores_budgets(emu: KubeEmulator, core: client.CoreV1Api) -> None:
    add_pod(emu, "db-0", ready=False, phase="Pending")
    add_pdb(emu, minAvailable=5)
    assert evict(core, "db-0").status == 201


def test_two_budgets_selecting_the_pod_are_a_500(emu: KubeEmulator, core: client.CoreV1Api) -> None:
    add_pod(emu, "db-0")
    add_pdb(emu, "db-a", maxUnavailable=1)
    add_pdb(emu, "db-b", maxUnavailable=1)
    with pytest.raises(client.ApiException) as refused:
        evict(core, "db-0")
    assert (refused.value.status, status_of(refused.value)["message"]) == (
        500,
        f"Internal error occurred: {eviction.MULTIPLE}",  # NewInternalError, as in eviction.go
    )


def test_a_body_naming_another_pod_is_a_400(emu: KubeEmulator, core: client.CoreV1Api) -> None:
    add_pod(emu, "db-0")
    with pytest.raises(client.ApiException) as refused:
        evict(core, "db-0", body_name="db-9")
    assert refused.value.status == 400
    assert pod_names(emu) == ["db-0"]


def test_a_missing_pod_is_a_404(core: client.CoreV1Api) -> None:
    with pytest.raises(client.ApiException) as refused:
        evict(core, "nope")
    assert refused.value.status == 404


def test_dry_run_decides_without_deleting(emu: KubeEmulator, core: client.CoreV1Api) -> None:
    add_pod(emu, "db-0")
    add_pdb(emu, maxUnavailable=1)
    assert evict(core, "db-0", dry_run=True).status == 201
    assert pod_names(emu) == ["db-0"]
    assert "status" not in emu.store.get("poddisruptionbudgets", "db", namespace=NS) or not emu.store.get(
        "poddisruptionbudgets", "db", namespace=NS
    )["status"].get("disruptedPods")


def test_only_post_is_allowed(emu: KubeEmulator) -> None:
    add_pod(emu, "db-0")
    assert raw_request(emu, "GET", f"/api/v1/namespaces/{NS}/pods/db-0/eviction").status == 405


def test_discovery_lists_pods_eviction(core: client.CoreV1Api) -> None:
    resources = {r.name: r for r in core.get_api_resources().resources}
    entry = resources["pods/eviction"]
    assert (entry.group, entry.version, entry.kind, entry.verbs) == ("policy", "v1", "Eviction", ["create"])


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_drain_evicts_through_it_and_stops_at_the_budget(emu: KubeEmulator, tmp_path: Any) -> None:
    import subprocess

    emu.store.create("nodes", {"metadata": {"name": "node-1"}})
    add_pod(emu, "db-0")
    add_pod(emu, "web-0", app="web")
    add_pdb(emu, minAvailable=1)
    kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig")
    assert KUBECTL is not None
    result = subprocess.run(
        [
            KUBECTL,
            f"--kubeconfig={kubeconfig}",
            f"--cache-dir={tmp_path / 'cache'}",
            "drain",
            "node-1",
            "--force",
            "--timeout=3s",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "disruption budget" in result.stderr
    assert pod_names(emu) == ["db-0"]
    assert emu.store.get("nodes", "node-1").get("spec", {}).get("unschedulable") is True
