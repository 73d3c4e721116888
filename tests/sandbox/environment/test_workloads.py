"""Workload simulation: readiness the way drd will ask for it, claims that bind, jobs, nodes, adoption."""

from __future__ import annotations

import pytest

from drd.clients.errors import KubeUnavailable
from drd.clients.kube_resources import DEPLOYMENTS, JOBS, NODES, PODS, PVCS, STATEFULSETS
from tests.sandbox.velero.support import eventually


def ready(kube, resource, name, namespace):
    obj = kube.get(resource, name, namespace=namespace)
    status = obj.get("status") or {}
    wanted = obj["spec"].get("replicas", 1)
    converged = status.get("observedGeneration") == obj["metadata"]["generation"]
    return (
        obj
        if converged and status.get("readyReplicas") == wanted and status.get("availableReplicas") == wanted
        else None
    )


def test_seeded_deployments_become_ready_with_rollout_status_fields(primary):
    """A Deployment reports observedGeneration, readyReplicas, availableReplicas and an Available condition."""
    deployment = eventually(lambda: ready(primary, DEPLOYMENTS, "storefront", "shop"))
    assert deployment["status"]["updatedReplicas"] == 2
    assert {"type": "Available", "status": "True"}.items() <= deployment["status"]["conditions"][0].items()


def test_pods_are_running_and_ready_with_owner_references(primary):
    """Each replica is a Running, Ready pod owned by its workload and scheduled on a node."""
    eventually(lambda: ready(primary, DEPLOYMENTS, "storefront", "shop"))
    pods = primary.list_objects(PODS, namespace="shop", label_selector="app.kubernetes.io/name=storefront").items
    assert len(pods) == 2
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        assert {"type": "Ready", "status": "True"}.items() <= next(
            c for c in pod["status"]["conditions"] if c["type"] == "Ready"
        ).items()
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
        assert pod["spec"]["nodeName"].startswith("primary-east-node-")


def test_scaling_changes_the_pod_count_and_status(primary):
    """Scaling a Deployment to zero removes its pods and reports zero ready replicas at the new generation."""
    eventually(lambda: ready(primary, DEPLOYMENTS, "checkout", "shop"))
    primary.merge_patch(DEPLOYMENTS, "checkout", {"spec": {"replicas": 0}}, namespace="shop")
    eventually(lambda: ready(primary, DEPLOYMENTS, "checkout", "shop"))
    pods = primary.list_objects(PODS, namespace="shop", label_selector="app.kubernetes.io/name=checkout").items
    assert [p for p in pods if not p["metadata"].get("deletionTimestamp")] == []


def test_statefulset_claims_are_created_and_bound(primary):
    """A StatefulSet's volumeClaimTemplates become PVCs that bind to new PersistentVolumes."""
    eventually(lambda: ready(primary, STATEFULSETS, "postgres", "shop"))
    claim = eventually(
        lambda: (
            (c := primary.get(PVCS, "data-postgres-0", namespace="shop")).get("status", {}).get("phase") == "Bound"
            and c
        )
    )
    assert claim["spec"]["volumeName"].startswith("pvc-")


def test_never_ready_label_keeps_a_workload_unready(primary):
    """The sandbox.drd.dev/never-ready fault label leaves readyReplicas at zero once observed."""
    primary.merge_patch(
        DEPLOYMENTS,
        "storefront",
        {"metadata": {"labels": {"sandbox.drd.dev/never-ready": "true"}}, "spec": {"replicas": 3}},
        namespace="shop",
    )

    def observed_unready():
        obj = primary.get(DEPLOYMENTS, "storefront", namespace="shop")
        status = obj.get("status") or {}
        return status.get("observedGeneration") == obj["metadata"]["generation"] and status.get("readyReplicas") == 0

    eventually(observed_unready)


def test_jobs_succeed_or_fail_as_annotated(primary):
    """Jobs complete with a Complete condition, or fail when annotated sandbox.drd.dev/fail."""
    template = {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}
    primary.create(JOBS, {"metadata": {"name": "ok"}, "spec": template}, namespace="shop")
    primary.create(
        JOBS,
        {"metadata": {"name": "bad", "annotations": {"sandbox.drd.dev/fail": "true"}}, "spec": template},
        namespace="shop",
    )
    good = eventually(lambda: (j := primary.get(JOBS, "ok", namespace="shop")).get("status", {}).get("succeeded") and j)
    bad = eventually(lambda: (j := primary.get(JOBS, "bad", namespace="shop")).get("status", {}).get("failed") and j)
    assert good["status"]["conditions"][0]["type"] == "Complete"
    assert bad["status"]["conditions"][0]["type"] == "Failed"


def test_nodes_report_their_kubelet_version(primary):
    """Nodes carry status.nodeInfo.kubeletVersion (what upgrade pre-flight reads) and are Ready."""
    nodes = primary.list_objects(NODES).items
    assert len(nodes) == 3
    assert {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes} == {"v1.31.4"}


def test_api_faults_hit_drd_but_spare_the_in_cluster_controllers(sandbox, primary):
    """Injected API errors fail drd's requests while the simulated controllers keep converging the cluster."""
    emulator = sandbox.cluster("primary-east").emulator
    emulator.set_faults(error_rate=1.0, status=500)
    try:
        with pytest.raises(KubeUnavailable):
            primary.get(DEPLOYMENTS, "storefront", namespace="shop")
        emulator.store.patch("deployments.apps", "storefront", {"spec": {"replicas": 3}}, namespace="shop")

        def scaled_while_faulted():
            status = emulator.store.get("deployments.apps", "storefront", namespace="shop").get("status") or {}
            return status.get("readyReplicas") == 3

        eventually(scaled_while_faulted)
        assert emulator.faults.injected >= 1
    finally:
        emulator.clear_faults()
