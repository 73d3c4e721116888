"""Cordon, uncordon and drain against an emulated cluster with the workload simulator.

Aspects: cordon/uncordon flip ``spec.unschedulable``; a drain whose budget has
room evicts the node's pods and leaves DaemonSet and mirror pods; a budget with
``minAvailable`` equal to the replicas blocks until the deadline and
DrainBlocked (permanent) names the budget and the pods left; refused evictions
are retried until the budget makes room; ``force=True`` deletes what the
budget still holds after the deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import DAEMONSETS, DEPLOYMENTS, NODES, PODS
from drd.errors import PermanentError
from drd.operations import nodes
from drd.operations.nodes import PDBS, DrainBlocked
from drd.operations.workloads import wait_until_ready
from drd.sandbox.kube.emulator import KubeEmulator
from drd.sandbox.workloads import WorkloadSimulator, WorkloadTimings

NS = "default"


@pytest.fixture
def kube() -> Iterator[KubeClient]:
    """Two Ready nodes, a running workload simulator, and drd's client."""
    with KubeEmulator() as emulator:
        kube = KubeClient.from_api_url(emulator.url, cluster="c1")
        for index in range(2):
            kube.create(NODES, {"metadata": {"name": f"node-{index}"}})
            ready = {"conditions": [{"type": "Ready", "status": "True"}]}
            kube.merge_patch(NODES, f"node-{index}", {"status": ready}, subresource="status")
        simulator = WorkloadSimulator(kube, timings=WorkloadTimings(0.05, 0.05, 0.05)).start()
        yield kube
        simulator.stop()
        kube.close()


def template(app: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}


def deploy(kube: KubeClient, name: str = "web", *, replicas: int = 2) -> None:
    """A Deployment of ``replicas`` pods, one per node in turn, and wait until Ready."""
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template(name)}
    kube.create(DEPLOYMENTS, {"metadata": {"name": name}, "spec": spec}, namespace=NS)
    wait_until_ready(kube, NS, timeout_seconds=10)


def budget(kube: KubeClient, name: str = "web", **spec: Any) -> None:
    body = {"metadata": {"name": name}, "spec": {"selector": {"matchLabels": {"app": name}}, **spec}}
    kube.create(PDBS, body, namespace=NS)


def pods_on(kube: KubeClient, node: str) -> list[str]:
    return [p["metadata"]["name"] for p in kube.list_objects(PODS, field_selector=f"spec.nodeName={node}").items]


def test_cordon_and_uncordon_flip_unschedulable(kube: KubeClient) -> None:
    nodes.cordon(kube, "node-0")
    assert kube.get(NODES, "node-0")["spec"]["unschedulable"] is True
    nodes.uncordon(kube, "node-0")
    assert "unschedulable" not in kube.get(NODES, "node-0").get("spec", {})


def test_a_budget_with_room_lets_the_drain_finish(kube: KubeClient) -> None:
    deploy(kube)
    budget(kube, maxUnavailable=1)
    [pod] = pods_on(kube, "node-0")
    result = nodes.drain(kube, "node-0", timeout_seconds=5, retry_seconds=0.1)
    assert result.evicted == (f"{NS}/{pod}",)
    assert (result.forced, result.blocked_by) == ((), ())
    assert pods_on(kube, "node-0") == []
    assert kube.get(NODES, "node-0")["spec"]["unschedulable"] is True


def test_daemonset_and_mirror_pods_stay(kube: KubeClient) -> None:
    spec = {"selector": {"matchLabels": {"app": "agent"}}, "template": template("agent")}
    kube.create(DAEMONSETS, {"metadata": {"name": "agent"}, "spec": spec}, namespace=NS)
    mirror = {
        "metadata": {"name": "etcd-node-0", "annotations": {nodes.MIRROR_ANNOTATION: "abc"}},
        "spec": {"nodeName": "node-0", "containers": [{"name": "etcd", "image": "etcd:3"}]},
    }
    kube.create(PODS, mirror, namespace=NS)
    wait_until_ready(kube, NS, timeout_seconds=10)
    before = sorted(pods_on(kube, "node-0"))
    result = nodes.drain(kube, "node-0", timeout_seconds=5)
    assert result.evicted == ()
    assert sorted(r.split("/")[1] for r in result.skipped) == before
    assert sorted(pods_on(kube, "node-0")) == before


def test_a_budget_at_the_replica_count_blocks_naming_it(kube: KubeClient) -> None:
    deploy(kube)
    budget(kube, minAvailable=2)
    [pod] = pods_on(kube, "node-0")
    with pytest.raises(DrainBlocked) as blocked:
        nodes.drain(kube, "node-0", timeout_seconds=0.5, retry_seconds=0.1)
    assert isinstance(blocked.value, PermanentError)
    assert blocked.value.budgets == (f"PodDisruptionBudget/{NS}/web",)
    assert blocked.value.pods == (f"{NS}/{pod}",)
    assert f"PodDisruptionBudget/{NS}/web" in str(blocked.value)
    assert f"{NS}/{pod}" in str(blocked.value)
    assert pods_on(kube, "node-0") == [pod]


def test_refused_evictions_are_retried_until_the_budget_makes_room(kube: KubeClient) -> None:
    deploy(kube)
    budget(kube, minAvailable=2)

    def relax() -> None:
        time.sleep(0.3)
        kube.merge_patch(PDBS, "web", {"spec": {"minAvailable": 1}}, namespace=NS)

    thread = threading.Thread(target=relax)
    thread.start()
    result = nodes.drain(kube, "node-0", timeout_seconds=10, retry_seconds=0.1)
    thread.join()
    assert len(result.evicted) == 1
    assert pods_on(kube, "node-0") == []


def test_force_deletes_what_the_budget_still_holds_after_the_deadline(kube: KubeClient) -> None:
    deploy(kube)
    budget(kube, minAvailable=2)
    [pod] = pods_on(kube, "node-0")
    result = nodes.drain(kube, "node-0", timeout_seconds=0.3, retry_seconds=0.1, force=True)
    assert (result.evicted, result.forced) == ((), (f"{NS}/{pod}",))
    assert result.blocked_by == (f"PodDisruptionBudget/{NS}/web",)
    assert pods_on(kube, "node-0") == []
