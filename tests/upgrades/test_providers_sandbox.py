"""The ``sandbox`` upgrade provider over the sandbox's emulated clusters.

Aspects: the control plane moves one minor (``/version`` reports it) and a hop
skipping a minor, or a downgrade, is refused; node groups are listed with
their kubelet versions; a group rolls one node at a time (never two cordoned
at once), ending on the new kubelet version with the workload Ready; a group
newer than the control plane is refused; a budget allowing no disruption
halts the roll with DrainBlocked naming it, the node left on the old version.
"""

from __future__ import annotations

from typing import Any

import pytest

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import DEPLOYMENTS, NODES
from drd.operations.nodes import PDBS, DrainBlocked
from drd.operations.workloads import wait_until_ready
from drd.sandbox.environment import Sandbox
from drd.sandbox.kube.events import StoreEvent
from drd.sandbox.upgrade_provider import SandboxProvider
from drd.upgrades.providers import NodeGroup, Provider, ProviderError

CLUSTER = "canary-east"
NS = "default"


@pytest.fixture
def provider(sandbox: Sandbox) -> SandboxProvider:
    return SandboxProvider(sandbox, drain_timeout_seconds=10, ready_timeout_seconds=10, retry_seconds=0.05)


@pytest.fixture
def kube(sandbox: Sandbox) -> KubeClient:
    return sandbox.cluster(CLUSTER).kube


def deploy_with_budget(kube: KubeClient, *, replicas: int, **budget: Any) -> None:
    """Deployment ``web`` (one pod per node in turn), Ready, and PDB ``web`` over it."""
    labels = {"app": "web"}
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "web:1"}]}},
    }
    kube.create(DEPLOYMENTS, {"metadata": {"name": "web"}, "spec": spec}, namespace=NS)
    wait_until_ready(kube, NS, timeout_seconds=10)
    pdb = {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": labels}, **budget}}
    kube.create(PDBS, pdb, namespace=NS)


def kubelets(kube: KubeClient) -> set[str]:
    return {n["status"]["nodeInfo"]["kubeletVersion"] for n in kube.list_objects(NODES).items}


def test_the_sandbox_provider_is_a_provider(provider: SandboxProvider) -> None:
    as_protocol: Provider = provider
    assert as_protocol.control_plane_version(CLUSTER) == "v1.31.4"


def test_the_control_plane_moves_one_minor(provider: SandboxProvider, kube: KubeClient) -> None:
    operation = provider.upgrade_control_plane(CLUSTER, "v1.32.0")
    provider.wait(operation)
    assert provider.control_plane_version(CLUSTER) == "v1.32.0"
    assert kube.version()["minor"] == "32"
    assert provider.control_plane_version("primary-east") == "v1.31.4"


@pytest.mark.parametrize(("target", "why"), [("v1.33.0", "upgrade to 1.32 first"), ("v1.30.9", "downgraded")])
def test_skipping_a_minor_or_going_down_is_refused(provider: SandboxProvider, target: str, why: str) -> None:
    with pytest.raises(ProviderError, match=why):
        provider.upgrade_control_plane(CLUSTER, target)
    assert provider.control_plane_version(CLUSTER) == "v1.31.4"


def test_node_groups_list_nodes_and_kubelet_versions(provider: SandboxProvider) -> None:
    [group] = provider.node_groups(CLUSTER)
    assert group == NodeGroup("default", tuple(f"{CLUSTER}-node-{i}" for i in range(3)), ("v1.31.4",))


def test_a_node_group_rolls_one_node_at_a_time(sandbox: Sandbox, provider: SandboxProvider, kube: KubeClient) -> None:
    deploy_with_budget(kube, replicas=3, maxUnavailable=1)
    provider.wait(provider.upgrade_control_plane(CLUSTER, "v1.32.0"))
    cordoned: set[str] = set()
    most = 0

    def track(event: StoreEvent) -> None:
        nonlocal most
        name = event.object["metadata"]["name"]
        if (event.object.get("spec") or {}).get("unschedulable"):
            cordoned.add(name)
        else:
            cordoned.discard(name)
        most = max(most, len(cordoned))

    subscription = sandbox.cluster(CLUSTER).emulator.store.subscribe(track, resource="nodes")
    try:
        provider.wait(provider.upgrade_node_group(CLUSTER, "default", "v1.32.0"))
    finally:
        subscription.close()
    assert most == 1
    assert kubelets(kube) == {"v1.32.0"}
    assert not any(n.get("spec", {}).get("unschedulable") for n in kube.list_objects(NODES).items)
    assert kube.get(DEPLOYMENTS, "web", namespace=NS)["status"]["readyReplicas"] == 3


def test_a_node_group_newer_than_the_control_plane_is_refused(provider: SandboxProvider, kube: KubeClient) -> None:
    with pytest.raises(ProviderError, match="newer than the control plane"):
        provider.upgrade_node_group(CLUSTER, "default", "v1.32.0")
    assert kubelets(kube) == {"v1.31.4"}


def test_a_blocking_budget_halts_the_roll_naming_it(sandbox: Sandbox, kube: KubeClient) -> None:
    deploy_with_budget(kube, replicas=3, minAvailable=3)
    provider = SandboxProvider(sandbox, drain_timeout_seconds=0.5, ready_timeout_seconds=10, retry_seconds=0.1)
    provider.wait(provider.upgrade_control_plane(CLUSTER, "v1.32.0"))
    with pytest.raises(DrainBlocked, match=f"PodDisruptionBudget/{NS}/web") as blocked:
        provider.upgrade_node_group(CLUSTER, "default", "v1.32.0")
    assert blocked.value.node == f"{CLUSTER}-node-0"
    assert kubelets(kube) == {"v1.31.4"}
