"""The workload simulator as the ReplicaSet/StatefulSet controllers and the scheduler: replacement and placement.

Aspects: a deleted Deployment pod is replaced with no change to the Deployment; an evicted StatefulSet pod
comes back under its own name; a replacement never lands on a cordoned node, and no pod on a node that is not
Ready; with no schedulable node a pod stays Pending and the workload is not Ready, until a node can take it;
DaemonSet pods still go on cordoned nodes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import DAEMONSETS, DEPLOYMENTS, NODES, PODS, STATEFULSETS, Resource
from drd.operations import nodes
from drd.operations.workloads import wait_until_ready, workload_status
from drd.sandbox.kube.emulator import KubeEmulator
from drd.sandbox.workloads import WorkloadSimulator, WorkloadTimings
from tests.sandbox.velero.support import eventually

NS = "default"


@pytest.fixture
def kube() -> Iterator[KubeClient]:
    """Two Ready nodes, a running workload simulator, and drd's client."""
    with KubeEmulator() as emulator:
        kube = KubeClient.from_api_url(emulator.url, cluster="c1")
        for index in range(2):
            kube.create(NODES, {"metadata": {"name": f"node-{index}"}})
            set_ready(kube, f"node-{index}", ready=True)
        simulator = WorkloadSimulator(kube, timings=WorkloadTimings(0.05, 0.05, 0.05)).start()
        yield kube
        simulator.stop()
        kube.close()


def set_ready(kube: KubeClient, node: str, *, ready: bool) -> None:
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    kube.merge_patch(NODES, node, {"status": {"conditions": [condition]}}, subresource="status")


def spec(app: str, replicas: int) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "app", "image": "app:1"}]}}
    return {"replicas": replicas, "selector": {"matchLabels": {"app": app}}, "template": template}


def create(kube: KubeClient, resource: Resource, name: str, replicas: int = 2) -> None:
    kube.create(resource, {"metadata": {"name": name}, "spec": spec(name, replicas)}, namespace=NS)


def pods(kube: KubeClient, app: str) -> list[dict[str, Any]]:
    return kube.list_objects(PODS, namespace=NS, label_selector=f"app={app}").items


def ready_pods(kube: KubeClient, app: str, count: int) -> list[dict[str, Any]] | None:
    """The app's pods once exactly ``count`` exist and all are Ready, else None."""
    found = pods(kube, app)
    ready = [p for p in found if {"type": "Ready", "status": "True"}.items() <= _ready_condition(p).items()]
    return found if len(found) == count and len(ready) == count else None


def _ready_condition(pod: dict[str, Any]) -> dict[str, Any]:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Ready"), {})


def observed(kube: KubeClient, resource: Resource, name: str) -> dict[str, Any] | None:
    obj = kube.get(resource, name, namespace=NS)
    status = obj.get("status") or {}
    return obj if status.get("observedGeneration") == obj["metadata"]["generation"] else None


def test_a_deleted_deployment_pod_is_replaced_without_a_workload_change(kube: KubeClient) -> None:
    """Deleting a pod brings a new one, Ready, while the Deployment's generation stays the same."""
    create(kube, DEPLOYMENTS, "web")
    wait_until_ready(kube, NS, timeout_seconds=10)
    generation = kube.get(DEPLOYMENTS, "web", namespace=NS)["metadata"]["generation"]
    victim = pods(kube, "web")[0]["metadata"]["name"]
    kube.delete(PODS, victim, namespace=NS)
    replaced = eventually(lambda: ready_pods(kube, "web", 2))
    assert victim not in {p["metadata"]["name"] for p in replaced}
    assert kube.get(DEPLOYMENTS, "web", namespace=NS)["metadata"]["generation"] == generation


def test_an_evicted_statefulset_pod_comes_back_under_its_name(kube: KubeClient) -> None:
    """An evicted ordinal is recreated with the same name (a new uid) and turns Ready."""
    create(kube, STATEFULSETS, "db")
    wait_until_ready(kube, NS, timeout_seconds=10)
    old_uid = kube.get(PODS, "db-0", namespace=NS)["metadata"]["uid"]
    kube.evict(NS, "db-0")

    def replaced() -> list[dict[str, Any]] | None:
        found = ready_pods(kube, "db", 2)
        return found if found and old_uid not in {p["metadata"]["uid"] for p in found} else None

    back = eventually(replaced)
    assert sorted(p["metadata"]["name"] for p in back) == ["db-0", "db-1"]


def test_a_replacement_never_lands_on_a_cordoned_node(kube: KubeClient) -> None:
    """With node-0 cordoned, the pod deleted from it comes back on node-1."""
    create(kube, DEPLOYMENTS, "web")
    wait_until_ready(kube, NS, timeout_seconds=10)
    nodes.cordon(kube, "node-0")
    [victim] = [p for p in pods(kube, "web") if p["spec"]["nodeName"] == "node-0"]
    kube.delete(PODS, victim["metadata"]["name"], namespace=NS)
    replaced = eventually(lambda: ready_pods(kube, "web", 2))
    assert {p["spec"]["nodeName"] for p in replaced} == {"node-1"}


def test_no_pod_is_placed_on_a_node_that_is_not_ready(kube: KubeClient) -> None:
    """A new Deployment's pods all go to the one Ready node."""
    set_ready(kube, "node-0", ready=False)
    create(kube, DEPLOYMENTS, "web", replicas=3)
    placed = eventually(lambda: ready_pods(kube, "web", 3))
    assert {p["spec"]["nodeName"] for p in placed} == {"node-1"}


def test_without_a_schedulable_node_pods_stay_pending_and_the_workload_not_ready(kube: KubeClient) -> None:
    """Both nodes cordoned: the pods are Pending (Unschedulable), unbound, and the Deployment is not Ready."""
    nodes.cordon(kube, "node-0")
    nodes.cordon(kube, "node-1")
    create(kube, DEPLOYMENTS, "web")
    deployment = eventually(lambda: observed(kube, DEPLOYMENTS, "web"))
    assert workload_status({**deployment, "kind": "Deployment"}).reason == "0/2 ready"
    found = pods(kube, "web")
    assert len(found) == 2
    for pod in found:
        assert "nodeName" not in pod["spec"]
        assert pod["status"]["phase"] == "Pending"
        assert {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}.items() <= next(
            c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"
        ).items()


def test_pending_pods_are_scheduled_once_a_node_is_uncordoned(kube: KubeClient) -> None:
    """Uncordoning a node binds the Pending pods to it and the Deployment becomes Ready."""
    nodes.cordon(kube, "node-0")
    nodes.cordon(kube, "node-1")
    create(kube, DEPLOYMENTS, "web")
    eventually(lambda: observed(kube, DEPLOYMENTS, "web"))
    nodes.uncordon(kube, "node-1")
    placed = eventually(lambda: ready_pods(kube, "web", 2))
    assert {p["spec"]["nodeName"] for p in placed} == {"node-1"}
    wait_until_ready(kube, NS, timeout_seconds=10)


def test_daemonset_pods_still_run_on_cordoned_nodes(kube: KubeClient) -> None:
    """A DaemonSet's controller tolerates cordons: one pod per node, cordoned or not."""
    nodes.cordon(kube, "node-0")
    kube.create(DAEMONSETS, {"metadata": {"name": "agent"}, "spec": spec("agent", 0)}, namespace=NS)
    placed = eventually(lambda: ready_pods(kube, "agent", 2))
    assert sorted(p["spec"]["nodeName"] for p in placed) == ["node-0", "node-1"]
