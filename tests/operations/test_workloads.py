"""Workload readiness, waiting, scaling and CronJob suspension against the sandbox's WorkloadSimulator.

Aspects: readiness read from status fields like ``kubectl rollout status``
(observed generation, updated and ready replicas, DaemonSet counts, zero
replicas); waiting until a namespace's workloads are Ready; a never-ready
workload timing out with its name; scaling one or all through the scale
subresource; suspending and resuming CronJobs.
"""

from __future__ import annotations

from typing import Any

import pytest

from drd.clients.kube_resources import CRONJOBS, DAEMONSETS, DEPLOYMENTS, NAMESPACES, STATEFULSETS
from drd.errors import PermanentError
from drd.operations import workloads
from drd.operations.workloads import WorkloadStatus
from drd.sandbox.workloads import NEVER_READY_LABEL

NS = "web"


def a_workload(kind: str, name: str, *, replicas: int = 1, never_ready: bool = False) -> dict[str, Any]:
    labels = {"app": name} | ({NEVER_READY_LABEL: "true"} if never_ready else {})
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "web"}]}},
    }
    if kind != "DaemonSet":
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "labels": labels}, "spec": spec}


def deploy(kube, *manifests: dict[str, Any]) -> None:
    if kube.find(NAMESPACES, NS) is None:
        kube.create(NAMESPACES, {"metadata": {"name": NS}})
    resources = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS, "DaemonSet": DAEMONSETS}
    for manifest in manifests:
        kube.create(resources[manifest["kind"]], manifest, namespace=NS)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            {"kind": "Deployment", "metadata": {"name": "d", "generation": 2}, "spec": {"replicas": 2},
             "status": {"observedGeneration": 2, "updatedReplicas": 2, "readyReplicas": 2}},
            WorkloadStatus("Deployment", "d", 2, 2, True),
            id="ready",
        ),
        pytest.param(
            {"kind": "Deployment", "metadata": {"name": "d", "generation": 3}, "spec": {"replicas": 2},
             "status": {"observedGeneration": 2, "updatedReplicas": 2, "readyReplicas": 2}},
            WorkloadStatus("Deployment", "d", 2, 2, False, reason="generation 3 not observed yet"),
            id="new spec not observed",
        ),
        pytest.param(
            {"kind": "StatefulSet", "metadata": {"name": "s", "generation": 1}, "spec": {"replicas": 3},
             "status": {"observedGeneration": 1, "updatedReplicas": 3, "readyReplicas": 1}},
            WorkloadStatus("StatefulSet", "s", 3, 1, False, reason="1/3 ready"),
            id="partly ready",
        ),
        pytest.param(
            {"kind": "Deployment", "metadata": {"name": "d", "generation": 4}, "spec": {"replicas": 2},
             "status": {"observedGeneration": 4, "updatedReplicas": 1, "readyReplicas": 2}},
            WorkloadStatus("Deployment", "d", 2, 2, False, reason="1/2 updated"),
            id="rolling out",
        ),
        pytest.param(
            {"kind": "Deployment", "metadata": {"name": "d", "generation": 2}, "spec": {"replicas": 0},
             "status": {"observedGeneration": 2}},
            WorkloadStatus("Deployment", "d", 0, 0, True),
            id="scaled to zero",
        ),
        pytest.param(
            {"kind": "DaemonSet", "metadata": {"name": "ds", "generation": 1},
             "status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3,
                        "numberReady": 2}},
            WorkloadStatus("DaemonSet", "ds", 3, 2, False, reason="2/3 ready"),
            id="daemonset",
        ),
    ],
)  # fmt: skip
def test_readiness_is_read_from_status_like_rollout_status(obj, expected):
    """workload_status compares observed generation, updated and ready counts with what is desired."""
    assert workloads.workload_status(obj) == expected


def test_an_object_that_is_not_a_workload_is_refused():
    """workload_status of a ConfigMap is a PermanentError naming the accepted kinds."""
    with pytest.raises(PermanentError, match="expected one of Deployment, StatefulSet, DaemonSet"):
        workloads.workload_status({"kind": "ConfigMap", "metadata": {"name": "c"}})


def test_waiting_returns_once_every_workload_is_ready(primary):
    """A Deployment, a StatefulSet and a DaemonSet made Ready by the simulator are returned Ready, by kind."""
    deploy(
        primary,
        a_workload("Deployment", "front", replicas=2),
        a_workload("StatefulSet", "db"),
        a_workload("DaemonSet", "agent"),
    )
    ready = workloads.wait_until_ready(primary, NS, timeout_seconds=10)
    assert [(w.kind, w.name, w.is_ready) for w in ready] == [
        ("Deployment", "front", True),
        ("StatefulSet", "db", True),
        ("DaemonSet", "agent", True),
    ]
    assert ready[0].ready == 2
    assert ready[2].desired == 3  # one pod per node of the sandbox cluster


def test_a_never_ready_workload_times_out_with_its_name(primary):
    """WorkloadsNotReady lists the workload that stayed unready (and why), not the ones that became Ready."""
    deploy(primary, a_workload("Deployment", "front"), a_workload("Deployment", "stuck", never_ready=True))
    with pytest.raises(workloads.WorkloadsNotReady) as raised:
        workloads.wait_until_ready(primary, NS, timeout_seconds=0.5)
    assert [w.name for w in raised.value.not_ready] == ["stuck"]
    assert "workloads in namespace web to be Ready; last seen: not Ready: Deployment/stuck (0/1 ready)" in str(
        raised.value
    )


def test_a_namespace_without_workloads_is_trivially_ready(primary):
    """No workloads at all: wait_until_ready returns an empty list at once."""
    primary.create(NAMESPACES, {"metadata": {"name": NS}})
    assert workloads.wait_until_ready(primary, NS, timeout_seconds=5) == []


def test_listing_workloads_of_the_sample_shop(primary):
    """workloads() reports the seeded shop's Deployments and StatefulSet, by kind then name."""
    workloads.wait_until_ready(primary, "shop", timeout_seconds=10)
    found = workloads.workloads(primary, "shop")
    assert [(w.kind, w.name) for w in found] == [
        ("Deployment", "checkout"),
        ("Deployment", "payment-webhook-consumer"),
        ("Deployment", "storefront"),
        ("StatefulSet", "postgres"),
    ]
    assert all(w.namespace == "shop" for w in found)


def test_scaling_returns_the_previous_count_and_the_workload_follows(primary):
    """scale() sets replicas through the scale subresource and returns the old count; a no-op writes nothing."""
    deploy(primary, a_workload("Deployment", "front", replicas=2))
    assert workloads.scale(primary, "Deployment", "front", namespace=NS, replicas=0) == 2
    version = primary.get(DEPLOYMENTS, "front", namespace=NS)["metadata"]["resourceVersion"]
    assert workloads.scale(primary, "Deployment", "front", namespace=NS, replicas=0) == 0
    assert primary.get(DEPLOYMENTS, "front", namespace=NS)["metadata"]["resourceVersion"] == version
    (front,) = workloads.wait_until_ready(primary, NS, kinds=["Deployment"], timeout_seconds=10)
    assert (front.desired, front.ready, front.is_ready) == (0, 0, True)


def test_scaling_all_of_a_kind_returns_each_previous_count(primary):
    """scale_all() scales every StatefulSet in the namespace and maps each name to its previous replicas."""
    deploy(primary, a_workload("StatefulSet", "a", replicas=1), a_workload("StatefulSet", "b", replicas=3))
    assert workloads.scale_all(primary, "StatefulSet", namespace=NS, replicas=0) == {"a": 1, "b": 3}
    assert primary.get(STATEFULSETS, "b", namespace=NS)["spec"]["replicas"] == 0


def test_a_daemonset_cannot_be_scaled(bare):
    """Scaling a DaemonSet is refused with a PermanentError (it has no replicas), before any request."""
    with pytest.raises(PermanentError, match="DaemonSet cannot be scaled"):
        workloads.scale(bare, "DaemonSet", "agent", namespace=NS, replicas=0)


def test_cronjobs_are_suspended_once_and_resumed(primary):
    """suspend_cronjobs returns the CronJobs it suspended (none the second time); resume_cronjobs undoes it."""
    assert workloads.suspend_cronjobs(primary, "shop") == ["newsletter"]
    assert primary.get(CRONJOBS, "newsletter", namespace="shop")["spec"]["suspend"] is True
    assert workloads.suspend_cronjobs(primary, "shop") == []
    assert workloads.resume_cronjobs(primary, "shop", ["newsletter", "gone"]) == ["newsletter"]
    assert primary.get(CRONJOBS, "newsletter", namespace="shop")["spec"]["suspend"] is False
